"""The sentiment corpus and the text helpers: offline, deterministic, encoded consistently."""
import numpy as np
import pytest

from bpkit.data import TextData, Vocabulary, load_sentiment, pad_sequences, tokenize
from bpkit.data.text import read_sentiment


def test_corpus_is_balanced_unique_and_order_sensitive():
    texts, labels, groups = read_sentiment()
    assert len(texts) == len(set(texts)) >= 300
    assert set(labels) == {0, 1} and abs(labels.mean() - 0.5) < 0.05
    assert set(groups) == {"plain", "negation", "and", "contrast"}
    # every contrast sentence has a twin with the same words and the opposite label
    bags = {}
    for text, label, group in zip(texts, labels, groups):
        if group == "contrast":
            bags.setdefault(tuple(sorted(tokenize(text))), set()).add(int(label))
    assert all(v == {0, 1} for v in bags.values())


def test_load_sentiment_split_is_fixed_and_vocabulary_from_train_only():
    a, b = load_sentiment(), load_sentiment()
    np.testing.assert_array_equal(a.X_train, b.X_train)
    assert a.texts_test == b.texts_test and not set(a.texts_train) & set(a.texts_test)
    assert isinstance(a, TextData) and a.X_train.dtype == np.int64
    assert a.X_train.shape[1] == a.X_test.shape[1] == max(len(tokenize(t)) for t in a.texts_train + a.texts_test)
    train_words = {w for t in a.texts_train for w in tokenize(t)}
    assert set(a.vocab.itos[2:]) == train_words
    assert a.vocab.decode(a.X_train[0]) == tokenize(a.texts_train[0])      # left padding, decoded back
    assert abs(np.mean(a.y_test) - 0.5) < 0.05


def test_tokenize_vocabulary_and_padding():
    assert tokenize("Not BAD, really!") == ["not", "bad", "really"]
    vocab = Vocabulary([["b", "a", "b"], ["c"]])
    assert vocab.itos == ["<pad>", "<unk>", "b", "a", "c"] and len(vocab) == 5
    assert vocab.encode("b zzz") == [2, 1]
    np.testing.assert_array_equal(pad_sequences([[2, 3], [4]], 3), [[0, 2, 3], [0, 0, 4]])
    np.testing.assert_array_equal(pad_sequences([[2, 3, 4]], 2, side="right"), [[2, 3]])
    with pytest.raises(ValueError, match="side: expected 'left' or 'right', got 'up'"):
        pad_sequences([[1]], side="up")
    with pytest.raises(TypeError, match="text: expected a str, got int"):
        tokenize(3)


def test_breast_cancer_loads_offline_with_1_for_malignant():
    from bpkit.data import load_breast_cancer

    X, y = load_breast_cancer()
    assert X.shape == (569, 30) and X.dtype == np.float64 and y.dtype == np.int64
    assert int(y.sum()) == 212 and int((y == 0).sum()) == 357
