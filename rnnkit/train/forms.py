"""The four task forms as plug-ins of the generic training loop (``trainer.py``).

A ``Form`` knows, for one verb, how to read its TSV, build vocabularies from the training
examples, build the model from a training configuration, compute a training loss on a
minibatch of example indices, and score a validation or test set with the task's metric:

| verb       | TSV line            | model                  | validation metric            |
|------------|---------------------|------------------------|------------------------------|
| classify   | text<TAB>label      | ``SequenceClassifier`` | accuracy (higher is better)  |
| generate   | label<TAB>text      | ``ConditionedGenerator`` | NLL nats/char (lower)      |
| seq2seq    | source<TAB>target   | ``Seq2Seq``            | greedy token error rate (lower) |
| tag        | text<TAB>tags       | ``SequenceTagger``     | boundary F1 for 0/1 tags, else tag accuracy |

Vocabularies are saved as one JSON object in the checkpoint's ``vocab.json``:
``{"input": TokenVocab, "labels": LabelSet, "target": TokenVocab}`` (the keys a form uses).
Text is read as characters; a seq2seq target (or source) may instead be read as
whitespace-separated tokens (``--target-tokens words``: phonemes, words).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from rnnkit.data import tsv
from rnnkit.data.padding import pad_batch, teacher_forcing
from rnnkit.data.token_vocab import LabelSet, TokenVocab
from rnnkit.data.vocab import Vocab
from rnnkit.decode.forms import generator_beam_search, generator_sample, seq2seq_decode
from rnnkit.decode.sampler import Sampling
from rnnkit.errors import RnnkitError, message_of
from rnnkit.models.backbone import BackboneModel
from rnnkit.models.classifier import ClassifierConfig, SequenceClassifier
from rnnkit.models.generator import ConditionedGenerator, GeneratorConfig
from rnnkit.models.seq2seq import Seq2Seq, Seq2SeqConfig
from rnnkit.models.tagger import SequenceTagger, TaggerConfig

from . import task_metrics as metrics
from .task_config import TaskTrainConfig

EVAL_BATCH = 256
Examples = Sequence[tuple[str, str]]  # a TSV's (first field, second field) pairs
Ids = list[list[int]]  # each example's token ids


def _chunks(n: int, size: int = EVAL_BATCH):
    for i in range(0, n, size):
        yield np.arange(i, min(n, i + size))


def read_examples(verb: str, path: str | os.PathLike) -> list[tuple[str, str]]:
    """The (first, second) field pairs of a task TSV; bad lines raise RnnkitError with file:line."""
    readers = {
        "classify": tsv.read_text_label,
        "generate": tsv.read_label_text,
        "seq2seq": tsv.read_source_target,
        "tag": tsv.read_text_tags,
    }
    try:
        a, b = readers[verb](path)
    except FileNotFoundError:
        raise RnnkitError(f"no such file: {path}") from None
    except IsADirectoryError:
        raise RnnkitError(f"{path} is a directory, not a TSV file") from None
    except ValueError as e:
        raise RnnkitError(message_of(e)) from None
    if not a:
        raise RnnkitError(f"{path} holds no examples (no non-empty lines)")
    return list(zip(a, b))


def split_tokens(text: str, mode: str) -> list[str]:
    """'chars': the characters; 'words': whitespace-separated tokens."""
    return text.split() if mode == "words" else list(text)


def join_tokens(tokens: Iterable[str], mode: str) -> str:
    return " ".join(tokens) if mode == "words" else "".join(tokens)


@dataclass
class Form:
    """Base: subclasses set ``verb``, ``metric``, ``higher_better`` and the methods below."""

    cfg: object  # the TaskTrainConfig (hidden, layers, embed, ...)
    verb = ""
    metric = ""
    higher_better = True

    config_class = model_class = None  # the model's config dataclass and the model
    text_field = 0  # which field of a TSV line holds the text; the other holds its label

    # model ---------------------------------------------------------------
    def build_model(self, model_cfg: dict, seed: int) -> BackboneModel | Seq2Seq:
        return self.model_class(self.config_class(**model_cfg), seed)

    # training and scoring -----------------------------------------------
    def batch(self, data: tuple, idx: np.ndarray) -> tuple[tuple, dict]:
        """Examples ``idx`` of the encoded ``data`` -> the arguments of ``model.forward``
        (positional, keyword) that come before ``train``, ``rng`` and ``need_grad``."""
        raise NotImplementedError

    def loss(
        self, model: BackboneModel | Seq2Seq, data: tuple, idx: np.ndarray, rng: np.random.Generator
    ) -> tuple[float, dict]:
        """The mean loss of examples ``idx`` in training (dropout drawn from ``rng``) and the cache
        for ``model.backward``."""
        args, kw = self.batch(data, idx)
        return model.forward(*args, **kw, train=True, rng=rng)

    def score(
        self, model: BackboneModel | Seq2Seq, data: tuple, keep: Callable[[dict, dict], list] | None = None
    ) -> tuple[float, float, list]:
        """``data`` scored without gradients, one evaluation chunk at a time -> (summed nats,
        the number of scored units, what ``keep(batch keywords, forward cache)`` returns for each
        chunk, concatenated; nothing without ``keep``)."""
        total = count = 0.0
        kept = []
        for idx in _chunks(len(data[0])):
            args, kw = self.batch(data, idx)
            _, cache = model.forward(*args, **kw, need_grad=False)
            total, count = total + cache["total"], count + cache["count"]
            kept += keep(kw, cache) if keep else []
        return total, count, kept

    # vocabularies -------------------------------------------------------
    def fit_vocab(self, examples: Examples) -> None:
        """The text's tokens and the labels, from the training examples."""
        self.vocab = TokenVocab.build(ex[self.text_field] for ex in examples)
        self.labels = LabelSet.build(ex[1 - self.text_field] for ex in examples)

    def vocab_dict(self) -> dict:
        """The vocabularies as saved in ``vocab.json`` (here: input tokens and labels)."""
        return {"input": self.vocab.to_dict(), "labels": self.labels.to_dict()}

    def load_vocab(self, obj: dict) -> None:
        self.vocab, self.labels = TokenVocab.from_dict(obj["input"]), LabelSet.from_dict(obj["labels"])

    def vocab_json(self) -> str:
        return json.dumps(self.vocab_dict(), ensure_ascii=False, sort_keys=True)

    def label_ids(self, labels: Iterable[str], where: str) -> np.ndarray:
        """The ids (N,) of ``labels``; one the training data lacks is refused naming ``where``."""
        try:
            return np.array(self.labels.encode(labels), dtype=np.int64)
        except ValueError as e:
            raise RnnkitError(f"{where}: {message_of(e)}") from None


