"""The output paths of ``rnnkit plot``, ``rnnkit gradflow`` and ``rnnkit inspect``.

1. A bad output path (a suffix that cannot be written, an existing directory, a parent
   that is a file, a save that fails) ends with one line on stderr and exit status 2,
   no traceback, and no file written or half-written. It is refused before the work.
2. An output name without a suffix gets ``.png`` (figures) or ``.html`` (the page)
   explicitly, and the path printed is the path written.

A missing parent directory is refused, not created (tests/test_tools_hostile.py).
"""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from helpers import assert_one_line_error, rnnkit
from helpers.png import png_size

from rnnkit.cli import main
from rnnkit.errors import RnnkitError
from rnnkit.train.lm_config import TrainConfig
from rnnkit.train.lm_trainer import train
from rnnkit.viz import gradflow as gf
from rnnkit.viz import inspect_units, plot_curves
from rnnkit.viz.output_path import write_atomically

FAST_GRADFLOW = ["--fresh", "--hidden", "8", "--steps", "10", "--batch", "2", "--max-len", "64"]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    """A tiny trained run: checkpoints, prepared data and metrics.jsonl."""
    d = tmp_path_factory.mktemp("vizfix")
    text = d / "corpus.txt"
    rng = np.random.default_rng(0)
    text.write_text(
        "".join(rng.choice(["the king (and queen)\n", 'a "quote" here\n', "short\n"], 150)), encoding="utf-8"
    )
    cfg = TrainConfig(
        files=[str(text)],
        hidden=8,
        layers=1,
        seq_len=16,
        batch=4,
        max_steps=8,
        eval_every=8,
        save_every=8,
        log_every=2,
        val_chars=0,
        warmup=0,
        progress=False,
    )
    assert train(cfg, d / "run", log=lambda *a: None) == 0
    return d / "run"


def verb_args(verb: str, run: Path, out) -> list:
    """The arguments of ``verb`` writing its main output to ``out``."""
    if verb == "plot":
        return ["plot", run, "-o", out]
    if verb == "gradflow":
        return ["gradflow", *FAST_GRADFLOW, "-o", out]
    return ["inspect", run, "--max-chars", "200", "--html", out]


def listing(d: Path) -> list[str]:
    return sorted(str(p.relative_to(d)) for p in d.rglob("*"))


# ------------------------------------------------------------ 1. bad paths: one line, exit 2
@pytest.mark.parametrize("verb", ["plot", "gradflow", "inspect"])
@pytest.mark.parametrize(
    "case", ["bad suffix", "existing directory", "directory named like a file", "parent is a file"]
)
def test_bad_output_path_is_one_line_exit_2(run_dir, tmp_path, verb, case):
    (tmp_path / "adir").mkdir()
    (tmp_path / "d.png").mkdir()
    (tmp_path / "d.html").mkdir()
    (tmp_path / "afile.txt").write_text("keep me")
    out, needles = {
        "bad suffix": (
            "out.xyz" if verb != "inspect" else "out.txt",
            [".xyz" if verb != "inspect" else ".txt", "use one of"],
        ),
        "existing directory": ("adir", ["adir", "is a directory"]),
        "directory named like a file": ("d.html" if verb == "inspect" else "d.png", ["d.", "is a directory"]),
        "parent is a file": (
            "afile.txt/x.png" if verb != "inspect" else "afile.txt/x.html",
            ["afile.txt", "not a directory"],
        ),
    }[case]
    before = listing(tmp_path)
    p = rnnkit(*verb_args(verb, run_dir, out), cwd=tmp_path)
    assert_one_line_error(p, *needles)
    assert p.stdout == ""
    assert listing(tmp_path) == before  # nothing written, no temporary left
    assert (tmp_path / "afile.txt").read_text() == "keep me"


def test_the_suffix_error_lists_what_matplotlib_can_write(tmp_path):
    line = assert_one_line_error(rnnkit(*verb_args("gradflow", tmp_path, "curves.xyz"), cwd=tmp_path))
    for ext in (".png", ".pdf", ".svg"):
        assert ext in line


@pytest.mark.parametrize("verb", ["plot", "gradflow", "inspect"])
def test_bad_path_is_refused_before_the_work(run_dir, tmp_path, monkeypatch, capsys, verb):
    """No model is loaded, no metrics read, nothing measured when the output cannot be written."""

    def boom(*a, **k):
        raise AssertionError("expensive work started before the output path was checked")

    for mod, name in [
        (gf, "gradflow_data"),
        (gf, "load_lm"),
        (inspect_units, "load_lm"),
        (plot_curves, "load_curves"),
    ]:
        monkeypatch.setattr(mod, name, boom)
    args = verb_args(verb, run_dir, str(tmp_path / "out.xyz"))
    if verb == "gradflow":
        args = ["gradflow", run_dir, "-o", str(tmp_path / "out.xyz")]  # would load the model
    assert main([str(a) for a in args]) == 2
    assert "out.xyz" in capsys.readouterr().err
    assert listing(tmp_path) == []


