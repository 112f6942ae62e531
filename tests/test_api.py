"""The Python API (rnnkit/api): models fitted, evaluated, saved, loaded and sampled from Python,
over the same trainer, run directories and checkpoints as the command line.

The quality checks are the issue's: a CharLM below 2.5 nats/char on held-out text of the same
source, and the four forms above 0.95 on toy tasks, each in seconds on 2 cores.
"""

from __future__ import annotations

import inspect
import json
import random
import shutil
from pathlib import Path

import numpy as np
import pytest
from helpers import REPO, TINY
from helpers import rnnkit as cli

import rnnkit

QUIET = {"progress": False, "verbose": False}


def words(n: int, alphabet: str, lo: int, hi: int, seed: int = 0) -> list[str]:
    r = random.Random(seed)
    return ["".join(r.choice(alphabet) for _ in range(r.randint(lo, hi))) for _ in range(n)]


# ------------------------------------------------------------------------- quality
def test_charlm_on_a_string_beats_2_5_nats_on_held_out_text(tmp_path):
    import argparse

    text = inspect.getsource(argparse)  # Python source, about 100 kB
    cut = int(len(text) * 0.9)
    train, held = text[:cut], text[cut:]
    held = "".join(c for c in held if c in set(train))
    lm = rnnkit.CharLM(hidden=128, layers=1).fit(
        train, max_steps=300, minutes=1, batch=16, seq_len=64, lr=3e-3, **QUIET
    )
    r = lm.evaluate(held)
    assert r["loss_nats"] < 2.5, r
    reloaded = rnnkit.load(lm.save(tmp_path / "lm"))  # the user script trains, saves and reloads
    assert reloaded.evaluate(held)["loss_nats"] == pytest.approx(r["loss_nats"], rel=1e-6)
    assert set(r) == {"loss_nats", "bpc", "perplexity", "chars", "predictions", "skipped", "checkpoint"}
    assert r["chars"] == len(held) and r["predictions"] == len(held) - 1


def test_classifier_tagger_seq2seq_learn_toy_tasks():
    X = words(700, "abcd", 3, 8)
    many = ["many" if x.count("a") >= 2 else "few" for x in X]
    clf = rnnkit.Classifier(hidden=32).fit(X[:600], many[:600], max_steps=400, lr=5e-3, **QUIET)
    assert clf.evaluate(X[600:], many[600:])["accuracy"] > 0.95
    assert clf.classes_ == ["few", "many"]
    P = clf.predict_proba(X[600:])
    assert P.shape == (100, 2) and np.allclose(P.sum(axis=1), 1, atol=1e-5)
    assert clf.predict(X[600:605]) == [clf.classes_[k] for k in P[:5].argmax(axis=1)]

    repeats = ["".join("1" if i and x[i] == x[i - 1] else "0" for i in range(len(x))) for x in X]
    tagger = rnnkit.Tagger(hidden=32).fit(X[:600], repeats[:600], max_steps=300, **QUIET)
    assert tagger.evaluate(X[600:], repeats[600:])["accuracy"] > 0.95
    predicted = tagger.predict(X[600:603])
    assert [len(p) for p in predicted] == [len(x) for x in X[600:603]]
    assert all(isinstance(t, str) for p in predicted for t in p)

    S = words(700, "abc", 1, 4, seed=1)
    s2s = rnnkit.Seq2Seq(hidden=64).fit(
        S[:600], [s.upper() for s in S[:600]], max_steps=800, lr=5e-3, **QUIET
    )
    r = s2s.evaluate(S[600:], [s.upper() for s in S[600:]])
    assert r["exact_match"] > 0.95 and "token_error_rate" in r
    assert s2s.predict(["abc", "ba"], beam=3) == ["ABC", "BA"]


def test_generator_samples_per_label():
    gen = rnnkit.Generator(hidden=32).fit(["up", "down"] * 40, ["abc", "cba"] * 40, max_steps=150, **QUIET)
    assert gen.sample("down", n=3, temperature=0) == ["cba"] * 3
    drawn = gen.sample("up", n=5, seed=1)
    assert drawn == gen.sample("up", n=5, seed=1) and len(drawn) == 5
    assert gen.evaluate(["up"], ["abc"])["nll"] < 0.5


# --------------------------------------------------------------- one system with the CLI
@pytest.fixture(scope="module")
def cli_run(tmp_path_factory) -> Path:
    where = tmp_path_factory.mktemp("cli")
    text = where / "text.txt"
    text.write_text("the cat sat on the mat. the dog sat on the log.\n" * 40, encoding="utf-8")
    p = cli("train", text, "--out", where / "run", *TINY, "--max-steps", "40", "--eval-every", "20")
    assert p.returncode == 0, p.stderr
    return where / "run"


