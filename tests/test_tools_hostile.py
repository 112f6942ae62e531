"""Issue 15, part B: the viz verbs, ``rnnkit eval`` and ``rnnkit serve`` against careless or hostile input.

- ``plot --dpi`` out of [10, 1000], a binary or malformed ``metrics.jsonl``, and
  ``gradflow --fresh --text`` of an empty or 1-character file: one line, exit 2.
- ``plot -o /missing/dir/x.png`` (and every viz output flag): refused, no directory made.
- ``rnnkit eval`` reads, encodes and scores its file a piece at a time: memory does not
  grow with the file, and the number is exactly the whole-array one.
- ``rnnkit serve``: a deeply nested JSON body gets 400; a client that disconnects
  mid-request costs one log line, and the server keeps answering.
"""

from __future__ import annotations

import codecs
import http.client
import json
import math
import socket
import struct
import threading
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from rnnkit.cli import lm as cli_lm
from rnnkit.cli import main
from rnnkit.data.corpus import read_text_file
from rnnkit.errors import RnnkitError, RnnkitWarning
from rnnkit.train.evaluate import evaluate_ids, evaluate_pieces
from rnnkit.train.lm_config import TrainConfig
from rnnkit.train.lm_trainer import train
from rnnkit.train.load_lm import load_lm
from rnnkit.viz.serve import MAX_BODY, make_server

TEXT = "the king and the queen, café naïve 안녕 🙂.\nROMEO: what light through yonder window?\n" * 30
FAST_GRADFLOW = ["--fresh", "--hidden", "8", "--steps", "10", "--batch", "2", "--max-len", "64"]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    """A tiny trained character model whose vocabulary holds multi-byte characters."""
    d = tmp_path_factory.mktemp("hostile")
    (d / "corpus.txt").write_text(TEXT, encoding="utf-8")
    cfg = TrainConfig(
        files=[str(d / "corpus.txt")],
        hidden=8,
        layers=2,
        seq_len=16,
        batch=4,
        max_steps=4,
        eval_every=4,
        save_every=4,
        log_every=2,
        val_chars=0,
        warmup=0,
        progress=False,
    )
    assert train(cfg, d / "run", log=lambda *a: None) == 0
    return d / "run"


def assert_one_line_error(capsys, argv, *needles) -> str:
    """``rnnkit argv`` in this process: exit 2, one line on stderr holding ``needles``, nothing on stdout."""
    assert main([str(a) for a in argv]) == 2
    out, err = capsys.readouterr()
    assert out == "" and "Traceback" not in err
    lines = err.strip("\n").split("\n")
    assert len(lines) == 1 and lines[0].startswith("rnnkit: error: "), err
    for n in needles:
        assert n in lines[0], (n, lines[0])
    return lines[0]


def listing(d: Path) -> list[str]:
    return sorted(str(p.relative_to(d)) for p in d.rglob("*"))


def metrics_file(path: Path, extra: bytes = b"") -> Path:
    rows = [{"kind": "train", "step": i, "time_s": 0.1 * i, "loss": 3.0 - 0.1 * i} for i in range(1, 6)]
    rows.append({"kind": "val", "step": 5, "time_s": 0.5, "loss": 2.6})
    path.write_bytes("".join(json.dumps(r) + "\n" for r in rows).encode() + extra)
    return path


# ------------------------------------------------------------------ plot and gradflow input
@pytest.mark.parametrize("dpi", ["0", "-5", "9", "1001", "100000"])
def test_plot_dpi_out_of_range_is_one_line(tmp_path, capsys, dpi):
    m = metrics_file(tmp_path / "metrics.jsonl")
    assert_one_line_error(
        capsys, ["plot", m, "--dpi", dpi, "-o", tmp_path / "c.png"], "--dpi", "[10, 1000]", dpi
    )
    assert listing(tmp_path) == ["metrics.jsonl"]


def test_plot_dpi_at_the_bounds_draws(tmp_path, capsys):
    m = metrics_file(tmp_path / "metrics.jsonl")
    assert main(["plot", str(m), "--dpi", "10", "-o", str(tmp_path / "c.png")]) == 0
    assert (tmp_path / "c.png").read_bytes()[:4] == b"\x89PNG"