def test_gradflow_json_path_is_checked_before_the_work(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(
        gf, "gradflow_data", lambda *a, **k: pytest.fail("measured before --json was checked")
    )
    (tmp_path / "f").write_text("")
    assert (
        main(["gradflow", "--fresh", "-o", str(tmp_path / "g.png"), "--json", str(tmp_path / "f" / "g.json")])
        == 2
    )
    assert "--json" in capsys.readouterr().err
    assert main(["gradflow", "--fresh", "-o", str(tmp_path / "g.png"), "--json", str(tmp_path)]) == 2
    assert "is a directory" in capsys.readouterr().err
    assert (
        main(["gradflow", "--fresh", "-o", str(tmp_path / "g.png"), "--json", str(tmp_path / "g.png")]) == 2
    )
    assert "both name" in capsys.readouterr().err
    assert listing(tmp_path) == ["f"]


def test_a_parent_that_cannot_take_files_is_one_line(run_dir, tmp_path):
    """/proc refuses new files, even to root (the check or the final save reports it)."""
    p = rnnkit("plot", run_dir, "-o", "/proc/rnnkit-test-out.png", cwd=tmp_path)
    assert_one_line_error(p, "/proc/rnnkit-test-out.png")


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root writes anywhere")
def test_read_only_directory_is_one_line(run_dir, tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        p = rnnkit("plot", run_dir, "-o", ro / "c.png", cwd=tmp_path)
        assert_one_line_error(p, "permission", str(ro))
        assert listing(ro) == []
    finally:
        ro.chmod(0o700)


def test_a_fifo_is_not_replaced(run_dir, tmp_path):
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    assert_one_line_error(rnnkit("plot", run_dir, "-o", fifo, cwd=tmp_path), "not a regular file")
    assert fifo.exists() and not fifo.is_file()


@pytest.mark.skipif(shutil.which("xelatex") is not None, reason="xelatex installed: .pgf can be written")
def test_pgf_without_latex_is_one_line(run_dir, tmp_path):
    p = rnnkit("plot", run_dir, "-o", "c.pgf", cwd=tmp_path)
    assert_one_line_error(p, "c.pgf", "pgf")
    assert listing(tmp_path) == []


def test_failed_save_leaves_the_old_file_and_no_temporary(run_dir, tmp_path, monkeypatch, capsys):
    """A disk that fills during savefig: the previous figure survives, nothing half-written stays."""
    import matplotlib.figure

    def partial_savefig(self, fname, **kw):
        Path(fname).write_bytes(b"\x89PNG half")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", partial_savefig)
    out = tmp_path / "c.png"
    out.write_bytes(b"old figure")
    assert main(["plot", str(run_dir), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(out) in err and "No space left on device" in err
    assert out.read_bytes() == b"old figure"
    assert listing(tmp_path) == ["c.png"]
    # and a missing parent is refused, not created
    assert main(["plot", str(run_dir), "-o", str(tmp_path / "new" / "deeper" / "c.png")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert listing(tmp_path) == ["c.png"]


def test_failed_page_write_is_one_line(run_dir, tmp_path, monkeypatch, capsys):
    def no_rename(src, dst):
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr("rnnkit.viz.output_path.os.replace", no_rename)
    assert main(["inspect", str(run_dir), "--max-chars", "100", "--html", str(tmp_path / "u.html")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "u.html" in err
    assert listing(tmp_path) == []


def test_write_atomically_wraps_value_error_and_cleans_up(tmp_path):
    def writer(tmp):
        tmp.write_text("half")
        raise ValueError("bad\nvalue")

    with pytest.raises(RnnkitError, match=r"cannot write .*/c\.json: bad value"):
        write_atomically(tmp_path / "c.json", writer)
    assert listing(tmp_path) == []


# ------------------------------------------------------- 2. a missing suffix is added and printed
def test_plot_without_suffix_writes_and_prints_png(run_dir, tmp_path):
    p = rnnkit("plot", run_dir, "-o", "name", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "wrote name.png"
    assert listing(tmp_path) == ["name.png"]
    assert png_size(tmp_path / "name.png")[0] > 300


def test_gradflow_without_suffix_writes_and_prints_png(tmp_path):
    p = rnnkit("gradflow", *FAST_GRADFLOW, "-o", "gf", "--json", "gf.json", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert lines[0] == "wrote gf.png" and lines[1] == "wrote gf.json"
    assert listing(tmp_path) == ["gf.json", "gf.png"]
    png_size(tmp_path / "gf.png")


def test_inspect_without_suffix_writes_and_prints_html(run_dir, tmp_path):
    p = rnnkit("inspect", run_dir, "--max-chars", "200", "--html", "page", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("wrote page.html:")
    assert listing(tmp_path) == ["page.html"]
    assert "<html" in (tmp_path / "page.html").read_text(encoding="utf-8").lower()


def test_other_formats_parents_and_symlinks(run_dir, tmp_path, capsys):
    """Any suffix matplotlib writes (in any case), in a new directory, a symlink's target replaced."""
    (tmp_path / "new").mkdir()
    assert main(["plot", str(run_dir), "-o", str(tmp_path / "new" / "c.PDF")]) == 0
    assert (tmp_path / "new" / "c.PDF").read_bytes()[:4] == b"%PDF"
    assert f"wrote {tmp_path / 'new' / 'c.PDF'}" in capsys.readouterr().out
    target = tmp_path / "target.png"
    target.write_bytes(b"old")
    (tmp_path / "link.png").symlink_to(target)
    assert main(["plot", str(run_dir), "-o", str(tmp_path / "link.png")]) == 0
    assert (tmp_path / "link.png").is_symlink()
    png_size(target)
    assert main(["inspect", str(run_dir), "--max-chars", "100", "--html", str(tmp_path / "u.HTM")]) == 0
    assert (tmp_path / "u.HTM").is_file()
