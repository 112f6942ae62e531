"""Training curves: each run's own metrics, from its ``metrics.jsonl``, one panel per metric.

Reads each run's ``metrics.jsonl`` (see ``metrics_log.py``) and the task it trained
(``config.json``'s ``task``: ``lm`` or a form's verb), which decides the panels and units:

    lm, generate   loss (nats/char) against the step and against training time; the right
                   axis gives the same curve in bits/char (bpc = nats / ln 2)
    classify       loss (nats/example) and accuracy against the step
    tag            loss (nats/tag) and accuracy (and boundary F1 for 0/1 tags)
    seq2seq        loss (nats/token) and token error rate and exact match

Each run gets one colour: its training loss thin and solid (optionally smoothed), its
validation values dashed with dots. Runs of different tasks are refused: their losses
count different things.

    rnnkit plot runs/small runs/big -o curves.png
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from rnnkit.errors import RnnkitError, RnnkitWarning
from rnnkit.train import checkpoint as ckpt
from rnnkit.train.metrics_log import iter_metrics

from .mpl import figure_output, pyplot, save_figure
from .run_task import checkpoint_config

LN2 = math.log(2)
MIN_DPI, MAX_DPI = 10, 1000


# The loss of each task, per what it is counted (None: a metrics file of unknown task).
LOSS_UNIT = {
    "lm": "nats/char",
    "generate": "nats/char",  # end marker included
    "classify": "nats/example",
    "tag": "nats/tag",
    "seq2seq": "nats/token",
    None: "nats",
}
BITS_TASKS = ("lm", "generate")  # losses per character: a bits/char axis beside the nats
# The validation metrics drawn, in panel order, with their axis labels.
METRICS = {
    "accuracy": "accuracy",
    "f1": "boundary F1",
    "token_error_rate": "token error rate",
    "exact_match": "exact match",
}


@dataclass
class Curves:
    """One run's series. ``train`` and ``val`` hold (step, time_s, loss_nats) tuples in step
    order; ``metrics`` maps a validation metric (``METRICS``) to its (step, time_s, value) tuples."""

    label: str
    train: list = field(default_factory=list)
    val: list = field(default_factory=list)
    metrics: dict = field(default_factory=dict)
    task: str | None = None
    words: bool = False  # seq2seq: the targets are words (else characters)


def run_config(metrics_file: Path) -> dict:
    """The ``config.json`` of the run that wrote ``metrics_file`` (its last or best checkpoint),
    else its run marker's ``{"train": ...}``; {} when neither can be read."""
    run = metrics_file.parent
    for name in ("last", "best"):
        cfg = checkpoint_config(run / name)
        if cfg:
            return cfg
    return ckpt.read_run_marker(run) if ckpt.is_run_dir(run) else {}


def run_task(cfg: dict, rows_have_chars: bool) -> str | None:
    """The task of a run from its ``run_config``: ``config.json``'s ``task``; else the run
    marker's verb (none: the LM); else ``lm`` when the rows count characters per second or
    perplexity (a metrics file copied out of its run), None when nothing says."""
    task = cfg.get("task")
    if task is None and isinstance(cfg.get("train"), dict):
        task = cfg["train"].get("verb") or "lm"
    if task is None and rows_have_chars:
        task = "lm"
    return task if isinstance(task, str) and task in LOSS_UNIT else None


def metrics_path(d: Path) -> Path:
    """A run directory's metrics file (a ``metrics.jsonl`` file may be given directly)."""
    p = Path(d)
    if p.is_file():
        return p
    if (p / "metrics.jsonl").is_file():
        return p / "metrics.jsonl"
    raise RnnkitError(f"{p} has no metrics.jsonl; give a run directory written by `rnnkit train`")


def load_curves(d: Path, label: str | None = None) -> Curves:
    """One run's curves. Lines that are not JSON objects, and train or val rows without a
    step and a finite loss, are skipped with one warning (``RnnkitWarning``) that counts them;
    a file with no usable row is refused."""
    path = metrics_path(d)
    c = Curves(label or (path.parent.name if path.name == "metrics.jsonl" else path.stem))
    bad, lm_rows = 0, False
    for r in iter_metrics(path):
        if r is None:
            bad += 1  # binary, not UTF-8, or cut short by a crash
            continue
        if r.get("kind") not in ("train", "val"):
            continue  # a row of another kind: not a curve of this plot
        try:
            row = (int(r["step"]), float(r.get("time_s", math.nan)), float(r["loss"]))
        except (KeyError, TypeError, ValueError, OverflowError):  # OverflowError: int(inf)
            row = None
        if row is None or not math.isfinite(row[2]):
            bad += 1
            continue
        lm_rows = lm_rows or "chars_per_s" in r or "perplexity" in r
        (c.train if r["kind"] == "train" else c.val).append(row)
        if r["kind"] == "val":
            for name in METRICS:
                v = r.get(name)
                if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
                    c.metrics.setdefault(name, []).append((row[0], row[1], float(v)))
    if not c.train and not c.val:
        raise RnnkitError(
            f"{path} holds no train or val rows with step and loss"
            + (f" ({bad:,} malformed lines)" if bad else "")
        )
    if bad:
        warnings.warn(
            RnnkitWarning(f"{path}: skipped {bad:,} malformed lines (not JSON, or no step and finite loss)"),
            stacklevel=2,
        )
    for series in (c.train, c.val, *c.metrics.values()):
        series.sort()
    cfg = run_config(path)
    c.task = run_task(cfg, lm_rows)
    train_cfg = cfg.get("train")
    c.words = isinstance(train_cfg, dict) and train_cfg.get("target_tokens") == "words"
    return c


