"""wordfreq: word frequency statistics for plain text."""

from wordfreq.core import tokenize, top_words, word_counts

__all__ = ["tokenize", "top_words", "word_counts"]
