"""Flags several verbs declare alike: the run directory, ``--which`` checkpoint, ``-o`` file,
the engine, and the sampling flags of ``rnnkit sample`` and ``rnnkit generate sample``."""

from __future__ import annotations

import argparse
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rnnkit.cli.messages import flag
from rnnkit.decode.sampler import Sampling

RUN_DIR_HELP = "run directory (its best checkpoint) or a checkpoint directory"
IMAGE_HELP = "image file to write: .png, .pdf, .svg, ... (.png added if no suffix)"


def verb_parser(
    sub: argparse._SubParsersAction,
    name: str,
    func: Callable[[argparse.Namespace], int],
    help: str,
    description: str,
    **kw: Any,
) -> argparse.ArgumentParser:
    """The sub-parser of verb ``name``, which runs ``func(args)``."""
    p = sub.add_parser(name, help=help, description=description, **kw)
    p.set_defaults(func=func)
    return p


@dataclass(frozen=True)
class Command:
    """A verb (``rnnkit plot``) or a form's action (``rnnkit classify predict``): its name, the
    command it runs, the flags it takes, and its help."""

    name: str
    func: Callable[[argparse.Namespace], int]
    flags: Callable[[argparse.ArgumentParser], None]
    help: str
    description: str

    def add_to(self, sub: argparse._SubParsersAction) -> None:
        """Its sub-parser, with its flags, in ``sub`` (``add_subparsers`` 's)."""
        self.flags(verb_parser(sub, self.name, self.func, self.help, self.description))


def flag_arguments(func: Callable[..., Any], args: argparse.Namespace) -> dict:
    """The keyword arguments of ``func`` that the parsed flags ``args`` give: each parameter from
    the flag of its own name (``max_len`` from ``--max-len``) or, failing that, from the flag that
    error messages name it by (``messages.flag``: ``text_file`` from ``--text``, ``run_dir`` from
    DIR). A parameter no flag of the verb sets keeps its default."""
    given = {}
    for name in inspect.signature(func).parameters:
        dest = name if hasattr(args, name) else flag(name).lstrip("-").replace("-", "_").lower()
        if hasattr(args, dest):
            given[name] = getattr(args, dest)
    return given


def run_dir_arg(p: argparse.ArgumentParser, help: str = RUN_DIR_HELP, **kw: Any) -> None:
    """The positional DIR: a run directory or a checkpoint directory."""
    p.add_argument("dir", type=Path, help=help, **kw)


def which_flag(p: argparse.ArgumentParser) -> None:
    """``--which best|last``: the checkpoint of a run directory to load."""
    p.add_argument(
        "--which", choices=["best", "last"], default="best", help="which checkpoint of a run directory"
    )


def output_flag(p: argparse.ArgumentParser, default: str, help: str = IMAGE_HELP) -> None:
    """``-o/--output FILE``, the file a verb writes."""
    p.add_argument("-o", "--output", type=Path, default=Path(default), help=help)


def engine_flags(p: argparse.ArgumentParser) -> None:
    """``--engine`` and ``--device`` of the verbs that load a model (``train`` verbs have them
    as options of their configuration)."""
    g = p.add_argument_group("engine")
    g.add_argument(
        "--engine",
        choices=["numpy", "torch"],
        default="numpy",
        help="numpy (default; no dependencies) or torch (torch.nn.RNN, cuDNN on a GPU; needs the torch "
        "extra). Not saved: a checkpoint trained with one engine loads with the other",
    )
    g.add_argument(
        "--device",
        default=None,
        help="torch engine: cpu, cuda or cuda:N (default cpu). Under torchrun, cuda means cuda:LOCAL_RANK",
    )


def sampling_flags(p: argparse.ArgumentParser, temperature: float, prime_help: str, beam_help: str) -> None:
    """The one sampling vocabulary: ``--temperature`` (0 is greedy), ``--top-k``, ``--top-p``,
    ``--greedy``, ``--beam``, ``--seed`` and ``--prime``, in the group "sampling".
    ``temperature`` is the verb's default; ``prime_help`` and ``beam_help`` say what a prime
    and a beam mean to it. ``sampling_of`` reads (and checks) the values."""
    g = p.add_argument_group("sampling")
    g.add_argument("--prime", help=prime_help)
    g.add_argument(
        "--temperature",
        type=float,
        default=temperature,
        help=f"divide logits by this: below 1 more conservative, 0 greedy (default {temperature:g})",
    )
    g.add_argument("--top-k", type=int, default=0, help="sample among the K most likely characters (0: all)")
    g.add_argument(
        "--top-p", type=float, default=1.0, help="sample among the smallest set with this much probability"
    )
    g.add_argument("--greedy", action="store_true", help="always take the most likely character")
    g.add_argument("--beam", type=int, default=0, help=beam_help)
    g.add_argument("--seed", type=int, default=None, help="seed for reproducible samples")


def sampling_of(args: argparse.Namespace) -> Sampling:
    """The sampling flags' settings; flags no decoder can use are refused, each in one line
    naming its flag."""
    return Sampling(args.temperature, args.top_k, args.top_p, args.greedy, args.beam, args.seed)
