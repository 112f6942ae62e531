"""The checks ``rnnkit serve`` makes of a request's JSON body, for the LM's page and the forms'.

A field out of range is a ``BadRequest`` (an HTTP status and one line), which the handler
answers as ``{"error": ..., "status": ...}``.
"""

from __future__ import annotations

import json
import math

MAX_TEMPERATURE = 100.0


class BadRequest(Exception):
    """A request the server refuses: (HTTP status, message)."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def check_fields(body: object, fields: set[str]) -> dict:
    """``body`` itself when it is a JSON object holding only ``fields``."""
    if not isinstance(body, dict):
        raise BadRequest(400, "the body must be a JSON object")
    extra = set(body) - fields
    if extra:
        unknown, expected = ", ".join(sorted(extra)), ", ".join(sorted(fields))
        raise BadRequest(400, f"unknown fields: {unknown}; expected {expected}")
    return body


def text(body: dict, key: str, limit: int) -> str:
    """``body[key]``: a non-empty string of at most ``limit`` characters."""
    v = body.get(key)
    if not isinstance(v, str) or not v:
        raise BadRequest(400, f"{key} must be a non-empty string")
    if len(v) > limit:
        raise BadRequest(400, f"{key} has {len(v)} characters; the limit is {limit}")
    return v


def number(body: dict, key: str, default: float | None, kind: type[int] | type[float]) -> int | float:
    """``body[key]`` (or ``default``) as ``kind`` (int or float): a finite number, whole for int."""
    v = body.get(key, default)
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise BadRequest(400, f"{key} must be a number, got {json.dumps(v)}")
    if not math.isfinite(v):
        raise BadRequest(400, f"{key} must be finite, got {v}")
    if kind is int:
        if v != int(v):
            raise BadRequest(400, f"{key} must be a whole number, got {v}")
        v = int(v)
    return kind(v)


def temperature(body: dict, default: float) -> float:
    """The sampling temperature in [0, MAX_TEMPERATURE]; 0 is greedy."""
    t = number(body, "temperature", default, float)
    if not 0 <= t <= MAX_TEMPERATURE:
        raise BadRequest(400, f"temperature must lie in [0, {MAX_TEMPERATURE:g}] (0: greedy), got {t}")
    return t


def seed(body: dict) -> int | None:
    """The optional seed: a non-negative whole number, or None."""
    if body.get("seed") is None:
        return None
    s = number(body, "seed", None, int)
    if s < 0:
        raise BadRequest(400, f"seed must be non-negative, got {s}")
    return s
