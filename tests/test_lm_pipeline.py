"""The character language model end to end: data, batches, schedule, sampling, eval, CLI."""

import json
import math
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest

from rnnkit.data.batcher import StreamBatcher
from rnnkit.data.corpus import load_prepared, prepare
from rnnkit.data.vocab import Vocab
from rnnkit.decode.lm import lm_beam_search, lm_sample
from rnnkit.decode.sampler import filter_probs
from rnnkit.models.char_rnn import CharRNN, ModelConfig
from rnnkit.optim.schedule import learning_rate
from rnnkit.train.evaluate import evaluate_ids
from rnnkit.train.load_lm import load_lm

TEXT = "First Citizen: 안녕하세요, 世界! 😀 Before we proceed any further, hear me speak.\n" * 40


def run_cli(*args, check=True):
    r = subprocess.run(
        [sys.executable, "-m", "rnnkit", *map(str, args)], capture_output=True, text=True, timeout=120
    )
    if check and r.returncode != 0:
        raise AssertionError(f"rnnkit {' '.join(map(str, args))} failed ({r.returncode}):\n{r.stderr}")
    return r


def test_vocab_is_sorted_code_points_and_handles_any_script():
    v = Vocab.from_text(TEXT)
    assert v.chars == sorted(set(TEXT), key=ord)
    assert v.decode(v.encode(TEXT)) == TEXT
    assert v.id_dtype == np.uint8
    assert Vocab.from_text("".join(chr(0x4E00 + i) for i in range(300))).id_dtype == np.uint16


def test_prepare_writes_narrow_memmapped_ids_with_nanogpt_split(tmp_path):
    f = tmp_path / "t.txt"
    f.write_text(TEXT, encoding="utf-8")
    p = prepare([f], tmp_path / "data", log=lambda *_: None)
    n = len(TEXT)
    assert p.n_train == int(n * 0.9) and p.n_val == n - int(n * 0.9)
    # Tiny Shakespeare's length, where rounding the validation share would move the split by one.
    g = tmp_path / "g.txt"
    g.write_text("x" * 1_115_394, encoding="utf-8")
    assert prepare([g], tmp_path / "g", log=lambda *_: None).n_train == 1_003_854
    assert (tmp_path / "data" / "ids.bin").stat().st_size == n  # one byte per id
    q = load_prepared(tmp_path / "data")
    assert isinstance(q.ids(), np.memmap)
    assert q.vocab.decode(q.train_ids()) + q.vocab.decode(q.val_ids()) == TEXT


def test_prepare_with_separate_validation_file(tmp_path):
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("abcabcabc", encoding="utf-8")
    b.write_text("cbaz", encoding="utf-8")
    p = prepare([a], tmp_path / "d", val_files=[b], log=lambda *_: None)
    assert (p.n_train, p.n_val) == (9, 4)
    assert "z" in p.vocab.index  # vocabulary spans both


def test_batcher_streams_are_contiguous_across_chunks():
    ids = np.arange(1000)
    b = StreamBatcher(len(ids), B=4, T=7)
    xs = [b.chunk(ids, k) for k in range(b.chunks_per_epoch)]
    x = np.concatenate([c[0] for c in xs])  # (L, B)
    y = np.concatenate([c[1] for c in xs])
    assert x.shape == (b.L, 4)
    np.testing.assert_array_equal(y, x + 1)  # targets are the next character
    np.testing.assert_array_equal(x[:, 1], np.arange(b.L, 2 * b.L))  # stream 1 continues in order


@pytest.mark.parametrize("schedule", ["constant", "step", "cosine"])
def test_schedules(schedule):
    settings = SimpleNamespace(
        lr=1.0, schedule=schedule, max_steps=100, warmup=10, min_lr=0.1, step_size=30, gamma=0.5
    )
    lrs = [learning_rate(s, settings) for s in range(100)]
    assert lrs[0] == pytest.approx(0.1) and lrs[9] == pytest.approx(1.0)  # warm-up
    if schedule == "constant":
        assert lrs[50] == 1.0
    elif schedule == "step":
        assert lrs[30] == 0.5 and lrs[60] == 0.25
    else:
        assert lrs[10] == pytest.approx(1.0) and lrs[99] == pytest.approx(0.1, abs=1e-3)
        assert lrs[55] == pytest.approx(0.55)


def test_filter_probs_top_k_top_p_temperature():
    logits = np.log(np.array([0.5, 0.3, 0.15, 0.05]))
    assert np.count_nonzero(filter_probs(logits, top_k=2)) == 2
    p = filter_probs(logits, top_p=0.75)
    assert np.count_nonzero(p) == 2 and p.sum() == pytest.approx(1.0)
    cold = filter_probs(logits, temperature=0.1)
    assert cold[0] > 0.99


def small_model(V=7, seed=0):
    return CharRNN(ModelConfig(vocab_size=V, hidden=8, layers=2), seed=seed)


def test_sampling_is_seeded_and_greedy_is_argmax():
    m = small_model()
    prime = np.array([1, 2])
    assert lm_sample(m, prime, 30, seed=3) == lm_sample(m, prime, 30, seed=3)
    g = lm_sample(m, prime, 10, greedy=True)
    logits, h = m.step(np.array([1]), m.zero_state(1))
    logits, h = m.step(np.array([2]), h)
    assert g[0] == int(np.argmax(logits[0]))


