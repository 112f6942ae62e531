"""The Python API: models you fit, evaluate, save, load and sample, over the CLI's code.

CharLM      rnnkit train / eval / sample
Classifier  rnnkit classify        Tagger     rnnkit tag
Seq2Seq     rnnkit seq2seq         Generator  rnnkit generate
load        any run or checkpoint directory, as the right one of these
"""

from __future__ import annotations

from .char_lm import CharLM
from .classifier import Classifier
from .generator import Generator
from .load import load
from .seq2seq import Seq2Seq
from .tagger import Tagger

__all__ = ["CharLM", "Classifier", "Generator", "Seq2Seq", "Tagger", "load"]
