"""A minimal NumPy training loop for the task models on the prepared data (a sanity check).

    python examples/quick_train.py langid  [--seconds 60] [--hidden 128] [--bidirectional]
    python examples/quick_train.py spaces  [--seconds 60] [--bidirectional]
    python examples/quick_train.py g2p     [--seconds 60] [--beam 5]
    python examples/quick_train.py wordgen [--seconds 60] [--autoregressive]

Run the matching prepare_*.py first. Adam, global-norm clipping at 5, random minibatches,
a fixed time budget, then one evaluation on the test split. The ``rnnkit`` CLI is the real
tool (checkpoints, resume, progress); this script only shows the models learn real data.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from rnnkit.data import tsv  # noqa: E402
from rnnkit.data.padding import minibatches, pad_batch, teacher_forcing  # noqa: E402
from rnnkit.data.token_vocab import LabelSet, TokenVocab  # noqa: E402
from rnnkit.decode.forms import generator_sample, seq2seq_decode
from rnnkit.models import baselines
from rnnkit.models.classifier import ClassifierConfig, SequenceClassifier  # noqa: E402
from rnnkit.models.generator import ConditionedGenerator, GeneratorConfig  # noqa: E402
from rnnkit.models.seq2seq import Seq2Seq, Seq2SeqConfig  # noqa: E402
from rnnkit.models.tagger import SequenceTagger, TaggerConfig  # noqa: E402
from rnnkit.optim.optimizers import clip_gradients, make_optimizer  # noqa: E402
from rnnkit.train import task_metrics as metrics

DATA = Path(__file__).resolve().parent / "data"


def fit(model, n, make_loss, args):
    """Train until the time budget is spent; returns the number of steps."""
    opt = make_optimizer("adam", model.flat)
    rng = np.random.default_rng(args.seed)
    t0, step = time.time(), 0
    while time.time() - t0 < args.seconds:
        for idx in minibatches(n, args.batch, rng):
            loss, cache = make_loss(idx, rng)
            model.backward(cache)
            clip_gradients(model.flat.grad, "norm", 5.0)
            opt.step(args.lr)
            step += 1
            if step % 100 == 0:
                print(f"step {step}  loss {loss:.4f}  {time.time() - t0:.0f}s", flush=True)
            if time.time() - t0 >= args.seconds:
                break
    return step


def batched(n, size=512):
    for i in range(0, n, size):
        yield np.arange(i, min(n, i + size))


def langid(args):
    tr_x, tr_y = tsv.read_text_label(DATA / "langid/train.tsv")
    te_x, te_y = tsv.read_text_label(DATA / "langid/test.tsv")
    vocab, labels = TokenVocab.build(tr_x), LabelSet.build(tr_y)
    X = [vocab.encode(w) for w in tr_x]
    Y = np.array(labels.encode(tr_y))
    m = SequenceClassifier(
        ClassifierConfig(len(vocab), len(labels), args.hidden, args.layers, bidirectional=args.bidirectional)
    )

    def loss(idx, rng):
        ids, lengths, _ = pad_batch([X[i] for i in idx])
        return m.forward(ids, Y[idx], lengths=lengths, train=True, rng=rng)

    steps = fit(m, len(X), loss, args)
    pred = []
    for idx in batched(len(te_x)):
        ids, lengths, _ = pad_batch([vocab.encode(te_x[i]) for i in idx])
        pred += labels.decode(m.predict(ids, lengths=lengths))
    nb = baselines.CharBigramNaiveBayes().fit(tr_x, tr_y).predict(te_x)
    maj = baselines.MajorityClassifier().fit(tr_y).predict(te_x)
    print(
        f"steps {steps}  test accuracy: rnn {metrics.accuracy(pred, te_y):.4f}  "
        f"bigram NB {metrics.accuracy(nb, te_y):.4f}  majority {metrics.accuracy(maj, te_y):.4f}"
    )


def spaces(args):
    tr_x, tr_t = tsv.read_text_tags(DATA / "spaces/train.tsv")
    te_x, te_t = tsv.read_text_tags(DATA / "spaces/test.tsv")
    vocab, tags = TokenVocab.build(tr_x), LabelSet(["0", "1"])
    X = [vocab.encode(s) for s in tr_x]
    Yt = [tags.encode(t) for t in tr_t]
    m = SequenceTagger(
        TaggerConfig(len(vocab), 2, args.hidden, args.layers, bidirectional=args.bidirectional)
    )

    def loss(idx, rng):
        ids, lengths, _ = pad_batch([X[i] for i in idx])
        tg, _, _ = pad_batch([Yt[i] for i in idx])
        return m.forward(ids, tg, lengths=lengths, train=True, rng=rng)

    steps = fit(m, len(X), loss, args)
    pred = []
    for idx in batched(len(te_x)):
        ids, lengths, _ = pad_batch([vocab.encode(te_x[i]) for i in idx])
        p = m.predict(ids, lengths=lengths)
        pred += ["".join(tags.decode(p[:n, b])) for b, n in enumerate(lengths)]
    r = metrics.boundary_f1(pred, te_t)
    print(
        f"steps {steps}  bidirectional={args.bidirectional}  boundary P {r['precision']:.4f} "
        f"R {r['recall']:.4f} F1 {r['f1']:.4f}"
    )


def g2p(args):
    tr_s, tr_t = tsv.read_source_target(DATA / "g2p/train.tsv")
    te_s, te_t = tsv.read_source_target(DATA / "g2p/test.tsv")
    te_s, te_t = te_s[: args.eval_n], te_t[: args.eval_n]
    sv, tv = TokenVocab.build(tr_s), TokenVocab.build(t.split() for t in tr_t)
    S = [sv.encode(s) for s in tr_s]
    T = [tv.encode(t.split()) for t in tr_t]
    m = Seq2Seq(
        Seq2SeqConfig(
            len(sv), len(tv), args.hidden, args.layers, embed=args.embed, bidirectional=args.bidirectional
        )
    )

    def loss(idx, rng):
        src, lengths, _ = pad_batch([S[i] for i in idx])
        dec_in, dec_out, dmask = teacher_forcing([T[i] for i in idx])
        return m.forward(src, dec_in, dec_out, src_lengths=lengths, dec_mask=dmask, train=True, rng=rng)

    steps = fit(m, len(S), loss, args)
    refs = [t.split() for t in te_t]
    for beam in (1, args.beam):
        hyps = []
        for idx in batched(len(te_s)):
            src, lengths, _ = pad_batch([sv.encode(te_s[i]) for i in idx])
            out = seq2seq_decode(m, src, src_lengths=lengths, beam=beam, max_len=30)[0]
            hyps += [tv.decode(h, sep=" ").split() for h in out]
        print(
            f"steps {steps}  beam {beam}: WER {metrics.sequence_error_rate(hyps, refs):.4f}  "
            f"PER {metrics.token_error_rate(hyps, refs):.4f}  ({len(refs)} test words)"
        )


def wordgen(args):
    tr_l, tr_w = tsv.read_label_text(DATA / "wordgen/train.tsv")
    te_l, te_w = tsv.read_label_text(DATA / "wordgen/test.tsv")
    vocab, labels = TokenVocab.build(tr_w), LabelSet.build(tr_l)
    W = [vocab.encode(w) for w in tr_w]
    L = np.array(labels.encode(tr_l))
    m = ConditionedGenerator(
        GeneratorConfig(
            len(vocab),
            num_labels=len(labels),
            cond_embed=16,
            autoregressive=args.autoregressive,
            hidden=args.hidden,
            layers=args.layers,
        )
    )

    def loss(idx, rng):
        dec_in, dec_out, mask = teacher_forcing([W[i] for i in idx])
        return m.forward(L[idx], dec_out, mask, dec_in=dec_in, train=True, rng=rng)

    steps = fit(m, len(W), loss, args)
    total = count = 0.0
    for idx in batched(len(te_w)):
        dec_in, dec_out, mask = teacher_forcing([vocab.encode(te_w[i]) for i in idx])
        _, c = m.forward(
            np.array(labels.encode([te_l[i] for i in idx])), dec_out, mask, dec_in=dec_in, need_grad=False
        )
        total, count = total + c["total"], count + c["count"]
    seen = set(tr_w)
    rng = np.random.default_rng(args.seed)
    print(f"steps {steps}  held-out NLL {total / count:.4f} nats/char (chars and EOS)")
    for lab in labels.labels:
        words = [vocab.decode(s) for s in generator_sample(m, np.full(200, labels.index[lab]), 30, rng)]
        novel = np.mean([w not in seen for w in words])
        print(f"  {lab}: novel {novel:.2f}  e.g. {' '.join(words[:6])}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("task", choices=["langid", "spaces", "g2p", "wordgen"])
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--layers", type=int, default=1)
    ap.add_argument("--embed", type=int, default=0)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--bidirectional", action="store_true")
    ap.add_argument("--autoregressive", action="store_true")
    ap.add_argument("--beam", type=int, default=5)
    ap.add_argument("--eval-n", type=int, default=1000, help="g2p: test words decoded")
    args = ap.parse_args(argv)
    {"langid": langid, "spaces": spaces, "g2p": g2p, "wordgen": wordgen}[args.task](args)


if __name__ == "__main__":
    main()
