"""Options declared once: a configuration field carries its help, flag, bounds and resume rule.

A training configuration (``settings.TrainSettings`` and its subclasses) declares a setting as

    hidden: int = option(128, "hidden units H per layer", group="model", ge=1)

or, with the group given once for all the options of one section (``options_in``), as

    hidden: int = model_option(128, "hidden units H per layer", ge=1)

and everything else follows from that one line:

- ``add_flags`` makes the flag ``--hidden`` in the argparse group "model", typed as the
  default is (int), with "(default 128)" appended to the help (the default of the class the
  flags are made for, so a subclass's own default is the one shown);
- ``check_options`` refuses a value outside the bounds (``ge``/``gt``/``le``/``lt``, as in
  pydantic) or the ``choices``, and any float that is not finite, in an ``RnnkitError``
  naming the field (which the command line shows as its flag, ``flag_of``);
- ``resumable`` lists the fields a resumed run may change (``resumable=True``); the rest
  must match the checkpoint.

A subclass gives a field another default by declaring it again (``hidden: int = 256``): the
option is looked up through the class hierarchy, so it keeps its flag, bounds and resume
rule. ``again`` declares it again with some of its option changed as well (say, the help).
A field without an option (the task's ``verb``) has no flag and no checks.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

from rnnkit.errors import RnnkitError

if TYPE_CHECKING:
    from _typeshed import DataclassInstance  # any dataclass instance (a type checker's name)


@dataclass(frozen=True)
class Option:
    """What a field needs beyond its name, type and default."""

    # The flag's help, without its default; ``{word}`` placeholders are filled from
    # ``add_flags``' ``words``. A dict ``{verb: help}`` makes it a flag of those task verbs only.
    help: str | dict
    group: str  # the argparse group
    # The flag's name; "": ``--field-name``; a name without dashes is a positional argument.
    # A bool is a switch: ``--name`` (store_true) when its default is False, ``--no-name``
    # (store_false) when it is True; its help says what the switch does.
    flag: str = ""
    # Bounds, inclusive (ge, le) or not (gt, lt), and the allowed values (also the flag's).
    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None
    choices: tuple | None = None
    resumable: bool = False  # a resumed run may change it
    hidden: bool = False  # a testing flag, left out of --help
    # How a message words the bounds, after "must", where the default ("lie in (0, 1]",
    # "be positive") reads badly.
    bounds_text: str = ""
    # Shown as "(default: TEXT)" where the value itself says nothing (0 for "no limit"). Empty
    # strings, empty lists and bools show no default.
    default_text: str = ""
    argparse: tuple = ()  # (key, value) pairs passed on to add_argument: nargs, metavar, type


OPTION_FIELDS = frozenset(Option.__dataclass_fields__)


# ``option`` and ``again`` return a ``dataclasses.Field``, typed ``Any`` as ``dataclasses.field`` is,
# so that ``hidden: int = option(...)`` reads as an int field.
def option(default: Any, help: str | dict, *, group: str, **kw: Any) -> Any:
    """A dataclass field with its ``Option``: ``kw`` holds the option's other attributes, and
    anything else (nargs, metavar, type) is passed on to argparse's ``add_argument``."""
    passed_on = tuple((k, v) for k, v in kw.items() if k not in OPTION_FIELDS)
    own = {k: v for k, v in kw.items() if k in OPTION_FIELDS}
    return _field(default, Option(help=help, group=group, argparse=passed_on, **own))


def options_in(group: str) -> Callable[..., Any]:
    """``option`` with its argparse ``group`` given once, for the fields of one section: after
    ``model_option = options_in("model")``, ``model_option(128, "hidden units", ge=1)`` is
    ``option(128, "hidden units", group="model", ge=1)``."""
    return functools.partial(option, group=group)


def _field(default, opt: Option):
    if isinstance(default, list):  # a mutable default: each instance gets its own copy
        return field(default_factory=lambda: list(default), metadata={"option": opt})
    return field(default=default, metadata={"option": opt})


def option_of(cls, name: str) -> Option | None:
    """The option of field ``name``, from the nearest class in ``cls``' hierarchy declaring one."""
    for klass in cls.__mro__:
        f = getattr(klass, "__dataclass_fields__", {}).get(name)
        if f is not None and "option" in f.metadata:
            return f.metadata["option"]
    return None


def again(
    base: type[DataclassInstance], name: str, default: Any = dataclasses.MISSING, **changes: Any
) -> Any:
    """Field ``name`` of the dataclass ``base`` declared again in a subclass, with its option's
    ``changes`` (e.g. ``help=``) and, when given, a new ``default``; the rest stays."""
    if default is dataclasses.MISSING:
        f = base.__dataclass_fields__[name]
        default = f.default if f.default_factory is dataclasses.MISSING else f.default_factory()
    return _field(default, dataclasses.replace(option_of(base, name), **changes))


