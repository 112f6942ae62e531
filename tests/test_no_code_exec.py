"""Issue 4, item 6: no code runs from data.

- A malicious pickle planted in a checkpoint (as an extra file, and in place of the
  weights with a matching manifest) never executes, and loading fails cleanly.
- A malicious JSON config (values that would run code if ``eval``'d, a ``__reduce__``-like
  object, a huge nesting) executes nothing and is refused with one clear line.
- The package source contains no unpickling, ``eval``/``exec`` or ``allow_pickle``.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import re
import shutil
from pathlib import Path

import pytest
from helpers import REPO, TINY, assert_one_line_error, rnnkit, write_text

from rnnkit.errors import RnnkitError
from rnnkit.train.load_lm import load_lm


class _Boom:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):  # unpickling this creates the marker file
        return (Path.touch, (Path(self.marker),))


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("exec")
    text = write_text(root / "t.txt", 1500, seed=6)
    assert (
        rnnkit(
            "train", text, "--out", root / "run", *TINY, "--max-steps", "5", "--val-chars", "200"
        ).returncode
        == 0
    )
    return text, root / "run"


def _rehash(d):
    man = json.loads((d / "manifest.json").read_text())
    for n in man["files"]:
        b = (d / n).read_bytes()
        man["files"][n] = {"bytes": len(b), "sha256": hashlib.sha256(b).hexdigest()}
    (d / "manifest.json").write_text(json.dumps(man))


def _fresh(trained, tmp_path):
    text, src = trained
    run = tmp_path / "run"
    shutil.copytree(src, run, symlinks=True)
    return text, run, run / "last"


def _assert_refused_everywhere(run, text, marker, *needles):
    assert_one_line_error(rnnkit("eval", run, text), *needles)
    assert_one_line_error(rnnkit("train", "--resume", run, "--max-steps", "8"), *needles)
    with pytest.raises(RnnkitError):
        load_lm(run)
    assert not marker.exists(), "the planted payload ran"


def test_the_payload_works_when_unpickled(tmp_path):
    """Control: the planted pickle really is dangerous."""
    m = tmp_path / "pwned"
    pickle.loads(pickle.dumps(_Boom(m)))
    assert m.exists()


def test_pickle_in_place_of_the_weights(trained, tmp_path):
    text, run, d = _fresh(trained, tmp_path)
    marker = tmp_path / "pwned"
    (d / "model.safetensors").write_bytes(pickle.dumps({"rnn.weight_ih_l0": _Boom(marker)}))
    _rehash(d)  # a consistent, deliberate forgery
    _assert_refused_everywhere(run, text, marker, "model.safetensors is not a valid safetensors file")


def test_pickle_files_next_to_the_checkpoint_are_ignored(trained, tmp_path):
    text, run, d = _fresh(trained, tmp_path)
    marker = tmp_path / "pwned"
    for name in ("model.pt", "model.pkl", "optimizer.pt", "trainer.pkl", "data.npy"):
        (d / name).write_bytes(pickle.dumps(_Boom(marker)))
    (d / "model.safetensors").unlink()  # even when the real weights are gone
    assert_one_line_error(rnnkit("eval", run, text), "model.safetensors is missing")
    assert not marker.exists()


MALICIOUS_CONFIGS = {
    "code in a number field": lambda c: c["model"].update(
        hidden="__import__('pathlib').Path('{m}').touch() or 16"
    ),
    "reduce-like object": lambda c: c["model"].update(
        init={"__reduce__": ["pathlib.Path.touch", ["{m}"]], "py/object": "os.system"}
    ),
    "unknown keys": lambda c: c["model"].update(__class__="os.system", exec="open('{m}','w')"),
    "model not an object": lambda c: c.update(model="__import__('os').system('touch {m}')"),
}


@pytest.mark.parametrize("case", list(MALICIOUS_CONFIGS))
def test_malicious_config_json(trained, tmp_path, case):
    text, run, d = _fresh(trained, tmp_path)
    marker = tmp_path / "pwned"
    cfg = json.loads((d / "config.json").read_text())
    MALICIOUS_CONFIGS[case](cfg)
    raw = json.dumps(cfg).replace("{m}", str(marker))
    (d / "config.json").write_text(raw)
    _rehash(d)
    _assert_refused_everywhere(run, text, marker)


def test_malicious_state_and_vocab_json(trained, tmp_path):
    text, run, d = _fresh(trained, tmp_path)
    marker = tmp_path / "pwned"
    state = json.loads((d / "state.json").read_text())
    state["rng"] = f"__import__('pathlib').Path('{marker}').touch()"
    state["step"] = {"__reduce__": "os.system"}
    (d / "state.json").write_text(json.dumps(state))
    _rehash(d)
    assert_one_line_error(rnnkit("train", "--resume", run, "--max-steps", "8"), "does not match")
    assert not marker.exists()
    (d / "vocab.json").write_text(json.dumps({"chars": f"__import__('os').system('touch {marker}')"}))
    _rehash(d)
    assert_one_line_error(rnnkit("sample", run, "--length", "3"), "vocabulary")
    assert not marker.exists()


def test_deeply_nested_json_is_refused_cleanly(trained, tmp_path):
    text, run, d = _fresh(trained, tmp_path)
    (d / "state.json").write_text("[" * 100_000 + "]" * 100_000)
    _rehash(d)
    assert_one_line_error(rnnkit("train", "--resume", run, "--max-steps", "8"))


SOURCE_BANS = [
    (r"^\s*(import|from)\s+(pickle|cPickle|dill|cloudpickle|shelve|marshal|joblib)\b", "unpickling module"),
    # the builtins, called; not a method of that name (``def eval(self)``, torch's train/eval switch)
    # nor a name in a docstring (``eval()``)
    (r"(?<![\w.`])(?<!def )(eval|exec)\s*\(", "eval/exec"),
    (r"allow_pickle\s*=\s*True", "np.load(allow_pickle=True)"),
    (r"yaml\.load\s*\(", "yaml.load"),
    (r"torch\.load\((?![^)]*weights_only\s*=\s*True)", "torch.load without weights_only=True"),
    (r"pickle\.loads?\s*\(", "pickle.load"),
]


def test_the_package_never_unpickles_or_evals():
    found = []
    for path in sorted((REPO / "rnnkit").rglob("*.py")):
        for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            code = line.split("#", 1)[0]
            for pat, what in SOURCE_BANS:
                if re.search(pat, code):
                    found.append(f"{path.relative_to(REPO)}:{i}: {what}: {line.strip()}")
    assert not found, "\n".join(found)
