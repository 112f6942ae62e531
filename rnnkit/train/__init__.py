"""Training runs: configuration, the trainers, checkpoints (safetensors + JSON), resume,
the non-finite guard, progress, the metrics log, signals and evaluation."""

from __future__ import annotations