class ClassifyForm(Form):
    verb, metric, higher_better = "classify", "accuracy", True
    config_class, model_class = ClassifierConfig, SequenceClassifier

    def fit_vocab(self, examples: Examples) -> None:
        super().fit_vocab(examples)
        if len(self.labels) < 2:
            raise RnnkitError(
                f"the training data has only one label ({self.labels.labels[0]!r}); "
                f"a classifier needs at least 2"
            )

    def model_config(self) -> ClassifierConfig:
        return ClassifierConfig(
            len(self.vocab),
            len(self.labels),
            bidirectional=self.cfg.bidirectional,
            **self.cfg.model_settings(),
        )

    def encode(self, examples: Examples, where: str = "data") -> tuple[Ids, np.ndarray]:
        X = [self.vocab.encode(t) for t, _ in examples]
        return X, self.label_ids([l for _, l in examples], where)

    def batch(self, data: tuple[Ids, np.ndarray], idx: np.ndarray) -> tuple[tuple, dict]:
        X, Y = data
        ids, lengths, _ = pad_batch([X[i] for i in idx])
        return (ids, Y[idx]), dict(lengths=lengths)

    def probs(self, model: SequenceClassifier, texts: Sequence[str]) -> np.ndarray:
        X = [self.vocab.encode(t) for t in texts]
        out = []
        for idx in _chunks(len(X)):
            ids, lengths, _ = pad_batch([X[i] for i in idx])
            out.append(model.predict_proba(ids, lengths=lengths))
        return np.concatenate(out)

    def evaluate(
        self, model: SequenceClassifier, data: tuple[Ids, np.ndarray], examples: Examples, **kw: Any
    ) -> dict:
        """-> accuracy, mean loss, examples, and the per-class report
        (``task_metrics.classification_report``: per_class, macro_avg, weighted_avg,
        confusion_matrix over labels)."""
        _, Y = data
        total, count, pred = self.score(model, data, lambda kw, c: [c["logits"].argmax(axis=1)])
        report = metrics.classification_report(Y, np.concatenate(pred), self.labels.labels)
        return {"accuracy": report.pop("accuracy"), "loss": total / count, "examples": len(Y), **report}


