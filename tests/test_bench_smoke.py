"""Smoke test for the benchmark (``python -m bench.run``): its core functions run on a tiny
shape and produce finite numbers and a table with rows. No timing assertions."""

from __future__ import annotations

import math
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

pytest.importorskip("torch")
from bench import run  # noqa: E402
from bench.gemm import gemm_limit, model_flops  # noqa: E402


def test_quick_core_functions_give_finite_numbers_and_a_table(tmp_path):
    train = run.bench_training([(8, 2, 4)], [1, 2], reps=1, budget_s=0.001, threads=None, use_jax=False)
    assert len(train) == 2
    for r in train:
        assert set(r["time"]) == {"rnnkit", "torch", "rnnkit-torch"}
        assert all(math.isfinite(t) and t > 0 for t in r["time"].values())
        assert math.isfinite(r["limit_s"]) and r["limit_s"] > 0 and r["flops"] > 0
    sampling = run.bench_sampling(8, 1, 5, reps=1, budget_s=0.001, threads=None, use_jax=False)
    assert all(math.isfinite(t) and t > 0 for t in sampling["time"].values())
    assert math.isfinite(sampling["limit_s"]) and sampling["limit_s"] > 0
    mem = [run.memprobe("rnnkit", 8, 1, 2, 4)]
    assert mem[0]["peak_mb"] > 0 and math.isfinite(mem[0]["step_mb"])
    info = {
        "cpu": "test",
        "cpus": 1,
        "python": "3",
        "numpy": "2",
        "blas": "?",
        "torch": "?",
        "jax": "-",
        "threads": 1,
    }
    md = run.render_markdown("python -m bench.run --quick", info, train, sampling, [], None, None, [])
    table = [l for l in md.splitlines() if l.startswith("| 8 |")]
    assert len(table) == 2 and "python -m bench.run --quick" in md
    head = next(l for l in md.splitlines() if l.startswith("| H |"))
    assert "rnnkit torch engine" in head and "PyTorch / limit" in head
    assert all(l.count("|") == head.count("|") for l in table)  # every row fills every column
    assert "GEMV limit" in md


def test_model_flops_formula():
    H, L, B, T, V = 32, 2, 4, 8, 65
    assert model_flops(H, L, B, T, V) == 6 * T * B * ((2 * L - 1) * H * H + H * V)
    assert gemm_limit(4, 1, 2, 3, 5, reps=1, min_time=0.0)["limit_s"] > 0


def test_outside_limit_measures_every_part_and_its_floor():
    from bench import outside_limit

    t = outside_limit.measure(8, 1, 2, 4, reps=1, budget_s=0.001)  # unrounded ms
    assert len(t) == 9 and all(math.isfinite(v) and v > 0 for v in t.values()), t
    # the floor counts the limit, the faster of the two dW_ih ways (not both) and the rest
    dW = min(t["dW_ih (product, as rnnkit)"], t["dW_ih (sort + reduceat)"])
    rest = t["softmax + cross-entropy + gradient"] + t["tanh and 1 - h^2 (all layers)"] + t["clip + Adam"]
    assert t["floor"] == pytest.approx(t["GEMM limit"] + dW + rest)


def test_torch_engine_note_counts_the_shapes_where_it_beat_pytorch():
    rows = [
        {"time": {"torch": 2.0, "rnnkit-torch": 1.0}},
        {"time": {"torch": 1.0, "rnnkit-torch": 2.0}},
        {"time": {"torch": 3.0, "rnnkit-torch": 2.5}},
    ]
    assert "faster than plain PyTorch at 2 of 3 shapes" in run.torch_engine_note(rows)
    assert run.torch_engine_note([{"time": {"torch": 1.0}}]) == ""


def test_the_report_names_the_blas_kernels_it_ran():
    """The BLAS build and the kernels it picked (threadpoolctl's 'architecture': e.g. Haswell
    where OPENBLAS_CORETYPE forces AVX2, SkylakeX on an AVX-512 machine left alone)."""
    from threadpoolctl import threadpool_info

    arch = next(d.get("architecture") for d in threadpool_info() if d.get("user_api") == "blas")
    assert f"{arch} kernels" in run.machine_info(1)["blas"]


def test_step_time_prints_the_median_milliseconds(capsys):
    from bench import step_time

    step_time.main(["8", "1"])
    ms = float(capsys.readouterr().out)
    assert math.isfinite(ms) and ms > 0
