"""Training curves: train and validation loss of one or more runs, against step and wall time.

Reads each run's ``metrics.jsonl`` (see ``metrics_log.py``) and draws two panels side by
side, loss against the optimisation step and against training time. The left axis is
nats per character, the right axis the same curve in bits per character
(bpc = nats / ln 2), so one line reads in both units. Each run gets one colour: its
training loss thin and solid (optionally smoothed), its validation loss dashed with dots.

    rnnkit plot runs/small runs/big -o curves.png
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from rnnkit.errors import RnnkitError, RnnkitWarning
from rnnkit.train.metrics_log import iter_metrics

from .mpl import figure_output, pyplot, save_figure

LN2 = math.log(2)
MIN_DPI, MAX_DPI = 10, 1000


@dataclass
class Curves:
    """One run's series. Each list holds (step, time_s, loss_nats) tuples in step order."""

    label: str
    train: list = field(default_factory=list)
    val: list = field(default_factory=list)


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
    bad = 0
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
        (c.train if r["kind"] == "train" else c.val).append(row)
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
    c.train.sort()
    c.val.sort()
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
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.6), dpi=dpi)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, run in enumerate(runs):
        col = colors[i % len(colors)]
        for ax, x_i in zip(axes, (0, 1)):
            if run.train:
                xs = [r[x_i] for r in run.train]
                ax.plot(
                    xs,
                    ema([r[2] for r in run.train], smooth),
                    color=col,
                    lw=1.1,
                    alpha=0.85,
                    label=f"{run.label} train",
                )
            if run.val:
                ax.plot(
                    [r[x_i] for r in run.val],
                    [r[2] for r in run.val],
                    color=col,
                    lw=1.6,
                    ls="--",
                    marker="o",
                    ms=4,
                    label=f"{run.label} val",
                )
    for ax, xlabel in zip(axes, ("step", "training time (s)")):
        ax.set_xlabel(xlabel)
        ax.set_ylabel("loss (nats/char)")
        ax.grid(alpha=0.3)
        sec = ax.secondary_yaxis("right", functions=(lambda n: n / LN2, lambda b: b * LN2))
        sec.set_ylabel("bits/char")
    axes[0].set_title("loss vs step")
    axes[1].set_title("loss vs wall time")
    axes[0].legend(fontsize=8, loc="upper right")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    try:
        return save_figure(fig, out)
    finally:
        plt.close(fig)