def _logprob(m, prime, cont):
    from rnnkit.nn.softmax_cross_entropy import log_softmax

    h, total = m.zero_state(1), 0.0
    seq = list(prime) + list(cont)
    for i, c in enumerate(seq[:-1]):
        logits, h = m.step(np.array([c]), h)
        if i >= len(prime) - 1:
            total += log_softmax(logits[0].astype(np.float64))[seq[i + 1]]
    return total


def test_beam_search_scores_match_and_beat_greedy():
    m = small_model(seed=4)
    prime = np.array([3])
    g = lm_sample(m, prime, 8, greedy=True)
    b1, s1 = lm_beam_search(m, prime, 8, beam=1)
    assert b1 == g  # beam 1 is greedy
    b5, s5 = lm_beam_search(m, prime, 8, beam=5)
    assert s5 == pytest.approx(_logprob(m, prime, b5), abs=1e-4)  # reported score is the real log-prob
    assert s5 >= _logprob(m, prime, g) - 1e-6


def test_eval_reads_the_text_as_one_sequence():
    m = small_model()
    ids = np.random.default_rng(0).integers(0, 7, 1001)
    r = evaluate_ids(m, ids, chunk=37)  # chunking must not matter
    loss, _, _ = m.forward(ids[:-1, None], ids[1:, None], need_grad=False)
    assert r["loss_nats"] == pytest.approx(loss, rel=1e-5)
    assert r["predictions"] == 1000 and r["chars"] == 1001
    assert r["bpc"] == pytest.approx(loss / math.log(2), rel=1e-5)
    assert r["perplexity"] == pytest.approx(math.exp(loss), rel=1e-5)


def test_cli_train_eval_sample_and_torch_loads_the_checkpoint(tmp_path):
    torch = pytest.importorskip("torch")
    f = tmp_path / "t.txt"
    f.write_text(TEXT, encoding="utf-8")
    out = tmp_path / "run"
    run_cli(
        "train",
        f,
        "--out",
        out,
        "--hidden",
        16,
        "--layers",
        2,
        "--batch",
        4,
        "--seq-len",
        16,
        "--max-steps",
        30,
        "--eval-every",
        15,
        "--no-progress",
        "--seed",
        5,
    )
    rows = [json.loads(l) for l in (out / "metrics.jsonl").read_text().splitlines()]
    assert {r["kind"] for r in rows} == {"train", "val"}
    r = json.loads(run_cli("eval", out, f, "--json").stdout)
    assert set(r) >= {"loss_nats", "bpc", "perplexity", "chars"} and r["chars"] == len(TEXT)
    s = run_cli("sample", out, "--prime", "안녕", "--length", 40, "--seed", 1, "--top-k", 5).stdout
    assert s.startswith("안녕") and len(s.rstrip("\n")) == 42

    # The safetensors weights load straight into torch.nn.RNN / Linear and give rnnkit's loss.
    from safetensors.numpy import load_file

    w = load_file(str(out / "best" / "model.safetensors"))
    cfg = json.loads((out / "best" / "config.json").read_text())["model"]
    V, H, L = cfg["vocab_size"], cfg["hidden"], cfg["layers"]
    assert w["rnn.weight_ih_l0"].shape == (H, V)
    rnn, head = torch.nn.RNN(V, H, L), torch.nn.Linear(H, V)
    rnn.load_state_dict({k[4:]: torch.from_numpy(v) for k, v in w.items() if k.startswith("rnn.")})
    head.load_state_dict({k[5:]: torch.from_numpy(v) for k, v in w.items() if k.startswith("head.")})
    _, vocab, _ = load_lm(out)
    ids = torch.from_numpy(vocab.encode(TEXT).astype(np.int64))
    with torch.no_grad():
        y, _ = rnn(torch.nn.functional.one_hot(ids[:-1], V).float()[:, None])
        loss = torch.nn.functional.cross_entropy(head(y[:, 0]), ids[1:]).item()
    assert loss == pytest.approx(r["loss_nats"], rel=1e-4)


def test_no_carry_and_full_bptt_options_run(tmp_path):
    f = tmp_path / "t.txt"
    f.write_text(TEXT, encoding="utf-8")
    run_cli(
        "train",
        f,
        "--out",
        tmp_path / "a",
        "--hidden",
        8,
        "--layers",
        1,
        "--batch",
        2,
        "--no-carry",
        "--max-steps",
        5,
        "--no-progress",
        "--optimizer",
        "rmsprop",
        "--init",
        "orthogonal",
    )
    # --seq-len as long as a whole stream: full BPTT, one chunk per epoch.
    L = (int(len(TEXT) * 0.9) - 1) // 2
    run_cli(
        "train",
        f,
        "--out",
        tmp_path / "b",
        "--hidden",
        8,
        "--layers",
        1,
        "--batch",
        2,
        "--seq-len",
        L,
        "--max-steps",
        2,
        "--no-progress",
        "--optimizer",
        "adagrad",
        "--init",
        "identity",
        "--clip-mode",
        "value",
    )
    st = json.loads((tmp_path / "b" / "last" / "state.json").read_text())
    assert st["epoch"] == 2 and st["chunk"] == 0
