"""The PyTorch engine (``--engine torch``) against the NumPy engine.

Same weights in (both engines draw the same init for a seed), same loss, final state,
dL/dh0 and every parameter gradient out, to float32 rounding. Checkpoints move between
the engines both ways. The GPU layout (flat buffers + optimizer on the device) is tested
on CPU with ``device_optimizer=True``; the CUDA cases skip where there is no GPU.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from rnnkit.cli import main  # noqa: E402
from rnnkit.models.char_rnn import CharRNN, ModelConfig  # noqa: E402
from rnnkit.nn.mask import lengths_to_mask  # noqa: E402
from rnnkit.optim.optimizers import OPTIMIZERS, clip_gradients, make_optimizer  # noqa: E402
from rnnkit.torch.lm_engine import TorchCharRNN, TorchFlatOptimizer, clip_gradients_torch  # noqa: E402

TOL = dict(rtol=2e-5, atol=2e-6)
CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU")
REPO = Path(__file__).resolve().parents[1]


def grads_of(m) -> np.ndarray:
    g = m.flat.grad
    return g if isinstance(g, np.ndarray) else g.detach().cpu().numpy()


def compare(cfg: ModelConfig, masked: bool, device="cpu", device_optimizer=None, T=6, B=4):
    ref = CharRNN(cfg, seed=7)
    m = TorchCharRNN(cfg, seed=7, device=device, device_optimizer=device_optimizer)
    assert m.flat.names == ref.flat.names
    for n, a in m.flat.state_dict().items():  # same init for a seed
        np.testing.assert_array_equal(a, ref.flat.state_dict()[n])
    rng = np.random.default_rng(cfg.layers * 10 + cfg.embed)
    V, H, L = cfg.vocab_size, cfg.hidden, cfg.layers
    ids, tg = rng.integers(0, V, (T, B)), rng.integers(0, V, (T, B))  # (T, B)
    h0 = rng.standard_normal((L, B, H)).astype(np.float32)  # (L, B, H)
    dh_n = rng.standard_normal((L, B, H)).astype(np.float32)
    lengths = [min(n, T) for n in ([T, 2, 5, 1] * B)[:B]]
    mask = lengths_to_mask(lengths, T, dtype=np.float32) if masked else None
    l1, hn1, c1 = ref.forward(ids, tg, h0, mask)
    d1 = ref.backward(c1, dh_n=dh_n)
    l2, hn2, c2 = m.forward(ids, tg, h0, mask)
    d2 = m.backward(c2, dh_n=dh_n)
    assert abs(l1 - l2) < 1e-5 and c1["count"] == c2["count"]

    def close(got, want, name=""):
        tol = TOL
        if device == "cuda":
            # cuDNN/cuBLAS sum over T*B in their own order: float32 rounding then reaches
            # ~1e-5 of the largest entries (seen on an H200), so the bound scales with them.
            tol = dict(rtol=1e-4, atol=1e-5 * max(1.0, float(np.abs(want).max())))
        np.testing.assert_allclose(got, want, err_msg=name, **tol)

    close(hn2, hn1)
    close(d2, d1)
    for n in ref.flat.names:
        off, k = ref.flat.offsets[n]
        close(grads_of(m)[off : off + k], ref.flat.grad[off : off + k], n)
    lg1, h1 = ref.step(ids[0], h0)
    lg2, h2 = m.step(ids[0], h0)
    close(lg2, lg1)
    close(h2, h1)
    return ref, m


@pytest.mark.parametrize("masked", [False, True], ids=["dense", "masked"])
@pytest.mark.parametrize("embed", [0, 3], ids=["onehot", "embed3"])
@pytest.mark.parametrize("L", [1, 2])
@pytest.mark.parametrize("layout", ["host", "device"])
def test_torch_engine_equals_numpy_engine(L, embed, masked, layout):
    compare(
        ModelConfig(vocab_size=7, hidden=5, layers=L, embed=embed),
        masked,
        device_optimizer=layout == "device",
    )


def test_cpu_parameters_are_zero_copy_views():
    m = TorchCharRNN(ModelConfig(vocab_size=5, hidden=4, layers=2), seed=0)
    for name, p in m.net.named_parameters():
        assert np.shares_memory(p.detach().numpy(), m.flat.data), name
        assert np.shares_memory(p.grad.numpy(), m.flat.grad), name
    m.flat.data[:] = 0.5  # the optimizer writes here
    assert float(m.net.rnn.weight_hh_l1.detach()[0, 0]) == 0.5


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_device_optimizer_and_clipping_match_numpy(name):
    """The GPU-resident optimizer: same rules, same state layout as optim.py."""
    cfg = ModelConfig(vocab_size=6, hidden=4, layers=1)
    ref, m = CharRNN(cfg, seed=1), TorchCharRNN(cfg, seed=1, device_optimizer=True)
    adam = {"weight_decay": 0.01, "betas": (0.9, 0.95)}
    hp = {"sgd": {"momentum": 0.9}, "adam": adam, "adamw": adam}.get(name, {})
    o1, o2 = make_optimizer(name, ref.flat, **hp), m.make_optimizer(name, **hp)
    assert isinstance(o2, TorchFlatOptimizer)
    rng = np.random.default_rng(0)
    for _ in range(4):
        g = rng.standard_normal(len(ref.flat)).astype(np.float32)
        ref.flat.grad[:] = g
        m.flat.grad.copy_(torch.from_numpy(g))
        n1 = clip_gradients(ref.flat.grad, "norm", 3.0)
        n2 = m.clip_gradients("norm", 3.0)
        assert abs(n1 - n2) < 1e-4 * n1
        o1.step(0.01)
        o2.step(0.01)
    np.testing.assert_allclose(m.flat.data.numpy(), ref.flat.data, rtol=1e-5, atol=1e-6)
    s1, s2 = o1.state_dict(), o2.state_dict()
    assert sorted(s1) == sorted(s2)
    for k in s1:
        np.testing.assert_allclose(s2[k], s1[k], rtol=1e-5, atol=1e-7, err_msg=k)
    o3 = make_optimizer(name, ref.flat, **hp)  # state moves between engines
    o3.load_state_dict(s2)
    g = torch.full((5,), 10.0)
    assert clip_gradients_torch(g, "value", 1.0) == pytest.approx(float(np.sqrt(500)))
    assert float(g.max()) == 1.0


# ------------------------------------------------------------- checkpoints
COMMON = [
    "--hidden",
    "12",
    "--layers",
    "2",
    "--seq-len",
    "8",
    "--batch",
    "4",
    "--eval-every",
    "4",
    "--save-every",
    "4",
    "--val-chars",
    "300",
    "--no-progress",
    "--optimizer",
    "adam",
    "--warmup",
    "0",
    "--schedule",
    "constant",
]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("text")
    rng = np.random.default_rng(0)
    words = ["the", "quick", "brown", "fox", "jumps", "over", "a", "lazy", "dog"]
    (d / "in.txt").write_text(" ".join(rng.choice(words, 2500)) + "\n", encoding="utf-8")
    return d / "in.txt"


def weights(run: Path, which="last") -> dict:
    from safetensors.numpy import load_file

    return load_file(str(run / which / "model.safetensors"))


def assert_same_weights(a: dict, b: dict, rtol=1e-4, atol=1e-5):
    assert sorted(a) == sorted(b)
    for k in a:
        np.testing.assert_allclose(b[k], a[k], rtol=rtol, atol=atol, err_msg=k)


@pytest.mark.parametrize("first,second", [("numpy", "torch"), ("torch", "numpy")])
def test_checkpoints_interchange(tmp_path, corpus, capsys, first, second):
    """Train 4 steps with one engine, resume to 8 with the other == 8 steps with one engine."""
    full, half = tmp_path / "full", tmp_path / "half"
    assert main(["train", str(corpus), "--out", str(full), "--max-steps", "8", *COMMON]) == 0
    assert (
        main(["train", str(corpus), "--out", str(half), "--max-steps", "4", "--engine", first, *COMMON]) == 0
    )
    assert (
        main(["train", "--resume", str(half), "--max-steps", "8", "--engine", second, "--no-progress"]) == 0
    )
    assert_same_weights(weights(full), weights(half))
    capsys.readouterr()
    scores = {}
    for e in ("numpy", "torch"):  # eval with either engine
        assert main(["eval", str(half), str(corpus), "--json", "--engine", e]) == 0
        scores[e] = json.loads(capsys.readouterr().out)["loss_nats"]
    assert scores["numpy"] == pytest.approx(scores["torch"], abs=1e-5)
    texts = {}
    for e in ("numpy", "torch"):  # and sample with either
        assert (
            main(["sample", str(half), "--greedy", "--length", "40", "--prime", "the ", "--engine", e]) == 0
        )
        texts[e] = capsys.readouterr().out
    assert texts["numpy"] == texts["torch"] and len(texts["numpy"]) == 45


def test_device_flag_needs_torch_engine(corpus, tmp_path, capsys):
    assert main(["train", str(corpus), "--out", str(tmp_path / "r"), "--device", "cuda", *COMMON]) == 2
    assert "needs --engine torch" in capsys.readouterr().err


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_cuda_without_gpu_is_one_clear_line(corpus, tmp_path, capsys):
    assert (
        main(
            [
                "train",
                str(corpus),
                "--out",
                str(tmp_path / "r"),
                "--engine",
                "torch",
                "--device",
                "cuda",
                "--max-steps",
                "2",
                *COMMON,
            ]
        )
        == 2
    )
    err = capsys.readouterr().err.strip()
    assert err.startswith("rnnkit: error: --device cuda: PyTorch sees no CUDA GPU") and "\n" not in err


# ----------------------------------------------------------- torch missing
BLOCK = "import sys; sys.modules['torch'] = None; from rnnkit.cli import main; sys.exit(main(sys.argv[1:]))"


def run_without_torch(*args, cwd):
    return subprocess.run(
        [sys.executable, "-c", BLOCK, *args], cwd=cwd, capture_output=True, text=True, timeout=120
    )


def test_without_torch_numpy_engine_works_and_torch_flag_is_one_line(tmp_path, corpus):
    r = run_without_torch(
        "train", str(corpus), "--out", str(tmp_path / "r"), "--max-steps", "2", *COMMON, cwd=tmp_path
    )
    assert r.returncode == 0, r.stderr
    for verb in (
        ["train", str(corpus), "--out", str(tmp_path / "r2")],
        ["eval", str(tmp_path / "r"), str(corpus)],
        ["sample", str(tmp_path / "r")],
    ):
        r = run_without_torch(*verb, "--engine", "torch", cwd=tmp_path)
        assert r.returncode == 2
        assert r.stderr == "rnnkit: error: --engine torch needs PyTorch: pip install 'rnnkit[torch]'\n"


# -------------------------------------------------------------------- CUDA
@CUDA
@pytest.mark.parametrize("embed", [0, 3], ids=["onehot", "embed3"])
@pytest.mark.parametrize("L", [1, 2])
def test_cuda_engine_equals_numpy_engine(L, embed, no_tf32):
    compare(ModelConfig(vocab_size=7, hidden=5, layers=L, embed=embed), masked=False, device="cuda")
    compare(
        ModelConfig(vocab_size=65, hidden=64, layers=L, embed=embed), masked=True, device="cuda", T=16, B=8
    )


@CUDA
def test_cuda_trained_checkpoint_continues_on_cpu(tmp_path, corpus, capsys):
    full, half = tmp_path / "full", tmp_path / "half"
    assert main(["train", str(corpus), "--out", str(full), "--max-steps", "8", *COMMON]) == 0
    assert (
        main(
            [
                "train",
                str(corpus),
                "--out",
                str(half),
                "--max-steps",
                "4",
                "--engine",
                "torch",
                "--device",
                "cuda",
                *COMMON,
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "train",
                "--resume",
                str(half),
                "--max-steps",
                "8",
                "--engine",
                "numpy",
                "--device",
                "cpu",
                "--no-progress",
            ]
        )
        == 0
    )
    assert_same_weights(weights(full), weights(half), rtol=1e-3, atol=1e-4)
    assert main(["sample", str(half), "--greedy", "--length", "20", "--engine", "numpy"]) == 0