BAD_LINES = (
    b"\x00\xff\xfe binary \x80\x81\n"  # not UTF-8
    b'{"kind": "train", "step": 1e400, "loss": 1.0}\n'  # int(inf): OverflowError before
    b'{"kind": "train", "step": NaN, "loss": 1.0}\n'
    b'{"kind": "val", "step": 3, "loss": "high"}\n'
    b'{"kind": "train", "step": 4, "loss": Infinity}\n'
    b'[1, 2]\n"text"\nnull\n' + b"[" * 5000 + b"\n"  # not objects; nested too deep
    b'{"kind": "train", "step": 9, "lo'
)  # cut short by a crash


def test_plot_skips_malformed_lines_with_a_count(tmp_path, capsys):
    m = metrics_file(tmp_path / "metrics.jsonl", BAD_LINES)
    m.write_bytes(m.read_bytes() + b'{"kind": "note", "text": "another tool"}\n')  # not counted
    assert main(["plot", str(m), "-o", str(tmp_path / "c.png")]) == 0
    out, err = capsys.readouterr()
    assert out.strip() == f"wrote {tmp_path / 'c.png'}"
    assert err == f"rnnkit: warning: {m}: skipped 10 malformed lines (not JSON, or no step and finite loss)\n"


@pytest.mark.parametrize(
    "content",
    [bytes(range(256)) * 40, BAD_LINES, b"", b"\n\n"],
    ids=["binary", "malformed", "empty", "blank"],
)
def test_plot_refuses_a_file_with_no_usable_line(tmp_path, capsys, content):
    m = tmp_path / "metrics.jsonl"
    m.write_bytes(content)
    line = assert_one_line_error(
        capsys, ["plot", tmp_path, "-o", tmp_path / "c.png"], str(m), "no train or val rows"
    )
    assert ("malformed" in line) == (content.strip() != b"")
    assert listing(tmp_path) == ["metrics.jsonl"]


@pytest.mark.parametrize("text", ["", "a", "ab" * 5])
def test_gradflow_fresh_text_too_short_is_one_line(tmp_path, capsys, text):
    t = tmp_path / "short.txt"
    t.write_text(text, encoding="utf-8")
    assert_one_line_error(
        capsys,
        ["gradflow", *FAST_GRADFLOW, "--text", t, "-o", tmp_path / "g.png"],
        f"--text {t} has {len(text)} characters",
        "--steps 10 needs at least 11",
    )
    assert listing(tmp_path) == ["short.txt"]


def test_gradflow_fresh_text_long_enough_draws(tmp_path, capsys):
    t = tmp_path / "ok.txt"
    t.write_text("abcab" * 3, encoding="utf-8")
    assert main(["gradflow", *FAST_GRADFLOW, "--text", str(t), "-o", str(tmp_path / "g.png")]) == 0
    assert (tmp_path / "g.png").read_bytes()[:4] == b"\x89PNG"


# ---------------------------------------------------------------- output paths: no mkdir -p
@pytest.mark.parametrize("verb", ["plot", "gradflow", "gradflow --json", "inspect"])
def test_a_missing_parent_directory_is_refused_not_created(run_dir, tmp_path, capsys, verb):
    missing = tmp_path / "nonexistent" / "dir"
    if verb == "plot":
        argv, flag = ["plot", run_dir, "-o", missing / "x.png"], "-o"
    elif verb == "gradflow":
        argv, flag = ["gradflow", *FAST_GRADFLOW, "-o", missing / "x.png"], "-o"
    elif verb == "gradflow --json":
        argv, flag = (
            ["gradflow", *FAST_GRADFLOW, "-o", tmp_path / "g.png", "--json", missing / "x.json"],
            "--json",
        )
    else:
        argv, flag = ["inspect", run_dir, "--max-chars", "100", "--html", missing / "x.html"], "--html"
    assert_one_line_error(
        capsys, argv, f"cannot write {flag} {missing}", f"directory {missing} does not exist"
    )
    assert listing(tmp_path) == []


def test_output_into_an_existing_directory_still_works(run_dir, tmp_path, capsys):
    (tmp_path / "figs").mkdir()
    assert main(["plot", str(run_dir), "-o", str(tmp_path / "figs" / "x")]) == 0
    assert listing(tmp_path) == ["figs", "figs/x.png"]


# ------------------------------------------------------------------------- eval streams
def whole_array_eval(model, ids, chunk=512) -> dict:
    """The evaluation loop before streaming, over the whole id array: the reference."""
    N = len(ids)
    h = model.zero_state(1)
    total, count = 0.0, 0
    for s in range(0, N - 1, chunk):
        e = min(s + chunk, N - 1)
        block = np.asarray(ids[s : e + 1], dtype=np.int64)[:, None]
        _, h, cache = model.forward(block[:-1], block[1:], h, need_grad=False)
        total += cache["total"]
        count += cache["count"]
    return {"loss_nats": total / count, "chars": N, "predictions": count}


