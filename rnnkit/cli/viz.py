"""``rnnkit plot``, ``rnnkit inspect``, ``rnnkit gradflow`` and ``rnnkit serve``: looking inside a model.

The flags of each verb and the lines it prints; the work is done by ``rnnkit.viz``
(``plot_curves``, ``inspect_units``, ``gradflow``, ``serve``). matplotlib (for ``plot`` and
``gradflow``) is imported when a plot is drawn, so the verbs exist, and say what to install,
without it.

Output files (``-o``, ``--json``, ``--html``) are checked before any work by
``output_path.check_output`` (suffix, not a directory, an existing writable parent; a missing suffix
becomes ``.png`` or ``.html``) and written atomically, so a bad path is one error line.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rnnkit.cli.shared_flags import Command, flag_arguments, output_flag, run_dir_arg, which_flag
from rnnkit.viz.gradflow import gradflow_report
from rnnkit.viz.inspect_forms import inspect_run
from rnnkit.viz.plot_curves import MAX_DPI, MIN_DPI, plot_curves
from rnnkit.viz.serve import make_server


# ------------------------------------------------------------------------------ plot
def cmd_plot(args: argparse.Namespace) -> int:
    out = plot_curves(args.dirs, args.output, args.smooth, args.title, args.dpi, args.labels)
    print(f"wrote {out}")
    return 0


def _plot_flags(p) -> None:
    p.add_argument(
        "dirs", nargs="+", type=Path, metavar="DIR", help="run directories (or metrics.jsonl files)"
    )
    output_flag(p, "curves.png")
    p.add_argument("--smooth", type=float, default=0.0, help="EMA weight for the training curve, in [0, 1)")
    p.add_argument(
        "--labels", nargs="+", metavar="NAME", help="legend names, one per run (default: directory names)"
    )
    p.add_argument("--title", help="figure title")
    p.add_argument(
        "--dpi", type=int, default=110, help=f"resolution of a bitmap image, in [{MIN_DPI}, {MAX_DPI}]"
    )


# --------------------------------------------------------------------------- inspect
def cmd_inspect(args: argparse.Namespace) -> int:
    data = inspect_run(**flag_arguments(inspect_run, args))
    ini, segments = data["initial"], [data, *data["more"]]
    if data["task"] == "lm":
        what = f"{len(data['chars']):,} characters"
    else:
        what = f"{sum(s['net'] == 0 for s in segments):,} examples ({data['task']})"
    print(f"wrote {data['html']}: {what}, showing layer {ini['layer']} unit {ini['unit']}")
    if data["task"] != "lm":
        for s in segments:  # an input with what the model says of it, or an output
            if s["strip"] or not s["summary"]:
                shown = " ".join(s["chars"]) if s["words"] else "".join(s["chars"])
                print(f"  {s['name']} {shown[:60]!r}" + (f" -> {s['summary']}" if s["summary"] else ""))
            else:
                print(f"  {s['name']}: {s['summary'][:60]}")
    for name, lst in data["ranking"].items():
        if lst:
            best = ", ".join(f"L{e['layer']}:{e['unit']} (r={e['r']:+.2f})" for e in lst[:3])
            print(f"  {name:14s} {best}")
        else:
            print(f"  {name:14s} (constant in this text)")
    return 0


def _inspect_flags(p) -> None:
    run_dir_arg(p)
    p.add_argument(
        "--text",
        type=Path,
        help="UTF-8 text to read (default: the run's validation text); for a form's run, one example "
        "per line (a TSV line's first field; generate: a label), default: its training data (generate: "
        "its labels)",
    )
    p.add_argument(
        "--html",
        type=Path,
        default=Path("units.html"),
        help="HTML file to write: .html or .htm (.html added if no suffix)",
    )
    p.add_argument(
        "--layer", type=int, help="layer of the unit shown first (default: the best-correlated unit)"
    )
    p.add_argument("--unit", type=int, help="unit shown first")
    p.add_argument("--max-chars", type=int, default=2000, help="read at most this many characters")
    which_flag(p)


# -------------------------------------------------------------------------- gradflow
def cmd_gradflow(args: argparse.Namespace) -> int:
    data = gradflow_report(**flag_arguments(gradflow_report, args))
    print(f"wrote {data['output']}")
    if data["json"] is not None:
        print(f"wrote {data['json']}")
    if data["part"] != "character LM":
        shape = data["shape"]
        bi = "bidirectional " if shape["dirs"] == 2 else ""
        print(f"  measured: the {data['part']}, {shape['layers']} x {shape['hidden']} {bi}tanh RNN")
    for name, layers in data["flow"].items():
        top = layers[-1]
        print(f"  {name:16s} ||dL/dh|| at distance 0: {top[0]:.3g}, at {len(top) - 1}: {top[-1]:.3g}")
    c = data["cost"]
    print(
        f"  N={c['lengths'][-1]}: "
        f"full BPTT {c['full_s'][-1] * 1e3:.0f} ms, {c['full_bytes'][-1] / 2**20:.1f} MiB; "
        f"TBPTT {c['tbptt_s'][-1] * 1e3:.0f} ms, {c['tbptt_bytes'][-1] / 2**20:.1f} MiB"
    )
    return 0


def _gradflow_flags(p) -> None:
    run_dir_arg(p, "run directory or checkpoint (fresh models copy its shapes)", nargs="?")
    p.add_argument(
        "--fresh", action="store_true", help="untrained models only (with DIR: leave its trained model out)"
    )
    g = p.add_argument_group("fresh models (without DIR)")
    g.add_argument("--hidden", type=int, help="hidden units H (default 64)")
    g.add_argument("--layers", type=int, help="layers L (default 1)")
    g.add_argument("--vocab", type=int, help="vocabulary size for random input (default 65)")
    g = p.add_argument_group("measurement")
    g.add_argument(
        "--text",
        type=Path,
        help="text to cut sequences from (default: the run's validation text, else random ids)",
    )
    g.add_argument("--steps", type=int, default=100, help="sequence length T for the gradient flow")
    g.add_argument("--batch", type=int, default=16, help="sequences averaged")
    g.add_argument(
        "--gain", type=float, default=2.0, help="also draw an orthogonal W_hh times this gain (0: leave out)"
    )
    g.add_argument("--clip", type=float, default=5.0, help="gradient-norm clipping threshold illustrated")
    g.add_argument("--chunk", type=int, default=64, help="TBPTT chunk length K")
    g.add_argument("--max-len", type=int, default=2048, help="longest sequence N timed for BPTT vs TBPTT")
    g.add_argument("--seed", type=int, default=0, help="seed for the fresh models and the windows")
    output_flag(p, "gradflow.png")
    p.add_argument("--json", type=Path, help="also write the numbers as JSON")
    which_flag(p)


# ----------------------------------------------------------------------------- serve
def cmd_serve(args: argparse.Namespace) -> int:
    srv = make_server(**flag_arguments(make_server, args))
    host, port = srv.server_address[:2]
    shown = f"[{host}]" if ":" in host else host
    print(
        f"rnnkit serve: http://{shown}:{port}/  "
        f"(model {srv.gen.model.cfg.layers} x {srv.gen.model.cfg.hidden}; Ctrl-C to stop)",
        flush=True,
    )
    if host not in ("127.0.0.1", "::1", "localhost"):
        print(
            "rnnkit serve: warning: listening beyond loopback; anyone who can reach this port can use it",
            file=sys.stderr,
            flush=True,
        )
    try:
        srv.serve_forever(poll_interval=0.2)
    finally:
        srv.server_close()
    return 0


def _serve_flags(p) -> None:
    run_dir_arg(p)
    p.add_argument("--port", type=int, default=8000, help="TCP port (0: any free port; the URL is printed)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (loopback by default)")
    p.add_argument("--max-length", type=int, default=2000, help="longest prime and generation accepted")
    p.add_argument(
        "--max-concurrent", type=int, default=2, help="generations running at once; more get HTTP 429"
    )
    p.add_argument(
        "--delay-ms", type=float, default=3.0, help="pause after each generated character, to watch it stream"
    )
    which_flag(p)
    p.add_argument("--quiet", action="store_true", help="no request log on stderr")


VERBS = (
    Command(
        "plot",
        cmd_plot,
        _plot_flags,
        "plot training curves of one or more runs",
        "Train and validation loss, in nats and bits per character, against "
        "step and wall time, from each run's metrics.jsonl. "
        "Example: rnnkit plot runs/a runs/b -o curves.png",
    ),
    Command(
        "inspect",
        cmd_inspect,
        _inspect_flags,
        "HTML page of a text coloured by a hidden unit's activation",
        "Read a text through the model and write one self-contained HTML page: each "
        "character coloured by a hidden unit's activation, the top-5 next-character "
        "probabilities on hover, and units ranked by correlation with quotes, brackets, "
        "line position and newlines. A form's run shows a few examples instead (the lines of "
        "--text, else of its training data): classify draws the class probabilities after each "
        "character under the text, tag the tag of each character, seq2seq the encoder over the "
        "source and the decoder's distribution at each output step, generate its output and "
        "distribution per step for each label. "
        "Example: rnnkit inspect runs/lm --text play.txt --html units.html",
    ),
    Command(
        "gradflow",
        cmd_gradflow,
        _gradflow_flags,
        "plot gradient flow through time and BPTT vs TBPTT cost",
        "||dL/dh_t|| against the distance from the loss for fresh models under each init "
        "and a trained model; the parameter gradient norm before and after clipping; "
        "time and peak memory of full vs truncated BPTT. Any run: a form's is measured on the "
        "stack that reads its sequence (seq2seq: the decoder). "
        "Example: rnnkit gradflow runs/lm -o gradflow.png",
    ),
    Command(
        "serve",
        cmd_serve,
        _serve_flags,
        "local web app: sample interactively and watch the hidden units",
        "Serve a page on loopback where you type a prime (at first the first line of the "
        "model's training text), choose temperature (0: greedy), top-k "
        "and length, and watch the sample stream in beside the hidden-unit heat map "
        "and the next-character distribution. For a form's run the page predicts as you type: "
        "class probabilities after each character (classify), the tags (tag), the decoded output "
        "(seq2seq), or samples for a label (generate), with the hidden units. "
        "Example: rnnkit serve runs/lm --port 8000",
    ),
)


def add_parser(sub: argparse._SubParsersAction) -> None:
    for verb in VERBS:
        verb.add_to(sub)