class GenerateForm(Form):
    verb, metric, higher_better = "generate", "nll", False
    config_class, model_class = GeneratorConfig, ConditionedGenerator
    text_field = 1  # label<TAB>text

    def sample(
        self,
        model: ConditionedGenerator,
        label: str,
        n: int,
        max_len: int,
        sampling: Sampling,
        prime: str = "",
    ) -> list[str]:
        """``n`` texts for ``label``, each ``prime`` and at most ``max_len`` characters after it:
        drawn as ``sampling`` says (greedy, or temperature 0, takes the argmax), or with a beam
        the ``n`` most likely the search found (maybe fewer), best first."""
        if n < 1:
            raise RnnkitError(f"`n` must be at least 1, got {n}")
        if max_len < 1:
            raise RnnkitError(f"`max_len` must be at least 1, got {max_len}")
        k = self.label_ids([label], "`label`")[0]
        unknown = list(dict.fromkeys(ch for ch in prime if ch not in self.vocab.stoi))
        if unknown:
            raise Vocab.unknown_error(unknown, "`prime`")
        prime_ids = self.vocab.encode(prime)
        if sampling.beam:
            found = generator_beam_search(model, np.array([k]), sampling.beam, max_len, prime_ids)
            seqs = [ids for ids, _ in found[:n]]
        else:
            rng = np.random.default_rng(sampling.seed)
            cond = np.full(n, k, dtype=np.int64)
            temperature = 0.0 if sampling.is_greedy else sampling.temperature
            seqs = generator_sample(
                model, cond, max_len, rng, temperature, sampling.top_k, sampling.top_p, prime_ids
            )
        return [prime + self.vocab.decode(s) for s in seqs]

    def model_config(self) -> GeneratorConfig:
        c = self.cfg
        settings = self.cfg.model_settings()
        settings["embed"] = c.embed if c.autoregressive else 0  # characters are fed back only then
        return GeneratorConfig(
            len(self.vocab),
            num_labels=len(self.labels),
            cond_embed=c.cond_embed,
            autoregressive=c.autoregressive,
            **settings,
        )

    def encode(self, examples: Examples, where: str = "data") -> tuple[np.ndarray, Ids]:
        L = self.label_ids([l for l, _ in examples], where)
        return L, [self.vocab.encode(t) for _, t in examples]

    def batch(self, data: tuple[np.ndarray, Ids], idx: np.ndarray) -> tuple[tuple, dict]:
        L, W = data
        dec_in, dec_out, mask = teacher_forcing([W[i] for i in idx])
        return (L[idx], dec_out, mask), dict(dec_in=dec_in)

    def evaluate(
        self, model: ConditionedGenerator, data: tuple[np.ndarray, Ids], examples: Examples, **kw: Any
    ) -> dict:
        _, W = data
        total, count, _ = self.score(model, data)
        nll = total / count
        return {
            "nll": nll,
            "bpc": nll / math.log(2),
            "loss": nll,
            "predictions": int(count),
            "examples": len(W),
        }


class Seq2SeqForm(Form):
    verb, metric, higher_better = "seq2seq", "token_error_rate", False
    config_class, model_class = Seq2SeqConfig, Seq2Seq

    def fit_vocab(self, examples: Examples) -> None:
        c = self.cfg
        self.src_vocab = TokenVocab.build(split_tokens(s, c.source_tokens) for s, _ in examples)
        self.tgt_vocab = TokenVocab.build(split_tokens(t, c.target_tokens) for _, t in examples)

    def vocab_dict(self) -> dict:
        return {"input": self.src_vocab.to_dict(), "target": self.tgt_vocab.to_dict()}

    def load_vocab(self, obj: dict) -> None:
        self.src_vocab, self.tgt_vocab = (
            TokenVocab.from_dict(obj["input"]),
            TokenVocab.from_dict(obj["target"]),
        )

    def model_config(self) -> Seq2SeqConfig:
        return Seq2SeqConfig(
            len(self.src_vocab),
            len(self.tgt_vocab),
            bidirectional=self.cfg.bidirectional,
            **self.cfg.model_settings(),
        )

    def encode_sources(self, sources: Iterable[str]) -> Ids:
        return [self.src_vocab.encode(split_tokens(s, self.cfg.source_tokens)) for s in sources]

    def encode(self, examples: Examples, where: str = "data") -> tuple[Ids, Ids]:
        S = self.encode_sources([s for s, _ in examples])
        T = [self.tgt_vocab.encode(split_tokens(t, self.cfg.target_tokens)) for _, t in examples]
        for i, s in enumerate(S):
            if not s:
                raise RnnkitError(f"{where}: example {i + 1} has an empty source after tokenizing")
        return S, T

    def batch(self, data: tuple[Ids, Ids], idx: np.ndarray) -> tuple[tuple, dict]:
        S, T = data
        src, lengths, _ = pad_batch([S[i] for i in idx])
        dec_in, dec_out, dmask = teacher_forcing([T[i] for i in idx])
        return (src, dec_in, dec_out), dict(src_lengths=lengths, dec_mask=dmask)

    def decode(
        self, model: Seq2Seq, S: Sequence[list[int]], beam: int = 1, max_len: int | None = None
    ) -> list[list[str]]:
        """Encoded sources -> target token lists (greedy, or beam search with beam > 1)."""
        out = []
        max_len = max_len or self.cfg.max_len
        for idx in _chunks(len(S)):
            src, lengths, _ = pad_batch([S[i] for i in idx])
            hyps, _ = seq2seq_decode(model, src, src_lengths=lengths, beam=beam, max_len=max_len)
            out += [[self.tgt_vocab.itos[i] for i in h] for h in hyps]
        return out

    def evaluate(
        self,
        model: Seq2Seq,
        data: tuple[Ids, Ids],
        examples: Examples,
        beam: int = 1,
        decode_max: int | None = None,
    ) -> dict:
        S, _ = data
        total, count, _ = self.score(model, data)
        n = len(S) if decode_max is None else min(len(S), decode_max)
        hyps = self.decode(model, S[:n], beam)
        mode = self.cfg.target_tokens
        refs = [split_tokens(t, mode) for _, t in examples[:n]]
        return {
            "exact_match": metrics.exact_match(hyps, refs),
            "sequence_error_rate": metrics.sequence_error_rate(hyps, refs),
            "token_error_rate": metrics.token_error_rate(hyps, refs),
            "character_error_rate": metrics.character_error_rate(
                [join_tokens(h, mode) for h in hyps], [join_tokens(r, mode) for r in refs]
            ),
            "loss": total / count,
            "examples": n,
            "beam": beam,
        }


