from wordfreq import tokenize, top_words, word_counts


def test_tokenize_strips_punctuation_and_case():
    assert tokenize("Hello, world! (Hello)") == ["hello", "world", "hello"]


def test_word_counts_keeps_first_appearance_order():
    assert word_counts(["b", "a", "b", "c", "a", "b"]) == [("b", 3), ("a", 2), ("c", 1)]


def test_top_words_breaks_ties_alphabetically():
    assert top_words("pear apple pear fig apple kiwi", n=3) == [
        ("apple", 2),
        ("pear", 2),
        ("fig", 1),
    ]


def test_empty_text():
    assert top_words("") == []
