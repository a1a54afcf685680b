"""Counting words. ``word_counts`` is the function everything else is built on."""

from __future__ import annotations

_PUNCTUATION = ".,;:!?\"'()[]{}"


def tokenize(text: str) -> list[str]:
    """Lower-cased words of ``text`` with surrounding punctuation removed."""
    words = []
    for raw in text.split():
        word = raw.strip(_PUNCTUATION).lower()
        if word:
            words.append(word)
    return words


def word_counts(words: list[str]) -> list[tuple[str, int]]:
    """(word, count) pairs in order of first appearance."""
    counts: list[list[object]] = []
    for word in words:
        for pair in counts:
            if pair[0] == word:
                pair[1] += 1  # type: ignore[operator]
                break
        else:
            counts.append([word, 1])
    return [(str(w), int(c)) for w, c in counts]  # type: ignore[call-overload]


def top_words(text: str, n: int = 10) -> list[tuple[str, int]]:
    """The ``n`` most frequent words, most frequent first, ties in alphabetical order."""
    pairs = word_counts(tokenize(text))
    pairs.sort(key=lambda p: (-p[1], p[0]))
    return pairs[:n]