def _labels(dirs: list[Path]) -> list[str]:
    """Run names for the legend: the directory name, or the whole path where names repeat."""
    names = [metrics_path(d).parent.name if Path(d).is_dir() else Path(d).stem for d in dirs]
    return [str(d) if names.count(n) > 1 else n for n, d in zip(names, dirs)]


def ema(values: list[float], alpha: float) -> list[float]:
    """Exponential moving average with weight ``alpha`` on the past (0: no smoothing)."""
    out, s = [], None
    for v in values:
        s = v if s is None else alpha * s + (1 - alpha) * v
        out.append(s)
    return out


@dataclass
class Panel:
    """One axes of the figure: ``series`` ("loss" or a ``METRICS`` name) against ``x``
    (0: the step, 1: training time), labelled ``ylabel``; ``bits`` adds a bits/char axis."""

    title: str
    series: str
    x: int
    ylabel: str
    bits: bool = False


def task_of(runs: list[Curves]) -> str | None:
    """The one task of ``runs`` (None: unknown); runs of different tasks are refused."""
    tasks = {r.task for r in runs if r.task is not None}
    if len(tasks) > 1:
        named = ", ".join(f"{r.label}: {r.task}" for r in runs if r.task is not None)
        raise RnnkitError(f"the runs trained different tasks ({named}); plot runs of one task together")
    return tasks.pop() if tasks else None


def panels(runs: list[Curves]) -> list[Panel]:
    """The figure's panels: the loss against the step, then each validation metric the runs
    logged; with no metric (the LM, generate), the loss against training time instead."""
    task = task_of(runs)
    unit, bits = LOSS_UNIT[task], task in BITS_TASKS
    out = [Panel("loss vs step", "loss", 0, f"loss ({unit})", bits)]
    words = all(r.words for r in runs)
    for name, label in METRICS.items():
        if any(name in r.metrics for r in runs):
            if name == "token_error_rate" and task == "seq2seq" and not words:
                label = "character error rate"
            out.append(Panel(f"validation {label}", name, 0, label))
    if len(out) == 1:
        out.append(Panel("loss vs wall time", "loss", 1, f"loss ({unit})", bits))
    return out


def _draw(ax, run: Curves, panel: Panel, color, smooth: float) -> None:
    """One run's lines in one panel: the training loss thin and solid, validation dashed with dots."""
    x_i = panel.x
    if panel.series == "loss":
        train, val = run.train, run.val
    else:
        train, val = [], run.metrics.get(panel.series, [])
    if train:
        x, y = [r[x_i] for r in train], ema([r[2] for r in train], smooth)
        ax.plot(x, y, color=color, lw=1.1, alpha=0.85, label=f"{run.label} train")
    if val:
        x, y = [r[x_i] for r in val], [r[2] for r in val]
        ax.plot(x, y, color=color, lw=1.6, ls="--", marker="o", ms=4, label=f"{run.label} val")


def plot_curves(
    dirs: list[Path],
    out: Path,
    smooth: float = 0.0,
    title: str | None = None,
    dpi: int = 110,
    labels: list[str] | None = None,
) -> Path:
    """Draw the runs in ``dirs`` into the image ``out``; returns the path written.

    ``out`` without a suffix gets ``.png``; any suffix matplotlib can save is accepted.
    """
    if not 0 <= smooth < 1:
        raise RnnkitError(f"`smooth` must lie in [0, 1), got {smooth}")
    if not MIN_DPI <= dpi <= MAX_DPI:  # 0 or less fails in matplotlib; 100000 asks for terabytes
        raise RnnkitError(f"`dpi` must lie in [{MIN_DPI}, {MAX_DPI}], got {dpi}")
    if labels and len(labels) != len(dirs):
        raise RnnkitError(f"`labels` gives {len(labels)} names for {len(dirs)} runs")
    out = figure_output(out)  # a bad output path fails here, before the runs are read
    runs = [load_curves(d, lab) for d, lab in zip(dirs, labels or _labels(dirs))]
    figure = panels(runs)
    plt = pyplot()
    fig, axes = plt.subplots(1, len(figure), figsize=(6 * len(figure), 4.6), dpi=dpi, squeeze=False)
    axes = axes[0]
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, run in enumerate(runs):
        for ax, panel in zip(axes, figure):
            _draw(ax, run, panel, colors[i % len(colors)], smooth)
    for ax, panel in zip(axes, figure):
        ax.set_xlabel(("step", "training time (s)")[panel.x])
        ax.set_ylabel(panel.ylabel)
        ax.set_title(panel.title)
        ax.grid(alpha=0.3)
        if panel.bits:
            sec = ax.secondary_yaxis("right", functions=(lambda n: n / LN2, lambda b: b * LN2))
            sec.set_ylabel("bits/char")
    axes[0].legend(fontsize=8, loc="upper right")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    try:
        return save_figure(fig, out)
    finally:
        plt.close(fig)
