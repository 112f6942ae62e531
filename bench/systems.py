"""The systems under test, each built as a zero-argument ``step()`` closure.

Every training system runs the same model and the same update on the same batch:

    one-hot(c_t) (V) -> L tanh RNN layers (H) -> Linear (V) -> softmax cross-entropy
    backward, global-norm clip at 5, Adam (lr 2e-3, betas 0.9/0.999, eps 1e-8)

- ``rnnkit``: ``CharRNN`` (NumPy engine) + ``clip_gradients`` + ``make_optimizer('adam')``.
- ``torch``: ``nn.RNN(V, H, L)`` fed one-hot floats (the same parameters as rnnkit: layer 0's
  ``W_ih`` is H x V), ``nn.Linear``, ``F.cross_entropy``, ``clip_grad_norm_``, ``optim.Adam``
  with ``foreach=True``. Same thread count as NumPy's BLAS.
- ``rnnkit-torch``: rnnkit's own torch engine (``TorchCharRNN``, ``--engine torch``): forward
  and backward by ``nn.RNN`` + autograd on views of rnnkit's flat buffers, then rnnkit's clip
  and Adam on those buffers, exactly as ``rnnkit train --engine torch`` runs on a CPU.
- ``jax`` (optional): one ``jax.jit`` of loss + ``value_and_grad`` over ``lax.scan`` + clip +
  Adam; the layer-0 input projection is a column gather, as in rnnkit.

Shapes: ids (T, B) ints, targets (T, B) ints, h0 zeros each step.
"""

from __future__ import annotations

import numpy as np

LR = 2e-3
CLIP = 5.0


def make_batch(V: int, T: int, B: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    seq = rng.integers(0, V, size=(T + 1, B))
    return seq[:-1].copy(), seq[1:].copy()  # ids (T, B), targets (T, B)


# ----------------------------------------------------------------------------- rnnkit
def rnnkit_train(H, L, B, T, V=65, seed=0):
    from rnnkit import CharRNN, ModelConfig
    from rnnkit.optim.optimizers import clip_gradients, make_optimizer

    model = CharRNN(ModelConfig(vocab_size=V, hidden=H, layers=L), seed=seed)
    opt = make_optimizer("adam", model.flat)
    ids, tgt = make_batch(V, T, B, seed)

    def step():
        loss, h_n, cache = model.forward(ids, tgt)
        model.backward(cache)
        clip_gradients(model.flat.grad, "norm", CLIP)
        opt.step(LR)
        return loss

    return step


def rnnkit_tbptt(H, L, B, T, V=65, chunk=64, seed=0):
    """Truncated BPTT over T characters in chunks of ``chunk``, state carried across chunks."""
    from rnnkit import CharRNN, ModelConfig
    from rnnkit.optim.optimizers import clip_gradients, make_optimizer

    model = CharRNN(ModelConfig(vocab_size=V, hidden=H, layers=L), seed=seed)
    opt = make_optimizer("adam", model.flat)
    ids, tgt = make_batch(V, T, B, seed)

    def step():
        h = model.zero_state(B)
        loss = 0.0
        for s in range(0, T, chunk):
            loss, h, cache = model.forward(ids[s : s + chunk], tgt[s : s + chunk], h)
            model.backward(cache)
            clip_gradients(model.flat.grad, "norm", CLIP)
            opt.step(LR)
        return loss

    return step


def rnnkit_torch_train(H, L, B, T, V=65, seed=0, threads=None):
    """rnnkit's torch engine, stepped as the trainer steps it on a CPU."""
    import torch

    from rnnkit import ModelConfig
    from rnnkit.torch.lm_engine import TorchCharRNN

    if threads:
        torch.set_num_threads(threads)
    model = TorchCharRNN(ModelConfig(vocab_size=V, hidden=H, layers=L), seed=seed, device="cpu")
    opt = model.make_optimizer("adam")
    ids, tgt = make_batch(V, T, B, seed)

    def step():
        loss, h_n, cache = model.forward(ids, tgt)
        model.backward(cache)
        model.clip_gradients("norm", CLIP)
        opt.step(LR)
        return loss

    return step


# ------------------------------------------------------------------------------ torch
class _TorchCharRNN:
    def __init__(self, V, H, L):
        import torch

        self.rnn = torch.nn.RNN(V, H, L)
        self.head = torch.nn.Linear(H, V)
        self.V = V

    def parameters(self):
        return list(self.rnn.parameters()) + list(self.head.parameters())


def torch_train(H, L, B, T, V=65, seed=0, threads=None):
    import torch
    import torch.nn.functional as F

    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(seed)
    m = _TorchCharRNN(V, H, L)
    params = m.parameters()
    opt = torch.optim.Adam(params, lr=LR, foreach=True)
    ids, tgt = make_batch(V, T, B, seed)
    x = F.one_hot(torch.from_numpy(ids), V).float()  # (T, B, V)
    y = torch.from_numpy(tgt).reshape(-1)

    def step():
        opt.zero_grad(set_to_none=True)
        hs, _ = m.rnn(x)  # (T, B, H)
        loss = F.cross_entropy(m.head(hs).reshape(-1, V), y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, CLIP, foreach=True)
        opt.step()
        return loss.item()

    return step


def torch_tbptt(H, L, B, T, V=65, chunk=64, seed=0, threads=None):
    import torch
    import torch.nn.functional as F

    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(seed)
    m = _TorchCharRNN(V, H, L)
    params = m.parameters()
    opt = torch.optim.Adam(params, lr=LR, foreach=True)
    ids, tgt = make_batch(V, T, B, seed)
    x = F.one_hot(torch.from_numpy(ids), V).float()
    y = torch.from_numpy(tgt)

    def step():
        h = torch.zeros(L, B, H)
        loss = None
        for s in range(0, T, chunk):
            opt.zero_grad(set_to_none=True)
            hs, h = m.rnn(x[s : s + chunk], h)
            h = h.detach()
            loss = F.cross_entropy(m.head(hs).reshape(-1, V), y[s : s + chunk].reshape(-1))
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, CLIP, foreach=True)
            opt.step()
        return loss.item()

    return step