@pytest.mark.parametrize(
    "args, kw",
    [
        ([], {}),
        (
            ["--prime", "the ", "--temperature", "0.5", "--top-k", "5"],
            {"prime": "the ", "temperature": 0.5, "top_k": 5},
        ),
        (["--top-p", "0.9"], {"top_p": 0.9}),
        (["--beam", "3"], {"beam": 3}),
    ],
)
def test_a_cli_run_loads_as_a_charlm_that_samples_what_the_cli_prints(cli_run, args, kw):
    lm = rnnkit.load(cli_run)
    assert isinstance(lm, rnnkit.CharLM) and lm.run_dir == cli_run.resolve()
    printed = cli("sample", cli_run, "--length", "60", "--seed", "7", *args)
    assert printed.returncode == 0, printed.stderr
    kw = {"temperature": 0.8, **kw}  # rnnkit sample's default temperature
    prime = kw.get("prime", "\n")  # rnnkit sample prints its default prime, a newline
    assert printed.stdout == (prime if "prime" not in kw else "") + lm.sample(length=60, seed=7, **kw) + "\n"


def test_evaluate_gives_what_eval_json_prints(cli_run, tmp_path):
    held = tmp_path / "held.txt"
    held.write_text("the cat sat on the log.\n", encoding="utf-8")
    printed = cli("eval", cli_run, held, "--json")
    assert printed.returncode == 0, printed.stderr
    want = json.loads(printed.stdout)
    got = rnnkit.load(cli_run).evaluate(held.read_text(encoding="utf-8"))
    assert set(got) == set(want) and got["checkpoint"] == want["checkpoint"]
    assert got["loss_nats"] == pytest.approx(want["loss_nats"], rel=1e-6)
    assert rnnkit.load(cli_run).evaluate(held)["loss_nats"] == got["loss_nats"]  # a path reads the file
    skipped = rnnkit.load(cli_run).evaluate("the cat%% sat", unknown="skip")
    assert skipped["skipped"] == 2 and skipped["chars"] == len("the cat sat")


def test_a_model_saved_from_python_runs_under_the_cli_verbs(tmp_path):
    lm = rnnkit.CharLM(hidden=16, layers=1).fit(
        "abcd efgh " * 200, max_steps=20, batch=4, seq_len=16, **QUIET
    )
    saved = lm.save(tmp_path / "lm")
    (tmp_path / "held.txt").write_text("abcd efgh " * 20, encoding="utf-8")
    assert (
        cli("sample", saved, "--prime", "ab", "--length", "20", "--seed", "1").stdout
        == lm.sample("ab", length=20, temperature=0.8, seed=1) + "\n"
    )
    assert cli("eval", saved, tmp_path / "held.txt").returncode == 0
    for verb, out in (("inspect", "--html"), ("plot", "-o"), ("gradflow", "-o")):
        written = tmp_path / f"{verb}.{'html' if verb == 'inspect' else 'png'}"
        p = cli(verb, saved, out, written, *(["--text", tmp_path / "held.txt"] if verb != "plot" else []))
        assert p.returncode == 0 and written.stat().st_size > 0, (verb, p.stderr)
    shutil.rmtree(lm.run_dir.parent)  # the temporary run is gone; the copy resumes alone
    p = cli("train", "--resume", saved, "--max-steps", "30", "--no-progress")
    assert p.returncode == 0, p.stderr
    assert rnnkit.load(saved).history["train"][-1]["step"] == 30

    clf = rnnkit.Classifier(hidden=8).fit(["ab", "ba"] * 30, ["x", "y"] * 30, max_steps=20, **QUIET)
    saved = clf.save(tmp_path / "clf")
    shutil.rmtree(clf.run_dir.parent)
    p = cli("classify", "predict", saved, "ab", "ba")
    assert p.returncode == 0 and len(p.stdout.splitlines()) == 2, p.stderr
    p = cli("classify", "train", "--resume", saved, "--max-steps", "30", "--no-progress")
    assert p.returncode == 0, p.stderr
    again = rnnkit.load(saved)
    assert isinstance(again, rnnkit.Classifier) and again.history["val"][-1]["step"] == 30