def flag_of(cls, name: str) -> str:
    """The flag of field ``name`` of the options dataclass ``cls``: its own ``flag`` (``--val``,
    or a positional's name), a switch's ``--name`` or, for a bool that defaults to True,
    ``--no-name``; otherwise ``--`` and the name with dashes (``--max-steps``)."""
    opt = option_of(cls, name)
    if opt is not None and opt.flag:
        return opt.flag
    f = cls.__dataclass_fields__.get(name)
    if f is not None and f.default is True:
        return "--no-" + name.replace("_", "-")
    return "--" + name.replace("_", "-")


def resumable(cls) -> frozenset:
    """The fields of ``cls`` a resumed run may change (declared ``resumable=True``)."""
    return frozenset(f.name for f in fields(cls) if (o := option_of(cls, f.name)) and o.resumable)


# ------------------------------------------------------------------------------------ checks
def _bounds_text(opt: Option, integer: bool) -> str:
    """The bounds as the message words them: "be positive", "be non-negative", "be at most
    100", or, with both ends bounded, "lie in (0, 100]"; or the option's own ``bounds_text``."""
    if opt.bounds_text:
        return opt.bounds_text
    low = opt.ge if opt.ge is not None else opt.gt
    high = opt.le if opt.le is not None else opt.lt
    if low is not None and high is not None:
        left, right = "[" if opt.ge is not None else "(", "]" if opt.le is not None else ")"
        return f"lie in {left}{low:g}, {high:g}{right}"
    if low is not None:
        if opt.gt == 0 or (integer and opt.ge == 1):
            return "be positive"
        if opt.ge == 0:
            return "be non-negative"
        return f"be at least {low:g}" if opt.ge is not None else f"be greater than {low:g}"
    if high is not None:
        return f"be at most {high:g}" if opt.le is not None else f"be below {high:g}"
    return ""


def _in_bounds(v, opt: Option) -> bool:
    return (
        (opt.ge is None or v >= opt.ge)
        and (opt.gt is None or v > opt.gt)
        and (opt.le is None or v <= opt.le)
        and (opt.lt is None or v < opt.lt)
    )


def check_options(cfg: DataclassInstance) -> None:
    """Refuse (``RnnkitError``, naming the field) a value of the dataclass instance ``cfg`` that
    breaks its option: first any float that is NaN or Inf, then bounds and choices in field
    order."""
    cls = type(cfg)
    for f in fields(cfg):
        v = getattr(cfg, f.name)
        if isinstance(v, float) and not math.isfinite(v):
            raise RnnkitError(f"`{f.name}` must be a finite number, got {v}")
    for f in fields(cfg):
        opt, v = option_of(cls, f.name), getattr(cfg, f.name)
        if opt is None:
            continue
        if opt.choices is not None and v not in opt.choices:
            raise RnnkitError(f"`{f.name}` must be one of {', '.join(opt.choices)}, got {v!r}")
        if not _in_bounds(v, opt):
            text = _bounds_text(opt, isinstance(v, int))
            raise RnnkitError(f"`{f.name}` must {text}, got {v}")


# ------------------------------------------------------------------------------------- flags
def add_flags(
    group: argparse._ArgumentGroup,
    name: str,
    defaults: DataclassInstance,
    verb: str | None = None,
    words: dict | None = None,
) -> None:
    """Add to the argparse ``group`` a flag for each option of the dataclass instance ``defaults``
    whose group is ``name``, in field order, each help ending with the default ``defaults`` holds.

    ``verb``: the task verb the flags are for (an option whose help is a dict of verbs is a
    flag of those verbs only); ``words``: the text of the helps' ``{word}`` placeholders.
    Every flag's default is None, so the caller can tell the flags given from those not.
    """
    cls = type(defaults)
    for f in fields(defaults):
        opt = option_of(cls, f.name)
        if opt is None or opt.group != name or (isinstance(opt.help, dict) and verb not in opt.help):
            continue
        value = getattr(defaults, f.name)
        help = (opt.help[verb] if isinstance(opt.help, dict) else opt.help).format_map(words or {})
        kw = {"default": None, **dict(opt.argparse)}
        flag = flag_of(cls, f.name)
        if isinstance(value, bool):  # a switch: --name turns it on, --no-name off
            kw["action"] = "store_false" if value else "store_true"
        else:
            if opt.choices is not None:
                kw["choices"] = opt.choices
            elif isinstance(value, (int, float)):
                kw.setdefault("type", type(value))
            if opt.default_text:
                help += f" (default: {opt.default_text})"
            elif value not in ("", []):
                help += f" (default {value})"
        if flag.startswith("-"):
            kw["dest"] = f.name
        kw["help"] = argparse.SUPPRESS if opt.hidden else help
        group.add_argument(flag, **kw)
