"""Metrics on hand-worked examples, and the language-ID baselines on toy data."""

import numpy as np
import pytest

from rnnkit.models.baselines import CharBigramNaiveBayes, MajorityClassifier, char_bigrams
from rnnkit.train.task_metrics import (
    accuracy,
    boundary_f1,
    character_error_rate,
    classification_report,
    confusion_matrix,
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


def test_character_error_rate_over_joined_words():
    # "K AE T" -> "K AA T": one substitution over 6 characters; over phonemes it is 1 of 3
    assert character_error_rate(["K AA T"], ["K AE T"]) == pytest.approx(1 / 6)
    assert token_error_rate([["K", "AA", "T"]], [["K", "AE", "T"]]) == pytest.approx(1 / 3)


def test_confusion_matrix_counts_true_rows_predicted_columns():
    C = confusion_matrix([0, 0, 1, 2, 2], [0, 2, 1, 2, 0], 3)
    assert C.tolist() == [[1, 0, 1], [0, 1, 0], [1, 0, 1]] and C.sum() == 5
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        confusion_matrix([0, 3], [0, 1], 3)


# 10 examples of 3 classes, worked by hand (rows true, columns predicted):
#        a  b  c    support
#   a    3  1  0    4
#   b    1  1  0    2
#   c    1  0  3    4
#   predicted: 5  2  3
HAND_GOLD = [0, 0, 0, 1, 1, 2, 2, 2, 2, 0]
HAND_PRED = [0, 1, 0, 1, 0, 2, 2, 0, 2, 0]


def test_classification_report_by_hand():
    r = classification_report(HAND_GOLD, HAND_PRED, ["a", "b", "c"])
    assert r["labels"] == ["a", "b", "c"]
    assert r["confusion_matrix"] == [[3, 1, 0], [1, 1, 0], [1, 0, 3]]
    assert sum(map(sum, r["confusion_matrix"])) == 10
    assert r["accuracy"] == pytest.approx(7 / 10)
    a, b, c = (r["per_class"][k] for k in "abc")
    # precision = C[k,k] / column sum, recall = C[k,k] / row sum, f1 = 2PR / (P + R)
    assert (a["precision"], a["recall"], a["f1"], a["support"]) == pytest.approx((3 / 5, 3 / 4, 2 / 3, 4))
    assert (b["precision"], b["recall"], b["f1"], b["support"]) == pytest.approx((1 / 2, 1 / 2, 1 / 2, 2))
    assert (c["precision"], c["recall"], c["f1"], c["support"]) == pytest.approx((1, 3 / 4, 6 / 7, 4))
    macro, weighted = r["macro_avg"], r["weighted_avg"]
    assert macro["precision"] == pytest.approx((3 / 5 + 1 / 2 + 1) / 3)
    assert macro["recall"] == pytest.approx((3 / 4 + 1 / 2 + 3 / 4) / 3)
    assert macro["f1"] == pytest.approx((2 / 3 + 1 / 2 + 6 / 7) / 3)
    assert weighted["precision"] == pytest.approx(0.4 * 3 / 5 + 0.2 * 1 / 2 + 0.4 * 1)
    assert weighted["recall"] == pytest.approx(r["accuracy"])  # support-weighted recall is accuracy
    assert weighted["f1"] == pytest.approx(0.4 * 2 / 3 + 0.2 * 1 / 2 + 0.4 * 6 / 7)
    assert macro["support"] == weighted["support"] == 10


def test_classification_report_is_plain_python_numbers():
    r = classification_report(np.array(HAND_GOLD), np.array(HAND_PRED), ["a", "b", "c"])
    assert type(r["accuracy"]) is float and type(r["per_class"]["a"]["support"]) is int
    assert all(type(n) is int for row in r["confusion_matrix"] for n in row)
    assert type(r["macro_avg"]["f1"]) is float


def test_classification_report_zero_division_and_absent_classes():
    """scikit-learn's zero_division=0: a class never predicted has precision 0, a class that
    never occurs recall 0; a class neither true nor predicted (d) is left out."""
    r = classification_report([0, 0, 1], [0, 2, 2], ["a", "b", "c", "d"])
    assert r["labels"] == ["a", "b", "c"] and r["confusion_matrix"] == [[1, 0, 1], [0, 0, 1], [0, 0, 0]]
    assert r["per_class"]["a"] == pytest.approx({"precision": 1, "recall": 0.5, "f1": 2 / 3, "support": 2})
    assert r["per_class"]["b"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}
    assert r["per_class"]["c"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
    assert r["macro_avg"]["f1"] == pytest.approx(2 / 9)
    assert r["weighted_avg"]["f1"] == pytest.approx(2 / 3 * 2 / 3)
    with pytest.raises(ValueError, match="empty"):
        classification_report([], [], ["a"])


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
