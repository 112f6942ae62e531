"""The four input/output forms of an RNN as models for people's own data (issue 8).

| form                         | model                  | file            |
|------------------------------|------------------------|-----------------|
| many-to-one                  | ``SequenceClassifier`` | classifier.py   |
| one-to-many                  | ``ConditionedGenerator`` | generator.py  |
| many-to-many, encoder-decoder| ``Seq2Seq``            | seq2seq.py      |
| many-to-many, synchronous    | ``SequenceTagger``     | tagger.py       |

All are built from the engine's ``RNNStack``, ``Embedding``, ``Linear`` and
``softmax_cross_entropy``; each keeps its parameters in a ``FlatParams`` at ``.flat``, so
``rnnkit.optim`` trains any of them. Data: ``tsv.py`` (readers), ``batch.py`` (padding,
masks, minibatches), ``vocab.py``; ``decoding.py`` (greedy, sampling, beam search);
``baselines.py`` and ``metrics.py`` for evaluation.
"""
from .batch import minibatches, pad_batch, teacher_forcing
from .classifier import ClassifierConfig, SequenceClassifier
from .generator import ConditionedGenerator, GeneratorConfig
from .seq2seq import Seq2Seq, Seq2SeqConfig
from .tagger import SequenceTagger, TaggerConfig
from .vocab import LabelSet, TokenVocab

__all__ = ["ClassifierConfig", "SequenceClassifier", "ConditionedGenerator", "GeneratorConfig",
           "Seq2Seq", "Seq2SeqConfig", "SequenceTagger", "TaggerConfig", "LabelSet", "TokenVocab",
           "minibatches", "pad_batch", "teacher_forcing"]