class TagForm(Form):
    verb, metric, higher_better = "tag", "accuracy", True
    config_class, model_class = TaggerConfig, SequenceTagger

    def fit_vocab(self, examples: Examples) -> None:
        self.vocab = TokenVocab.build(t for t, _ in examples)
        self.labels = LabelSet.build(ch for _, tags in examples for ch in tags)  # a label per character
        if len(self.labels) < 2:
            raise RnnkitError(
                f"the training data uses only one tag ({self.labels.labels[0]!r}); a tagger needs at least 2"
            )
        self._set_metric()

    def _set_metric(self):
        self.binary = self.labels.labels == ["0", "1"]
        self.metric = "f1" if self.binary else "accuracy"

    def load_vocab(self, obj: dict) -> None:
        super().load_vocab(obj)
        self._set_metric()

    def model_config(self) -> TaggerConfig:
        return TaggerConfig(
            len(self.vocab),
            len(self.labels),
            bidirectional=self.cfg.bidirectional,
            **self.cfg.model_settings(),
        )

    def encode(self, examples: Examples, where: str = "data") -> tuple[Ids, Ids]:
        X = [self.vocab.encode(t) for t, _ in examples]
        try:
            Y = [self.labels.encode(tags, what="tag") for _, tags in examples]
        except ValueError as e:
            raise RnnkitError(f"{where}: {message_of(e)}") from None
        return X, Y

    def batch(self, data: tuple[Ids, Ids], idx: np.ndarray) -> tuple[tuple, dict]:
        X, Y = data
        ids, lengths, _ = pad_batch([X[i] for i in idx])
        tg, _, _ = pad_batch([Y[i] for i in idx])
        return (ids, tg), dict(lengths=lengths)

    def predict_tags(self, model: SequenceTagger, texts: Sequence[str]) -> list[str]:
        X = [self.vocab.encode(t) for t in texts]
        out = []
        for idx in _chunks(len(X)):
            ids, lengths, _ = pad_batch([X[i] for i in idx])
            p = model.predict(ids, lengths=lengths)
            out += ["".join(self.labels.decode(p[:n, b])) for b, n in enumerate(lengths)]
        return out

    def evaluate(self, model: SequenceTagger, data: tuple[Ids, Ids], examples: Examples, **kw: Any) -> dict:
        """-> tag accuracy (over characters), mean loss, examples, the per-tag report over all
        characters (``task_metrics.classification_report``), and with 0/1 tags the boundary
        precision, recall and F1 (``task_metrics.boundary_f1``)."""
        X, Y = data

        def tags_of(kw: dict, c: dict) -> list:  # (n,) predicted tag ids of each example
            p = c["logits"].argmax(axis=2)  # (T, B)
            return [p[:n, b] for b, n in enumerate(kw["lengths"])]

        total, count, pred = self.score(model, data, tags_of)
        report = metrics.classification_report(np.concatenate(Y), np.concatenate(pred), self.labels.labels)
        r = {"accuracy": report.pop("accuracy"), "loss": total / count, "examples": len(X), **report}
        if self.binary:
            pred_tags = ["".join(self.labels.decode(p)) for p in pred]
            r.update(metrics.boundary_f1(pred_tags, [tags for _, tags in examples], "1"))
        return r


FORMS = {"classify": ClassifyForm, "generate": GenerateForm, "seq2seq": Seq2SeqForm, "tag": TagForm}


def make_form(verb: str, cfg: TaskTrainConfig) -> Form:
    return FORMS[verb](cfg)