# -------------------------------------------------------------------------------- jax
def jax_available() -> bool:
    try:
        import jax  # noqa: F401

        return True
    except Exception:
        return False


def _jax_init(V, H, L, seed):
    rng = np.random.default_rng(seed)
    k = 1.0 / np.sqrt(H)
    u = lambda *s: rng.uniform(-k, k, size=s).astype(np.float32)  # noqa: E731
    layers = []
    for l in range(L):
        layers.append(dict(W_ih=u(H, V if l == 0 else H), W_hh=u(H, H), b=u(H) + u(H)))
    return dict(layers=layers, W_hy=u(V, H), b_y=u(V))


def _jax_fns(V, L):
    import jax
    import jax.numpy as jnp

    def run_rnn(params, ids, h0):  # ids (T, B), h0 (L, B, H)
        x = None
        h_n = []
        for l, P in enumerate(params["layers"]):
            if l == 0:
                xw = P["W_ih"].T[ids] + P["b"]  # (T, B, H) column gather
            else:
                xw = x @ P["W_ih"].T + P["b"]
            W_hhT = P["W_hh"].T

            def cell(h, xw_t, W_hhT=W_hhT):
                h = jnp.tanh(xw_t + h @ W_hhT)
                return h, h

            hl, x = jax.lax.scan(cell, h0[l], xw)
            h_n.append(hl)
        return x, jnp.stack(h_n)

    def loss_fn(params, ids, tgt, h0):
        hs, h_n = run_rnn(params, ids, h0)
        logits = hs @ params["W_hy"].T + params["b_y"]  # (T, B, V)
        logp = jax.nn.log_softmax(logits, axis=-1)
        nll = -jnp.take_along_axis(logp, tgt[..., None], axis=-1)
        return nll.mean(), h_n

    def train_step(params, m, v, t, ids, tgt, h0):
        (loss, h_n), g = jax.value_and_grad(loss_fn, has_aux=True)(params, ids, tgt, h0)
        leaves = jax.tree_util.tree_leaves(g)
        norm = jnp.sqrt(sum(jnp.vdot(x, x) for x in leaves))
        scale = jnp.minimum(1.0, CLIP / (norm + 1e-6))
        g = jax.tree_util.tree_map(lambda x: x * scale, g)
        b1, b2, eps = 0.9, 0.999, 1e-8
        t = t + 1
        m = jax.tree_util.tree_map(lambda m, g: b1 * m + (1 - b1) * g, m, g)
        v = jax.tree_util.tree_map(lambda v, g: b2 * v + (1 - b2) * g * g, v, g)
        bc1, bc2 = 1 - b1**t, 1 - b2**t
        params = jax.tree_util.tree_map(
            lambda p, m, v: p - LR * (m / bc1) / (jnp.sqrt(v / bc2) + eps), params, m, v
        )
        return params, m, v, t, loss, h_n

    return run_rnn, jax.jit(train_step, donate_argnums=(0, 1, 2))