def test_load_reads_a_checkpoint_directory_and_which(cli_run):
    best, last = rnnkit.load(cli_run), rnnkit.load(cli_run, which="last")
    bare = rnnkit.load(cli_run / "last")
    assert bare.sample(length=30, seed=2) == last.sample(length=30, seed=2)
    assert best.evaluate("the cat")["checkpoint"] == str((cli_run / "best").resolve())
    with pytest.raises(rnnkit.RnnkitError, match="which must be"):
        rnnkit.load(cli_run, which="first")


def test_fit_again_continues_the_run(tmp_path):
    text = "to be or not to be " * 100
    lm = rnnkit.CharLM(hidden=16, layers=1).fit(
        text, max_steps=10, batch=4, seq_len=8, out=tmp_path / "r", **QUIET
    )
    assert lm.run_dir == (tmp_path / "r").resolve()
    lm.fit(max_steps=15, **QUIET)
    lm.fit(text, max_steps=5, **QUIET)  # the same text may be given again
    steps = [r["step"] for r in lm.history["train"]]
    assert steps[-1] == 30 and steps == sorted(steps)
    with pytest.raises(rnnkit.RnnkitError, match="continues the run"):
        lm.fit("other text " * 50, **QUIET)
    with pytest.raises(rnnkit.RnnkitError, match="names another directory"):
        lm.fit(out=tmp_path / "elsewhere", **QUIET)
    with pytest.raises(rnnkit.RnnkitError, match="already holds a run"):
        rnnkit.CharLM(hidden=16, layers=1).fit(text, out=tmp_path / "r", max_steps=2, **QUIET)


# ---------------------------------------------------------------------- constructors
# A model's parameters are fields of its training configuration, named in its __signature__
# (api/base.py, settings_signature): help() and inspect.signature must show them, with the
# types and defaults they had when each constructor wrote them out.
BACKBONE = "hidden: 'int' = 128, layers: 'int' = 1, bidirectional: 'bool' = False, embed: 'int' = 0"
SIGNATURES = {
    "CharLM": "(hidden: 'int' = 256, layers: 'int' = 2, embed: 'int' = 0, dropout: 'float' = 0.0, "
    "bidirectional: 'bool' = False)",
    "Classifier": f"({BACKBONE}, dropout: 'float' = 0.0)",
    "Tagger": f"({BACKBONE}, dropout: 'float' = 0.0)",
    "Seq2Seq": f"({BACKBONE}, dropout: 'float' = 0.0, source_tokens: 'str' = 'chars', "
    "target_tokens: 'str' = 'chars', max_len: 'int' = 50)",
    "Generator": "(hidden: 'int' = 128, layers: 'int' = 1, embed: 'int' = 0, cond_embed: 'int' = 0, "
    "dropout: 'float' = 0.0, autoregressive: 'bool' = True)",
}


@pytest.mark.parametrize("name", SIGNATURES)
def test_constructors_show_their_settings(name):
    import pydoc

    cls = getattr(rnnkit, name)
    assert str(inspect.signature(cls)) == SIGNATURES[name]
    assert f" |  {name}{SIGNATURES[name]}\n" in pydoc.render_doc(cls, renderer=pydoc.plaintext)
    params = inspect.signature(cls).parameters.values()
    # made with the defaults shown (CharLM takes `bidirectional` only to refuse True)
    shown = [f"{p.name}={p.default!r}" for p in params if (name, p.name) != ("CharLM", "bidirectional")]
    assert repr(cls()) == f"{name}({', '.join(shown)})"
    # and docs/api.md's heading gives them too
    heading = ", ".join(f"{p.name}={p.default!r}".replace("'", '"') for p in params)
    assert f"### `rnnkit.{name}({heading})`" in (REPO / "docs" / "api.md").read_text(encoding="utf-8")


def test_constructors_take_settings_by_position_or_by_name(cli_run):
    assert repr(rnnkit.Seq2Seq(64, 2, True)) == repr(rnnkit.Seq2Seq(hidden=64, layers=2, bidirectional=True))
    assert repr(rnnkit.Generator(32, 1, 0, 8)) == (
        "Generator(hidden=32, layers=1, embed=0, cond_embed=8, dropout=0.0, autoregressive=True)"
    )
    assert repr(rnnkit.CharLM(64, 1, dropout=0.1)) == "CharLM(hidden=64, layers=1, embed=0, dropout=0.1)"
    with pytest.raises(rnnkit.RnnkitError, match="bidirectional must be False"):
        rnnkit.CharLM(64, 1, 0, 0.0, True)
    for make, words in (
        (lambda: rnnkit.Classifier(hiden=8), "Classifier(): got an unexpected keyword argument 'hiden'"),
        (lambda: rnnkit.Generator(bidirectional=True), "unexpected keyword argument 'bidirectional'"),
        (lambda: rnnkit.Tagger(8, hidden=8), "Tagger(): multiple values for argument 'hidden'"),
        (lambda: rnnkit.Classifier(8, 1, False, 0, 0.0, 3), "Classifier(): too many positional arguments"),
    ):
        with pytest.raises(TypeError) as e:
            make()
        assert words in str(e.value)
    # rnnkit.load makes the model with its run's settings (TINY: --hidden 16 --layers 1)
    assert repr(rnnkit.load(cli_run)) == "CharLM(hidden=16, layers=1, embed=0, dropout=0.0)"