@pytest.mark.parametrize("n", [2, 3, 512, 513, 514, 1025, 1900])
@pytest.mark.parametrize("piece_bytes", [7, 1 << 20])
def test_eval_streamed_is_exactly_the_whole_array_number(
    run_dir, tmp_path, capsys, monkeypatch, n, piece_bytes
):
    """Files on both sides of the 512-prediction blocks, read 7 bytes at a time (multi-byte
    characters split across reads) or whole: the same float, N characters, N-1 predictions."""
    monkeypatch.setattr(cli_lm, "EVAL_PIECE_BYTES", piece_bytes)
    text = (TEXT * 2)[-n:]  # ends in multi-byte characters
    f = tmp_path / "t.txt"
    f.write_text(text, encoding="utf-8")
    assert main(["eval", str(run_dir), str(f), "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    model, vocab, _ = load_lm(run_dir)
    ref = whole_array_eval(model, vocab.encode(text))
    assert (r["loss_nats"], r["chars"], r["predictions"]) == (ref["loss_nats"], n, n - 1)
    assert r["bpc"] == ref["loss_nats"] / math.log(2)


def test_eval_of_a_directory_skips_a_late_binary_file_whole(run_dir, tmp_path, capsys, monkeypatch):
    """A file found in a directory that turns binary after several pieces is left out whole,
    with the warning ``read_text_file`` gives; the number is the whole-array one (BOM dropped)."""
    monkeypatch.setattr(cli_lm, "EVAL_PIECE_BYTES", 64)
    d = tmp_path / "texts"
    d.mkdir()
    (d / "a.txt").write_bytes(codecs.BOM_UTF8 + TEXT[:500].encode("utf-8"))
    (d / "b.txt").write_bytes(TEXT[:300].encode("utf-8") + b"\0" + TEXT[:10].encode("utf-8"))
    (d / "c.txt").write_text(TEXT[-700:], encoding="utf-8")
    with pytest.warns(RnnkitWarning) as caught:
        text = read_text_file(d)
    assert text == TEXT[:500] + TEXT[-700:]
    assert len(caught) == 1 and str(caught[0].message).startswith(f"skipping {d / 'b.txt'}: binary")
    assert main(["eval", str(run_dir), str(d), "--json"]) == 0
    out, err = capsys.readouterr()
    assert err == f"rnnkit: warning: {caught[0].message}\n"  # the command line: the same, one line
    model, vocab, _ = load_lm(run_dir)
    ref = whole_array_eval(model, vocab.encode(text))
    r = json.loads(out)
    assert (r["loss_nats"], r["chars"], r["predictions"]) == (ref["loss_nats"], len(text), len(text) - 1)


@pytest.mark.parametrize("chunk", [512, 37])
def test_evaluate_pieces_of_any_sizes_equal_the_whole_array(run_dir, chunk):
    model, vocab, _ = load_lm(run_dir)
    ids = vocab.encode(TEXT[:2500])
    rng = np.random.default_rng(0)
    cuts = np.sort(rng.integers(0, len(ids), size=40))
    pieces = np.split(ids, cuts)  # some empty, some one id long
    ref = whole_array_eval(model, ids, chunk)
    r = evaluate_pieces(model, pieces, chunk)
    assert (r["loss_nats"], r["chars"], r["predictions"]) == (ref["loss_nats"], len(ids), len(ids) - 1)
    r = evaluate_ids(model, ids, chunk)  # training's validation path
    assert (r["loss_nats"], r["predictions"]) == (ref["loss_nats"], len(ids) - 1)


@pytest.mark.parametrize("text", ["", "a"])
def test_eval_of_fewer_than_two_characters_is_one_line(run_dir, tmp_path, capsys, text):
    f = tmp_path / "short.txt"
    f.write_text(text, encoding="utf-8")
    assert_one_line_error(
        capsys, ["eval", run_dir, f], f"{f} has {len(text)} characters; evaluation needs at least 2"
    )


def test_eval_unknown_characters_give_the_whole_text_message(run_dir, tmp_path, capsys, monkeypatch):
    """Unknown characters far apart (in different pieces): one message naming them all, the
    one ``vocab.encode`` gives for the whole text."""
    monkeypatch.setattr(cli_lm, "EVAL_PIECE_BYTES", 64)
    text = TEXT[:300] + "Ω" + TEXT[:300] + "жЖ" + TEXT[:300] + "Ω€" + "".join(map(chr, range(0x3B1, 0x3B9)))
    f = tmp_path / "u.txt"
    f.write_text(text, encoding="utf-8")
    _, vocab, _ = load_lm(run_dir)
    with pytest.raises(RnnkitError) as expected:
        vocab.encode(text, what=str(f))
    line = assert_one_line_error(capsys, ["eval", run_dir, f], "'Ω' (U+03A9)", "'ж' (U+0436)", "and 7 more")
    # the whole text's message, and how to score the text anyway (issue 18: --unknown skip)
    assert line == f"rnnkit: error: {expected.value}; --unknown skip scores the text without them"


class CountingModel:
    """A stand-in for the model that costs nothing per character: the memory measured is
    the reading and encoding of the text alone."""

    def zero_state(self, batch):
        return np.zeros((1, batch, 1))

    def forward(self, x, y, h, need_grad=False):
        return None, h, {"total": float(len(x)), "count": len(x)}


def test_eval_memory_does_not_grow_with_the_file(run_dir, tmp_path, capsys, monkeypatch):
    """4 MiB of text: the whole-text path peaks near 25 bytes a character (~100 MiB here);
    read 64 KiB at a time, the peak stays under 8 MiB."""
    _, vocab, c = load_lm(run_dir)
    monkeypatch.setattr(cli_lm, "load_lm", lambda *a, **k: (CountingModel(), vocab, c))
    monkeypatch.setattr(cli_lm, "EVAL_PIECE_BYTES", 64 * 1024)
    f = tmp_path / "big.txt"
    block = TEXT.encode("utf-8")
    f.write_bytes(block * (4 * 2**20 // len(block)))
    tracemalloc.start()
    try:
        assert main(["eval", str(run_dir), str(f), "--json"]) == 0
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    r = json.loads(capsys.readouterr().out)
    assert r["chars"] == len(TEXT) * (4 * 2**20 // len(block)) and r["loss_nats"] == 1.0
    assert peak < 8 * 2**20, f"peak {peak / 2**20:.1f} MiB"


# ------------------------------------------------------------------------------- serve
@pytest.fixture
def server(run_dir, capsys):
    """``rnnkit serve`` in a thread on a free loopback port, logging to (captured) stderr."""
    srv = make_server(run_dir, port=0, max_concurrent=1, quiet=False)
    threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        yield srv.server_address[:2]
    finally:
        srv.shutdown()
        srv.server_close()


def request(addr, method, path, body=None) -> tuple[int, dict]:
    conn = http.client.HTTPConnection(*addr, timeout=10)
    try:
        conn.request(method, path, body=body, headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        return r.status, json.loads(r.read())
    finally:
        conn.close()


def test_serve_answers_a_deeply_nested_body_with_400(server):
    body = b"[" * 30_000 + b"]" * 30_000  # 60 KB: under the size limit
    assert len(body) <= MAX_BODY
    status, msg = request(server, "POST", "/api/generate", body)
    assert status == 400 and "nested too deeply" in msg["error"]
    body = b'{"prime": ' + b"[" * 30_000 + b"]" * 30_000 + b"}"
    status, msg = request(server, "POST", "/api/generate", body)
    assert status == 400 and "nested too deeply" in msg["error"]
    status, info = request(server, "GET", "/api/info")  # and the server goes on
    assert status == 200 and info["hidden"] == 8


def test_serve_client_disconnect_is_one_log_line(server, capsys):
    """A client that sends a GET for the page and resets the connection at once: the
    server logs one line (no traceback) and answers the next request."""
    logged = ""
    for _ in range(3):
        s = socket.create_connection(server, timeout=5)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close sends RST
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        s.close()
    deadline = time.monotonic() + 5
    while logged.count("client disconnected") < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
        logged += capsys.readouterr().err
    assert logged.count("client disconnected") == 3, logged
    status, info = request(server, "GET", "/api/info")
    assert status == 200 and info["layers"] == 2
    logged += capsys.readouterr().err
    assert "Traceback" not in logged and "Exception" not in logged, logged
    for line in logged.splitlines():
        assert "client disconnected" in line or '"GET ' in line, line
