"""Gradient flow through time, and what full BPTT costs next to truncated BPTT.

1. **Vanishing and exploding gradients.** Put the loss on the last step only,
   L = CE(y_T, c_{T+1}), and run BPTT by hand, recording the gradient that reaches each
   hidden state:

       g_t = dL/dh_t = dL/dh_t|_output + (g_{t+1} * (1 - h_{t+1}^2)) W_hh        (B, H)

   ||g_t|| against the distance T - t from the loss shows whether the signal survives the
   trip back: each step multiplies it by diag(1 - h^2) W_hh, so it shrinks geometrically
   when that Jacobian's norm is below 1 (vanishing) and grows when above 1 (exploding).
   Drawn for fresh models under each recurrent init (uniform, orthogonal, identity),
   an orthogonal W_hh scaled by a gain > 1 (which explodes), and a trained model. A form's
   run is measured on the stack that reads its sequence (``flow_net.py``: the classifier's
   and the tagger's, seq2seq's decoder, the generator's), with the loss on its final
   state(s); a bidirectional stack's on both directions' (distance T - t for left to right,
   t - 1 for right to left).
2. **Clipping.** The norm of the whole parameter gradient of the training loss against
   the sequence length T, before and after clipping it to the threshold c:
   g <- g * min(1, c / ||g||). Clipping caps the step size and keeps its direction. (A
   form's: the gradient of the last-step loss above, for its stack and head.)
3. **Full BPTT vs TBPTT.** Forward plus backward over N characters in one pass keeps every
   state for the backward sweep, so its memory grows with N; truncated BPTT in chunks of
   K carries the state across chunks and keeps only K steps. Time (``perf_counter``, best
   of a few) and peak allocated memory (``tracemalloc``, which sees NumPy's buffers) as N
   grows. TBPTT carries an LM's state along one stream; for a form's run an LM of the same
   stack size is timed.

    rnnkit gradflow runs/shakespeare -o gradflow.png
    rnnkit gradflow --fresh --hidden 128 --layers 1 -o gradflow.png
"""

from __future__ import annotations

import json
import math
import os
import time
import tracemalloc
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from rnnkit.data.corpus import load_prepared, read_text_file
from rnnkit.data.vocab import Vocab
from rnnkit.errors import RnnkitError
from rnnkit.models.backbone import BackboneConfig, BackboneModel
from rnnkit.models.char_rnn import CharRNN, ModelConfig
from rnnkit.models.seq2seq import Seq2Seq
from rnnkit.nn.init import RECURRENT_INITS
from rnnkit.nn.softmax_cross_entropy import softmax
from rnnkit.train.forms import Form, read_examples
from rnnkit.train.load_lm import load_lm
from rnnkit.train.load_task import load_task

from .flow_net import FlowNet, as_float64, flow_net, fresh_model
from .mpl import figure_output, pyplot, save_figure
from .output_path import check_output, write_atomically
from .run_task import task_of


# ------------------------------------------------------------------ 1. gradient flow
def _probe(net: FlowNet, ids: np.ndarray, on_step=None):
    """The loss on the stack's final state(s), backpropagated by the engine's BPTT.

    ids (T+1, B): the stack reads ids[:T]; f = [h→_T ; h←_1] of the top layer (h_T reading
    left to right), L = sum_b CE(W_hy f_b + b_y, target_b). Returns (dh0 (L*dirs, B, H),
    dL/dy (B, K), f (B, dirs*H)); ``on_step(layer, direction, i, g)`` sees every g_t.
    """
    if ids.ndim != 2 or ids.shape[0] < 2:
        raise ValueError(f"ids must be (T+1, B) with T >= 1, got {ids.shape}")
    stack, dirs = net.stack, net.stack.dirs
    x, target = ids[:-1].astype(np.int64), net.targets(ids)  # (T, B), (B,)
    B = x.shape[1]
    (_, h_n), cache = stack.forward(net.inputs(x))  # h_n (L*dirs, B, H)
    f = np.concatenate(list(h_n[-dirs:]), axis=1)  # (B, dirs*H): each direction's final state
    W, b = net.head.params["weight"], net.head.params["bias"]  # (K, dirs*H), (K,)
    dy = softmax(f @ W.T + b)  # (B, K)
    dy[np.arange(B), target] -= 1.0  # dL/dy, L = sum_b CE_b
    dh_n = np.zeros_like(h_n)  # (L*dirs, B, H): only the top layer's final states feed the loss
    dh_n[-dirs:] = (dy @ W).reshape(B, dirs, stack.H).transpose(1, 0, 2)
    _, dh0, _ = stack.backward(None, dh_n, cache, on_step=on_step)
    return dh0, dy, f


