"""Correctness gate for engine speed work: rnnkit vs torch autograd in float64.

Checks CharRNN (one-hot, L = 1, 2; optional h0, carried state) and RNNStack (bidirectional,
masked, L = 2) on benchmark-like shapes: loss/outputs, final states and every gradient
must agree within 1e-10. Also checks the sampling step against the forward pass.

    python -m bench.verify
"""

from __future__ import annotations

import sys

import numpy as np


def check_char_rnn(L, T=17, B=5, V=11, H=24, seed=0, with_h0=True):
    import torch
    import torch.nn.functional as F

    from rnnkit import CharRNN, ModelConfig

    m = CharRNN(ModelConfig(vocab_size=V, hidden=H, layers=L), seed=seed, dtype=np.float64)
    rng = np.random.default_rng(seed)
    ids = rng.integers(0, V, (T, B))
    tgt = rng.integers(0, V, (T, B))
    h0 = rng.standard_normal((L, B, H)) * 0.5 if with_h0 else None
    dh_n = rng.standard_normal((L, B, H)) * 0.1
    loss, h_n, cache = m.forward(ids, tgt, h0)
    dh0 = m.backward(cache, dh_n)
    sd = m.flat.state_dict()
    grads = {n: m.flat.view(n, grad=True).copy() for n in m.flat.names}

    rnn = torch.nn.RNN(V, H, L, dtype=torch.float64)
    head = torch.nn.Linear(H, V, dtype=torch.float64)
    rnn.load_state_dict({k[4:]: torch.from_numpy(v) for k, v in sd.items() if k.startswith("rnn.")})
    head.load_state_dict({k[5:]: torch.from_numpy(v) for k, v in sd.items() if k.startswith("head.")})
    x = F.one_hot(torch.from_numpy(ids), V).double()
    h0t = torch.zeros(L, B, H, dtype=torch.float64) if h0 is None else torch.from_numpy(h0.copy())
    h0t.requires_grad_()
    hs, hn = rnn(x, h0t)
    lt = F.cross_entropy(head(hs).reshape(-1, V), torch.from_numpy(tgt).reshape(-1))
    (lt + (hn * torch.from_numpy(dh_n)).sum()).backward()
    errs = {
        "loss": abs(loss - lt.item()),
        "h_n": np.abs(h_n - hn.detach().numpy()).max(),
        "dh0": np.abs(dh0 - h0t.grad.numpy()).max(),
    }
    for n, p in list(rnn.named_parameters()):
        errs["rnn." + n] = np.abs(grads["rnn." + n] - p.grad.numpy()).max()
    for n, p in list(head.named_parameters()):
        errs["head." + n] = np.abs(grads["head." + n] - p.grad.numpy()).max()
    # sampling step == forward, step by step
    h = np.zeros((L, B, H)) if h0 is None else h0.copy()
    for t in range(T):
        logits, h = m.step(ids[t], h)
    errs["step_h"] = np.abs(h - h_n).max()
    return errs