# --------------------------------------------------------------------------- refusals
def _fitted_classifier():
    return rnnkit.Classifier(hidden=8).fit(["ab", "ba"] * 20, ["x", "y"] * 20, max_steps=5, **QUIET)


@pytest.mark.parametrize(
    "call, words",
    [
        (lambda: rnnkit.CharLM(bidirectional=True), "bidirectional must be False"),
        (lambda: rnnkit.CharLM().fit("abc" * 100, hidden=8), "setting of the model"),
        (lambda: rnnkit.CharLM().fit("abc" * 100, epochs=3), "no argument epochs"),
        (lambda: rnnkit.CharLM().fit(""), "empty"),
        (lambda: rnnkit.CharLM().fit(["/no/such/file.txt"]), "no such file"),
        (lambda: rnnkit.CharLM(hidden=8, layers=1).fit("abc" * 100, max_steps=0, **QUIET), "max_steps "),
        (lambda: rnnkit.CharLM().sample(), "no weights yet"),
        (lambda: rnnkit.Classifier().fit(["a", "b"], ["x"]), "texts has 2 items but labels has 1"),
        (lambda: rnnkit.Classifier().fit(["a\tb", "c"], ["x", "y"]), "texts[0] holds a TAB"),
        (lambda: rnnkit.Classifier().fit(["a", "b"], [1, 2]), "labels[0] is a int"),
        (lambda: rnnkit.Tagger().fit(["abc"], ["xy"]), "2 tags for the 3 characters"),
        (lambda: rnnkit.Tagger().fit(["ab"], [["B-X", "O"]]), "one-character strings"),
        (lambda: _fitted_classifier().predict_proba([]), None),
    ],
)
def test_bad_arguments_raise_one_line(call, words):
    if words is None:  # an empty batch is an empty answer, not an error
        assert call().shape == (0, 2)
        return
    with pytest.raises(rnnkit.RnnkitError) as e:
        call()
    assert isinstance(e.value, ValueError)
    assert words in str(e.value) and "\n" not in str(e.value)


def test_sampling_settings_are_checked(cli_run):
    lm = rnnkit.load(cli_run)
    for kw, name in (
        ({"temperature": -1}, "temperature "),
        ({"temperature": float("nan")}, "temperature "),
        ({"top_p": 0}, "top_p "),
        ({"top_k": -2}, "top_k "),
        ({"length": -1}, "length "),
        ({"seed": -5}, "seed "),
        ({"prime": "\u2603"}, "prime has characters"),
    ):
        with pytest.raises(rnnkit.RnnkitError, match=name):
            lm.sample(**kw)
    assert lm.sample(length=0) == ""
    assert lm.sample("the", length=10, temperature=0) == lm.sample("the", length=10, temperature=0)


def test_import_rnnkit_nn_stays_numpy_alone():
    import subprocess
    import sys

    from helpers import env

    code = (
        "import rnnkit, rnnkit.nn, sys; "
        "assert not {'torch', 'tqdm', 'safetensors'} & set(sys.modules); rnnkit.CharLM"
    )
    p = subprocess.run([sys.executable, "-c", code], env=env(), capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert {"CharLM", "Classifier", "Tagger", "Seq2Seq", "Generator", "load"} <= set(dir(rnnkit))


def test_a_settings_signature_refuses_a_field_without_a_plain_default():
    """A list-valued field (``default_factory``) cannot be a constructor parameter: its default would
    show as MISSING, or one list would be shared by every model. It is refused when the class is made."""
    from rnnkit.api.base import settings_signature
    from rnnkit.train.lm_config import TrainConfig

    with pytest.raises(TypeError, match="files of TrainConfig has no plain default"):
        settings_signature(TrainConfig, ("hidden", "files"))
    assert list(settings_signature(TrainConfig, ("hidden", "layers")).parameters) == ["hidden", "layers"]
