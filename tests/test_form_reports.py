"""Issue 18, evaluation of the forms through the CLI: the per-class report of ``classify eval``
and ``tag eval`` (JSON and table), seq2seq's character error rate and its notes on unknown
words, ``predict``'s TSV output (input<TAB>prediction), and TSV header lines.

The runs are trained once per module, a few seconds each; every test reads them only.
"""

from __future__ import annotations

import json
import random

import pytest
from helpers import assert_one_line_error, rnnkit

from rnnkit.cli.report_table import MAX_CONFUSION, report_lines
from rnnkit.train.task_metrics import classification_report

SMALL = ["--hidden", "16", "--no-progress", "--seed", "3", "--lr", "0.03"]
ALPHABETS = {"A": "abcde", "B": "vwxyz", "C": "klmno"}
DIGITS = {"one": "1", "two": "2", "three": "3", "four": "4"}


def _ok(*args, input=None):
    p = rnnkit(*args, input=input)
    assert p.returncode == 0, p.stderr
    return p


def _write(path, header: str, lines: list[str]):
    path.write_text(header + "\n" + "\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Classify (3 classes), tag (0/1) and word-level seq2seq runs, each trained on a TSV that
    starts with a header line."""
    root = tmp_path_factory.mktemp("forms")
    rnd = random.Random(0)
    cls = []
    for _ in range(90):
        label = rnd.choice("ABC")
        cls.append("".join(rnd.choice(ALPHABETS[label]) for _ in range(rnd.randint(2, 6))) + "\t" + label)
    tags = []
    for _ in range(60):
        w = "".join(rnd.choice("abcd") for _ in range(rnd.randint(3, 8)))
        tags.append(w + "\t" + "".join("1" if c == "a" else "0" for c in w))
    pairs = []
    for _ in range(60):
        words = [rnd.choice(list(DIGITS)) for _ in range(rnd.randint(1, 3))]
        pairs.append(" ".join(words) + "\t" + " ".join(DIGITS[w] for w in words))
    files = {
        "classify": _write(root / "cls.tsv", "text\tlabel", cls),
        "tag": _write(root / "tag.tsv", "Text\tTags", tags),
        "seq2seq": _write(root / "s2s.tsv", "source\ttarget", pairs),
    }
    extra = {
        "classify": ["--max-steps", "60"],
        "tag": ["--max-steps", "40"],
        "seq2seq": ["--max-steps", "60"],
    }
    extra["seq2seq"] += ["--source-tokens", "words", "--target-tokens", "words"]
    out = {}
    for verb, data in files.items():
        p = _ok(verb, "train", data, "--out", root / verb, *SMALL, *extra[verb])
        out[verb] = (root / verb, data, p.stderr)
    return root, out


# ---------------------------------------------------------------------------- headers
def test_a_header_line_is_skipped_in_training_and_eval(runs):
    _, out = runs
    run, data, train_err = out["classify"]
    assert f"rnnkit: warning: {data}:1: skipped a header line (text<TAB>label)" in train_err
    vocab = json.loads(((run / "last").resolve() / "vocab.json").read_text())
    assert vocab["labels"]["labels"] == ["A", "B", "C"]  # the header did not become a class
    p = _ok("classify", "eval", run, data, "--json")
    assert json.loads(p.stdout)["examples"] == 90 and "skipped a header line" in p.stderr
    assert "skipped a header line (Text<TAB>Tags)" in out["tag"][2]


# ---------------------------------------------------------------------------- classify
def test_classify_eval_json_has_per_class_scores_and_the_confusion_matrix(runs):
    _, out = runs
    run, data, _ = out["classify"]
    r = json.loads(_ok("classify", "eval", run, data, "--json").stdout)
    assert r["labels"] == ["A", "B", "C"] and list(r["per_class"]) == r["labels"]
    C = r["confusion_matrix"]  # rows true, columns predicted
    assert len(C) == 3 and all(len(row) == 3 for row in C)
    assert sum(map(sum, C)) == r["examples"] == 90
    assert r["accuracy"] == pytest.approx(sum(C[k][k] for k in range(3)) / 90)
    for k, label in enumerate(r["labels"]):
        s = r["per_class"][label]
        assert s["support"] == sum(C[k]) and 0 <= s["f1"] <= 1
    for avg in ("macro_avg", "weighted_avg"):
        assert set(r[avg]) == {"precision", "recall", "f1", "support"} and r[avg]["support"] == 90
    assert r["accuracy"] > 0.9  # it learned the three alphabets


def test_classify_eval_prints_a_table(runs):
    _, out = runs
    run, data, _ = out["classify"]
    lines = _ok("classify", "eval", run, data).stdout.splitlines()
    assert lines[0].startswith(f"{data}: accuracy ") and lines[1] == ""
    assert lines[2].split() == ["label", "precision", "recall", "f1", "support"]
    assert [l.split()[0] for l in lines[3:6]] == ["A", "B", "C"]
    assert lines[6].startswith("macro avg") and lines[7].startswith("weighted avg")
    assert lines[9] == "confusion (rows: true, columns: predicted)" and lines[10].split() == ["A", "B", "C"]
    assert sum(int(n.replace(",", "")) for l in lines[11:14] for n in l.split()[1:]) == 90
    assert len({len(l) for l in lines[2:8]}) == 1  # aligned columns


def test_the_confusion_matrix_is_printed_for_few_classes_only():
    labels = [f"c{k}" for k in range(MAX_CONFUSION + 1)]
    many = report_lines(classification_report(range(len(labels)), range(len(labels)), labels))
    few = report_lines(classification_report(range(MAX_CONFUSION), range(MAX_CONFUSION), labels), "tag")
    assert not any(l.startswith("confusion") for l in many) and len(many) == 1 + 1 + 13 + 2
    assert "confusion (rows: true, columns: predicted)" in few and few[1].startswith("tag ")


# ---------------------------------------------------------------------------- predict
def test_predict_prints_input_tab_prediction_and_pipes(runs):
    _, out = runs
    run, _, _ = out["classify"]
    p = _ok("classify", "predict", run, "--top", "2", input="abc\n\nvwx y\n")
    rows = [l.split("\t") for l in p.stdout.splitlines()]
    assert [r[0] for r in rows] == ["abc", "vwx y"] and all(len(r) == 5 for r in rows)
    assert [r[1] for r in rows] == ["A", "B"] and all(float(r[2]) >= float(r[4]) for r in rows)
    # the output is a TSV: its first column is the input again, so it pipes into another predict
    again = _ok("classify", "predict", run, input="".join(r[0] + "\n" for r in rows))
    assert [l.split("\t")[:2] for l in again.stdout.splitlines()] == [r[:2] for r in rows]
    tag_run = out["tag"][0]
    assert _ok("tag", "predict", tag_run, "abca").stdout == "abca\t1001\n"
    assert _ok("tag", "predict", tag_run, "abca", "--space-after", "1").stdout == "abca\ta bca\n"


def test_predict_refuses_an_input_holding_a_tab(runs):
    _, out = runs
    run, _, _ = out["classify"]
    assert_one_line_error(
        rnnkit("classify", "predict", run, input="abc\nab\tA\n"), "stdin line 2", "TAB", "cut -f1"
    )
    assert_one_line_error(rnnkit("tag", "predict", out["tag"][0], "ok", "a\tb"), "argument 2", "TAB")


# ---------------------------------------------------------------------------- tag
def test_tag_eval_reports_each_tag(runs):
    _, out = runs
    run, data, _ = out["tag"]
    r = json.loads(_ok("tag", "eval", run, data, "--json").stdout)
    tags = "".join(l.split("\t")[1] for l in data.read_text().splitlines()[1:])  # every character's
    assert r["labels"] == ["0", "1"] and sum(map(sum, r["confusion_matrix"])) == len(tags)
    assert r["per_class"]["1"]["support"] == tags.count("1")
    assert {"precision", "recall", "f1"} <= set(r)  # the boundary scores stay at the top level
    assert r["per_class"]["1"]["f1"] == pytest.approx(r["f1"])  # boundary F1 is tag 1's F1
    text = _ok("tag", "eval", run, data).stdout.splitlines()
    assert text[2].split()[0] == "tag" and "confusion (rows: true, columns: predicted)" in text


# ---------------------------------------------------------------------------- seq2seq
def test_seq2seq_eval_reports_error_rates_and_counts_unknown_words(runs):
    root, out = runs
    run, data, _ = out["seq2seq"]
    r = json.loads(_ok("seq2seq", "eval", run, data, "--json").stdout)
    assert {"exact_match", "token_error_rate", "character_error_rate"} <= set(r)
    assert 0 <= r["character_error_rate"] <= 1 and r["exact_match"] > 0.3
    line = _ok("seq2seq", "eval", run, data).stdout
    assert "token error rate" in line and "character error rate" in line
    test = _write(root / "unknown.tsv", "source\ttarget", ["one five\t1 5", "six six two\t6 6 2"])
    p = _ok("seq2seq", "eval", run, test, "--json")
    assert p.stderr.splitlines()[1:] == [  # after the header warning: one note per side
        "rnnkit: note: 2 source word(s) not seen in training ('five', 'six'; 3 occurrence(s)) are read "
        "as <unk>",
        "rnnkit: note: 2 target word(s) not seen in training ('5', '6'; 3 occurrence(s)) cannot be "
        "predicted (each is an error)",
    ]
    p = _ok("seq2seq", "predict", run, "one five", "five two")
    assert p.stdout.splitlines()[0].startswith("one five\t")
    assert p.stderr.splitlines() == [
        "rnnkit: note: 1 input word(s) not seen in training ('five'; 2 occurrence(s)) are read as <unk>"
    ]
