"""Metrics on hand-worked examples, and the language-ID baselines on toy data."""

import numpy as np
import pytest

from rnnkit.models.baselines import CharBigramNaiveBayes, MajorityClassifier, char_bigrams
from rnnkit.train.task_metrics import (
    accuracy,
    boundary_f1,
    edit_distance,
    exact_match,
    sequence_error_rate,
    token_error_rate,
)


def test_accuracy():
    assert accuracy(["a", "b", "c", "d"], ["a", "b", "x", "d"]) == 0.75
    with pytest.raises(ValueError):
        accuracy(["a"], ["a", "b"])


@pytest.mark.parametrize(
    "a,b,d",
    [
        ("kitten", "sitting", 3),  # k->s, e->i, +g
        ("", "abc", 3),
        ("abc", "", 3),
        ("abc", "abc", 0),
        ("flaw", "lawn", 2),  # -f, +n
        (["K", "AE", "T"], ["K", "AA", "T", "S"], 2),
    ],
)
def test_edit_distance(a, b, d):
    assert edit_distance(a, b) == d
    assert edit_distance(b, a) == d


def test_token_and_sequence_error_rates():
    refs = [["K", "AE", "T"], ["D", "AO", "G"]]
    hyps = [["K", "AE", "T"], ["D", "AA", "G", "Z"]]
    assert token_error_rate(hyps, refs) == pytest.approx(2 / 6)  # PER: 1 sub + 1 ins over 6
    assert sequence_error_rate(hyps, refs) == 0.5  # G2P's WER: 1 of 2 words wrong
    assert exact_match(hyps, refs) == 0.5
    assert token_error_rate(["abd"], ["abc"]) == pytest.approx(1 / 3)  # CER over characters


def test_boundary_f1_hand_worked():
    # gold "to be|or" boundaries after 1 ("to"), 3 ("be"); predicted after 1 and 4
    r = boundary_f1(["01001"], ["01010"])
    assert (r["tp"], r["fp"], r["fn"]) == (1, 1, 1)
    assert r["precision"] == 0.5 and r["recall"] == 0.5 and r["f1"] == 0.5
    r = boundary_f1(["0110", "000"], ["0100", "001"])  # micro: tp 1, fp 1, fn 1
    assert r["f1"] == pytest.approx(0.5)
    assert boundary_f1(["000"], ["000"])["f1"] == 1.0
    with pytest.raises(ValueError, match="sequence 0"):
        boundary_f1(["01"], ["010"])


def test_majority_baseline():
    m = MajorityClassifier().fit(["en", "fr", "fr", "de"])
    assert m.predict(["x", "y"]) == ["fr", "fr"]


def test_char_bigrams_include_word_boundaries():
    assert char_bigrams("ab") == ["^a", "ab", "b$"]


def test_naive_bayes_on_toy_languages():
    rng = np.random.default_rng(0)

    def words(alphabet, n):
        return ["".join(rng.choice(list(alphabet), size=rng.integers(2, 7))) for _ in range(n)]

    train = words("aeiou", 50) + words("xyzkq", 50)
    labels = ["vowel"] * 50 + ["cons"] * 50
    nb = CharBigramNaiveBayes().fit(train, labels)
    test = words("aeiou", 20) + words("xyzkq", 20)
    gold = ["vowel"] * 20 + ["cons"] * 20
    assert accuracy(nb.predict(test), gold) == 1.0
    p = nb.predict_proba(["aa"])
    assert p.shape == (1, 2) and np.isclose(p.sum(), 1.0)
    assert p[0, nb.classes.index("vowel")] > 0.9


def test_naive_bayes_probabilities_by_hand():
    # one training word per class; alpha 1; bigrams: A: ^a a$ ; B: ^b b$ ; G = 4 (+1 unseen)
    nb = CharBigramNaiveBayes(alpha=1.0).fit(["a", "b"], ["A", "B"])
    # P(^a | A) = (1 + 1) / (2 + 5) ; P(a$ | A) = 2/7 ; under B both are 1/7; equal priors
    lj = nb.log_joint(["a"])[0]
    assert lj[0] == pytest.approx(np.log(0.5) + 2 * np.log(2 / 7))
    assert lj[1] == pytest.approx(np.log(0.5) + 2 * np.log(1 / 7))