def check_stack(L=2, bidirectional=True, masked=True, T=13, B=6, D=7, H=20, seed=1, ids=False):
    import torch
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

    from rnnkit import RNNStack, lengths_to_mask

    rng = np.random.default_rng(seed)
    rnn = RNNStack(D, H, L, bidirectional, rng=rng, dtype=np.float64)
    dirs = rnn.dirs
    ref = torch.nn.RNN(D, H, L, bidirectional=bidirectional, dtype=torch.float64)
    ref.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in rnn.params.items()})
    lengths = rng.integers(1, T + 1, B)
    lengths[0] = T
    if ids:
        xi = rng.integers(0, D, (T, B))
        x = xi
        xt = torch.nn.functional.one_hot(torch.from_numpy(xi), D).double()
    else:
        x = rng.standard_normal((T, B, D))
        xt = torch.from_numpy(x.copy())
    xt.requires_grad_()
    h0 = rng.standard_normal((L * dirs, B, H))
    w = rng.standard_normal((T, B, dirs * H))
    v = rng.standard_normal((L * dirs, B, H))
    mask = lengths_to_mask(lengths, T, dtype=np.float64) if masked else None
    (y, h_n), cache = rnn.forward(x, h0, mask)
    dx, dh0, grads = rnn.backward(w, v, cache)
    h0t = torch.from_numpy(h0.copy()).requires_grad_()
    if masked:
        out, hn = ref(pack_padded_sequence(xt, torch.from_numpy(lengths), enforce_sorted=False), h0t)
        out, _ = pad_packed_sequence(out, total_length=T)
    else:
        out, hn = ref(xt, h0t)
    ((out * torch.from_numpy(w)).sum() + (hn * torch.from_numpy(v)).sum()).backward()
    errs = {
        "y": np.abs(y - out.detach().numpy()).max(),
        "h_n": np.abs(h_n - hn.detach().numpy()).max(),
        "dh0": np.abs(dh0 - h0t.grad.numpy()).max(),
    }
    if not ids:
        errs["dx"] = np.abs(dx - xt.grad.numpy()).max()
    for n, p in ref.named_parameters():
        errs[n] = np.abs(grads[n] - p.grad.numpy()).max()
    return errs


def check_dropout_path(L=3, T=9, B=4, V=13, H=16, p=0.3, seed=3):
    """CharRNN.backward (layers driven directly, buffers overwritten) vs RNNStack.backward."""
    from rnnkit import CharRNN, ModelConfig

    m = CharRNN(ModelConfig(vocab_size=V, hidden=H, layers=L, dropout=p), seed=seed, dtype=np.float64)
    rng = np.random.default_rng(seed)
    ids, tgt = rng.integers(0, V, (T, B)), rng.integers(0, V, (T, B))
    h0 = rng.standard_normal((L, B, H))
    dh_n = rng.standard_normal((L, B, H))
    _, _, cache = m.forward(ids, tgt, h0, train=True, rng=np.random.default_rng(1))
    dh0 = m.backward(cache, dh_n)
    g_new = m.flat.grad.copy()
    dhs, _ = m.head.backward(cache["dlogits"], cache["hcache"])
    dhs = dhs * cache["drop"]
    _, dh0_ref, _ = m.rnn.backward(dhs, dh_n, cache["rcache"])
    return {"grads": np.abs(g_new - m.flat.grad).max(), "dh0": np.abs(dh0 - dh0_ref).max()}


def main() -> int:
    cases = [("CharRNN L=3 dropout: direct layers == RNNStack.backward", check_dropout_path())]
    for L in (1, 2, 3):
        cases.append((f"CharRNN L={L} h0", check_char_rnn(L, seed=L)))
        cases.append((f"CharRNN L={L} zero h0", check_char_rnn(L, seed=10 + L, with_h0=False)))
    cases.append(("CharRNN L=2 V=300 (sorted scatter)", check_char_rnn(2, V=300, seed=5)))
    cases.append(("CharRNN L=2 T=70 (several tanh' blocks)", check_char_rnn(2, T=70, B=3, seed=6)))
    cases.append(("RNNStack L=2 bi masked T=45", check_stack(2, True, True, T=45, seed=7)))
    for bi in (False, True):
        for masked in (False, True):
            for ids in (False, True):
                cases.append(
                    (
                        f"RNNStack L=2 bi={bi} masked={masked} ids={ids}",
                        check_stack(2, bi, masked, ids=ids, seed=bi * 4 + masked * 2 + ids),
                    )
                )
    worst = 0.0
    for name, errs in cases:
        e = max(errs.values())
        worst = max(worst, e)
        print(f"{name:45s} max abs err {e:.2e}  ({max(errs, key=errs.get)})")
    ok = worst < 1e-10
    print("OK" if ok else "FAIL", f"worst {worst:.2e}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