def hidden_grad_norms(model: BackboneModel | Seq2Seq, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """||dL/dh^(l)_t|| for the loss on the last step, per layer and step.

    ids (T+1, B): inputs ids[:T], the loss scores the target after the last input (the LM:
    ids[T]; other models: ``flow_net``), summed over the B sequences. Returns (norms (L, T, B)
    indexed by distance from the loss, so norms[:, 0] is h_T and norms[:, T-1] is h_1; dh0
    (L*dirs, B, H) = dL/dh_0, as ``RNNStack.backward`` returns it). The engine's own BPTT
    (``RNNStack.backward``) runs on a float64 copy of the model, so gradients that vanish or
    explode over hundreds of steps neither underflow nor overflow; its ``on_step`` hook
    records each ||g_t||. A bidirectional stack's loss sits on both directions' final states,
    so each direction's g is at distance T-1-i after i steps of its own sweep, and the norm
    at a distance is that of both directions' g together.
    """
    net = flow_net(as_float64(model))
    T, B = ids.shape[0] - 1, ids.shape[1]
    squares = np.zeros((net.stack.L, T, B))

    # g_t of one direction, i steps into its sweep
    def record(layer: int, direction: int, i: int, g: np.ndarray) -> None:
        squares[layer, T - 1 - i] += (g * g).sum(axis=1)

    dh0, _, _ = _probe(net, ids, record)
    return np.sqrt(squares), dh0


def form_stream(form: Form) -> np.ndarray | None:
    """The ids the measured stack of a form reads, from its run's training data, one example
    after the other (seq2seq's decoder: the targets; the others: the texts); None when the
    data is gone (windows of random ids then)."""
    path = Path(form.cfg.data) if form.cfg.data else None
    if path is None or not path.is_file():
        return None
    examples = read_examples(form.verb, path)[:20_000]
    first, second = form.encode(examples, str(path))
    sequences = second if form.verb in ("seq2seq", "generate") else first  # id lists
    return np.array([i for seq in sequences for i in seq], dtype=np.int64)


def batch_windows(stream: np.ndarray, T: int, B: int, seed: int = 0) -> np.ndarray:
    """B windows of T+1 consecutive ids from ``stream``, as (T+1, B) (random starts)."""
    if len(stream) < T + 1:
        raise RnnkitError(f"the text has {len(stream)} characters; `steps` {T} needs at least {T + 1}")
    rng = np.random.default_rng(seed)
    starts = rng.integers(0, len(stream) - T, size=B)
    return np.stack([np.asarray(stream[s : s + T + 1]) for s in starts], axis=1).astype(np.int64)


# ---------------------------------------------------------------------- 2. clipping
def param_grad_norm(model: BackboneModel | Seq2Seq, ids: np.ndarray) -> float:
    """The norm that clipping looks at, for ids (T+1, B): the LM's ||d(mean CE over all
    steps)/dθ||; another model's gradient of the last-step loss (``hidden_grad_norms``) with
    respect to its measured stack's and head's parameters."""
    if isinstance(model, CharRNN):
        model.flat.grad[...] = 0
        loss, _, cache = model.forward(ids[:-1], ids[1:])
        model.backward(cache)
        return float(np.linalg.norm(model.flat.grad.astype(np.float64)))
    net = flow_net(as_float64(model))
    _, dy, f = _probe(net, ids)
    squares = sum(float((g * g).sum()) for g in net.stack.grads.values())  # dW_ih, dW_hh, db of every layer
    squares += float(((dy.T @ f) ** 2).sum() + (dy.sum(axis=0) ** 2).sum())  # dW_hy, db_y
    return math.sqrt(squares)


def clip_factor(norm: float, c: float) -> float:
    """The factor gradient-norm clipping multiplies the gradient by: min(1, c / ||g||)."""
    return 1.0 if norm <= c or c <= 0 else c / norm


# --------------------------------------------------------------- 3. BPTT vs TBPTT cost
def _bptt(model, x, y, chunk: int | None):
    """Forward + backward over x, y (N, B): in one pass (chunk None) or carried chunks."""
    K = chunk or x.shape[0]
    h = None
    for s in range(0, x.shape[0], K):
        _, h, cache = model.forward(x[s : s + K], y[s : s + K], h)
        model.backward(cache)  # the gradient stops at the edge
        del cache


# Timing of each length N: at least MIN_REPEATS runs, more while under BUDGET_S seconds, at most MAX_REPEATS.
MIN_REPEATS, BUDGET_S, MAX_REPEATS = 2, 0.15, 20


def bptt_cost(model: CharRNN, lengths: Sequence[int], B: int = 8, chunk: int = 64, seed: int = 0) -> dict:
    """Seconds and peak bytes of full BPTT and TBPTT(chunk) for each sequence length N.

    Time: the best of at least ``MIN_REPEATS`` runs (more while under ``BUDGET_S`` per N),
    the two methods alternating so both see the same machine load. Memory: the peak that
    ``tracemalloc`` sees above the starting point, in a separate run.
    """
    V = model.cfg.vocab_size
    rng = np.random.default_rng(seed)
    out = {
        "lengths": list(map(int, lengths)),
        "batch": B,
        "chunk": chunk,
        "full_s": [],
        "tbptt_s": [],
        "full_bytes": [],
        "tbptt_bytes": [],
    }
    methods = (("full", None), ("tbptt", chunk))
    for N in lengths:
        ids = rng.integers(0, V, size=(N + 1, B))
        x, y = ids[:-1], ids[1:]
        best = {name: math.inf for name, _ in methods}
        start, n = time.perf_counter(), 0
        while n < MIN_REPEATS or (time.perf_counter() - start < BUDGET_S and n < MAX_REPEATS):
            for name, k in methods:
                t0 = time.perf_counter()
                _bptt(model, x, y, k)
                best[name] = min(best[name], time.perf_counter() - t0)
            n += 1
        for name, k in methods:
            tracemalloc.start()
            tracemalloc.reset_peak()
            base = tracemalloc.get_traced_memory()[0]
            _bptt(model, x, y, k)
            peak = tracemalloc.get_traced_memory()[1] - base
            tracemalloc.stop()
            out[f"{name}_s"].append(best[name])
            out[f"{name}_bytes"].append(int(peak))
    return out


# ------------------------------------------------------------------------ the report
def gradflow_data(
    trained: BackboneModel | Seq2Seq | None = None,
    cfg: BackboneConfig | None = None,
    stream: np.ndarray | None = None,
    steps: int = 100,
    batch: int = 16,
    gain: float = 2.0,
    clip: float = 5.0,
    cost_lengths: Sequence[int] = (64, 128, 256, 512, 1024, 2048),
    cost_batch: int = 8,
    chunk: int = 64,
    seed: int = 0,
) -> dict:
    """All the numbers the figure shows, as JSON-ready data.

    ``trained``: a trained model (or None); ``cfg``: the shapes of the fresh models
    (default: the trained model's); ``stream``: ids to cut windows from (default random ids).
    """
    cfg = cfg or trained.cfg
    models = [(init, fresh_model(cfg, init, 1.0, seed)) for init in RECURRENT_INITS]
    if gain and gain != 1.0:
        models.append((f"orthogonal x{gain:g}", fresh_model(cfg, "orthogonal", gain, seed)))
    if trained is not None:
        models.append(("trained", trained))
    net = flow_net(models[0][1])
    if stream is None:
        stream = np.random.default_rng(seed).integers(0, net.vocab, size=max(10_000, 4 * steps))
    ids = batch_windows(stream, steps, batch, seed)  # (T+1, B)
    clip_T = [t for t in (10, 25, 50, 100, 200) if t <= steps] or [steps]
    flow, clipping = {}, {}
    for name, m in models:
        norms, _ = hidden_grad_norms(m, ids)  # (L, T, B)
        flow[name] = norms.mean(axis=2).tolist()  # [layer][distance]
        gn = [param_grad_norm(m, ids[: t + 1]) for t in clip_T]
        clipping[name] = {"T": clip_T, "norm": gn, "clipped": [n * clip_factor(n, clip) for n in gn]}
    cost_model, timed = trained if trained is not None else models[0][1], ""
    if not isinstance(cost_model, CharRNN):  # TBPTT carries an LM's state along a stream: an LM of this size
        timed = "a character LM of the same size"
        stack = net.stack
        cost_model = CharRNN(ModelConfig(vocab_size=net.vocab, hidden=stack.H, layers=stack.L), seed=seed)
    cost = bptt_cost(cost_model, cost_lengths, cost_batch, chunk, seed=seed)
    cost["model"] = timed
    return {
        "config": cfg.to_dict(),
        "part": net.part,
        "shape": {
            "layers": net.stack.L,
            "hidden": net.stack.H,
            "dirs": net.stack.dirs,
            "vocab": net.vocab,
            "outputs": net.outputs,
        },
        "steps": steps,
        "batch": batch,
        "clip": clip,
        "flow": flow,
        "clipping": clipping,
        "cost": cost,
    }


def _label(a, xlabel: str, ylabel: str, title: str) -> None:
    """One panel's axis labels, title, grid and legend (every panel of ``plot_gradflow`` alike)."""
    a.set_xlabel(xlabel)
    a.set_ylabel(ylabel)
    a.set_title(title, fontsize=10)
    a.grid(alpha=0.3, which="both")
    a.legend(fontsize=8)


def plot_gradflow(data: dict, out: Path, dpi: int = 110) -> Path:
    """Draw ``gradflow_data``'s numbers into the image ``out`` (``.png`` if no suffix).

    Returns the path written.
    """
    out = figure_output(out)  # a bad path fails before the figure is drawn
    plt = pyplot()
    fig, ax = plt.subplots(2, 2, figsize=(12, 8.4), dpi=dpi)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    names = list(data["flow"])
    col = {n: colors[i % len(colors)] for i, n in enumerate(names)}
    shape = data["shape"]

    a = ax[0, 0]
    for n in names:
        layers = [np.where(np.asarray(v) > 0, v, np.nan) for v in data["flow"][n]]  # log axis: 0 underflowed
        d = np.arange(len(layers[-1]))
        a.semilogy(d, layers[-1], color=col[n], lw=1.8, label=n)
        if len(layers) > 1:
            a.semilogy(d, layers[0], color=col[n], lw=1, ls=":")
    sub = " (solid: top layer, dotted: layer 0)" if shape["layers"] > 1 else ""
    _label(a, "distance from the loss, T - t (steps)", "||dL/dh_t||", f"gradient reaching h_t{sub}")

    a = ax[0, 1]
    c = data["clip"]
    for n in names:
        r = data["clipping"][n]
        a.loglog(r["T"], r["norm"], color=col[n], lw=1.5, marker="o", ms=3, label=f"{n}")
        a.loglog(r["T"], r["clipped"], color=col[n], lw=1, ls="--")
    a.axhline(c, color="k", lw=1.2, ls="-.", label=f"clip threshold c = {c:g}")
    loss = "" if data["part"] == "character LM" else " (last-step loss)"
    title = f"parameter gradient norm{loss}: raw (solid), after clipping (dashed)"
    _label(a, "sequence length T", "||dL/dθ||", title)

    cost = data["cost"]
    Ns = cost["lengths"]
    a = ax[1, 0]
    a.loglog(Ns, cost["full_s"], marker="o", label="full BPTT")
    a.loglog(Ns, cost["tbptt_s"], marker="s", label=f"TBPTT, chunks of {cost['chunk']}")
    timed = f"; {cost['model']}" if cost.get("model") else ""
    _label(a, "sequence length N", "seconds (forward + backward)", f"time, batch {cost['batch']}{timed}")

    a = ax[1, 1]
    a.loglog(Ns, np.array(cost["full_bytes"]) / 2**20, marker="o", label="full BPTT")
    a.loglog(Ns, np.array(cost["tbptt_bytes"]) / 2**20, marker="s", label=f"TBPTT, chunks of {cost['chunk']}")
    title = "peak memory: grows with N for full BPTT, bounded for TBPTT"
    _label(a, "sequence length N", "peak memory (MiB, tracemalloc)", title)

    bi = "bidirectional " if shape["dirs"] == 2 else ""
    head, what = "gradient flow", f"vocabulary {shape['vocab']}"
    if data["part"] != "character LM":
        head = f"gradient flow of the {data['part']}"
        what = f"{shape['vocab']} ids in, {shape['outputs']} out"
    fig.suptitle(
        f"{head}: {shape['layers']} x {shape['hidden']} {bi}tanh RNN, {what}, "
        f"loss on the last of {data['steps']} steps, mean over {data['batch']} sequences",
        fontsize=11,
    )
    fig.tight_layout()
    try:
        return save_figure(fig, out)
    finally:
        plt.close(fig)


def gradflow_report(
    output: Path,
    json_out: Path | None = None,
    run_dir: Path | None = None,
    *,
    fresh: bool = False,
    text_file: Path | None = None,
    which: str = "best",
    hidden: int | None = None,
    layers: int | None = None,
    vocab: int | None = None,
    steps: int = 100,
    batch: int = 16,
    gain: float = 2.0,
    clip: float = 5.0,
    chunk: int = 64,
    max_len: int = 2048,
    seed: int = 0,
) -> dict:
    """Measure gradient flow and BPTT cost, draw the figure into ``output`` and, when given,
    write the numbers as JSON into ``json_out``.

    ``run_dir``: a run directory or checkpoint whose model is measured (its shapes are copied
    by the fresh models; ``fresh`` leaves the trained model out): an LM's or a form's, whose
    measured stack ``flow_net.py`` names. Without it the fresh models are LMs with ``hidden``
    units (64), ``layers`` layers (1) and a vocabulary of ``vocab`` ids (65) or of
    ``text_file``'s characters. Windows are cut from ``text_file``, else the LM run's
    validation text or the form run's training data (``form_stream``), else random ids.
    Timing runs over lengths 64, 128, ... up to ``max_len``.

    Returns ``gradflow_data``'s numbers with the paths written: ``"output"`` and ``"json"``
    (None when not asked for).
    """
    counts = {"steps": steps, "batch": batch, "hidden": hidden, "layers": layers, "vocab": vocab}
    for name, v in {**counts, "chunk": chunk, "max_len": max_len}.items():
        if v is not None and v < 1:
            raise RnnkitError(f"`{name}` must be positive, got {v}")
    if not (clip >= 0 and gain >= 0 and math.isfinite(clip) and math.isfinite(gain)):
        raise RnnkitError(f"`clip` and `gain` must be finite and non-negative, got {clip} and {gain}")
    if seed < 0:
        raise RnnkitError(f"`seed` must be non-negative, got {seed}")
    if run_dir is None and not fresh:
        raise RnnkitError("give a run directory `run_dir`, or `fresh` for untrained models only")
    # The output paths are checked before the measurements, which take a while.
    out = figure_output(output)
    json_out = check_output(json_out, None, None, "json_out") if json_out is not None else None
    if json_out is not None and os.path.realpath(json_out) == os.path.realpath(out):
        raise RnnkitError(f"`output` and `json_out` both name {out}; give two files")
    trained, cfg, stream = None, None, None  # cfg None: the trained model's (gradflow_data)
    if run_dir is not None and task_of(run_dir, which) not in (None, "lm"):
        form, trained, _ = load_task(run_dir, None, which)
        if text_file is not None:
            raise RnnkitError(f"`text_file` is for a language model's run; {run_dir} is a {form.verb} run")
        stream = form_stream(form)
    elif run_dir is not None:
        trained, lm_vocab, _ = load_lm(run_dir, which)
        if text_file is not None:
            stream = lm_vocab.encode(read_text_file(text_file)[:200_000], what=str(text_file))
        elif (Path(run_dir) / "data" / "meta.json").is_file():
            prep = load_prepared(Path(run_dir) / "data")
            if prep.vocab.chars == lm_vocab.chars:
                stream = np.array(prep.val_ids()[:200_000])
    else:
        V = vocab or 65
        if text_file is not None:
            text = read_text_file(text_file)[:200_000]
            if len(text) < steps + 1:  # an empty text would also give an empty vocabulary
                raise RnnkitError(
                    f"`text_file` {text_file} has {len(text)} characters; "
                    f"`steps` {steps} needs at least {steps + 1}"
                )
            text_vocab = Vocab.from_text(text)
            stream, V = text_vocab.encode(text), len(text_vocab)
        cfg = ModelConfig(vocab_size=V, hidden=hidden or 64, layers=layers or 1)
        cfg.validate()
    if fresh and trained is not None:  # the run's shapes, without its trained model
        cfg, trained = trained.cfg, None
    lengths = [n for n in (64, 128, 256, 512, 1024, 2048, 4096, 8192) if n <= max_len] or [max_len]
    data = gradflow_data(trained, cfg, stream, steps, batch, gain, clip, lengths, chunk=chunk, seed=seed)
    written = plot_gradflow(data, out)
    if json_out is not None:
        text = json.dumps(data, indent=1)
        write_atomically(json_out, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    return {**data, "output": written, "json": json_out}