def jax_train(H, L, B, T, V=65, seed=0):
    import jax
    import jax.numpy as jnp

    _, train_step = _jax_fns(V, L)
    params = jax.tree_util.tree_map(jnp.asarray, _jax_init(V, H, L, seed))
    m = jax.tree_util.tree_map(jnp.zeros_like, params)
    v = jax.tree_util.tree_map(jnp.zeros_like, params)
    ids, tgt = (jnp.asarray(a) for a in make_batch(V, T, B, seed))
    h0 = jnp.zeros((L, B, H), jnp.float32)
    state = [params, m, v, jnp.float32(0.0)]

    def step():
        p, mm, vv, t, loss, _ = train_step(*state, ids, tgt, h0)
        state[:] = [p, mm, vv, t]
        return float(loss.block_until_ready())

    step()  # compile outside the timing
    return step


# ---------------------------------------------------------------------------- sampling
def rnnkit_sampler(H, L, V=65, seed=0):
    """One stream through the library's own ``rnnkit.decode.lm.lm_sample`` (the path ``rnnkit sample``
    runs): fused ``StreamStep`` + Gumbel-max draw from the softmax. Returns sample(n)."""
    from rnnkit import CharRNN, ModelConfig
    from rnnkit.decode.lm import lm_sample as rnnkit_sample

    model = CharRNN(ModelConfig(vocab_size=V, hidden=H, layers=L), seed=seed)
    prime = np.zeros(1, dtype=np.int64)

    def sample(n):
        return rnnkit_sample(model, prime, n, seed=seed)

    return sample


def torch_sampler(H, L, V=65, seed=0, threads=None):
    import torch

    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(seed)
    m = _TorchCharRNN(V, H, L)
    emb = torch.eye(V)  # one-hot rows

    @torch.no_grad()
    def sample(n):
        h = torch.zeros(L, 1, H)
        c = 0
        out = []
        for _ in range(n):
            y, h = m.rnn(emb[c].view(1, 1, V), h)
            p = torch.softmax(m.head(y[0, 0]), dim=-1)
            c = int(torch.multinomial(p, 1))
            out.append(c)
        return out

    return sample


def jax_sampler(H, L, V=65, seed=0):
    import jax
    import jax.numpy as jnp

    params = jax.tree_util.tree_map(jnp.asarray, _jax_init(V, H, L, seed))

    @jax.jit
    def step(params, c, h, key):  # c () int, h (L, H)
        x = None
        hs = []
        for l, P in enumerate(params["layers"]):
            xw = P["W_ih"][:, c] if l == 0 else P["W_ih"] @ x
            x = jnp.tanh(xw + P["W_hh"] @ h[l] + P["b"])
            hs.append(x)
        logits = params["W_hy"] @ x + params["b_y"]
        key, sub = jax.random.split(key)
        return jax.random.categorical(sub, logits), jnp.stack(hs), key

    def sample(n):
        h = jnp.zeros((L, H), jnp.float32)
        c = jnp.int32(0)
        key = jax.random.PRNGKey(seed)
        out = []
        for _ in range(n):
            c, h, key = step(params, c, h, key)
            out.append(c)
        return [int(x) for x in out]

    sample(2)  # compile
    return sample
