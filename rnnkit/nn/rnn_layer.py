"""One direction of an Elman (tanh) RNN over a whole sequence, with hand-written BPTT.

The recurrence, for t = 1..T with h_0 = 0 unless given:

    z_t = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh          (H,)
    h_t = tanh(z_t)

The lecture's concatenated form ``h_t = tanh(W_h [h_{t-1}; x_t])`` is the same computation
with ``W_h = [W_hh | W_ih]`` (H, H+D): the product of a block row with a stacked vector is
the sum of the two products (``tests/test_rnn_layer.py::test_concat_form_equals_split_form``).

Layout: x (T, B, D), states (T, B, H), h0 (B, H). Parameters follow ``torch.nn.RNN``:
``weight_ih_l{k}`` (H, D), ``weight_hh_l{k}`` (H, H), ``bias_ih_l{k}`` (H,), ``bias_hh_l{k}``
(H,), with the ``_reverse`` suffix for the right-to-left direction.

Input may also be integer ids (T, B) in [0, D): then x_t is one-hot and W_ih x_t is the
column W_ih[:, x_t], gathered rather than multiplied (see ``embedding.py``).

Variable lengths: an optional mask m (T, B) of 0/1. Where m_t = 0 the state is held,
h_t = h_{t-1}, and the output there is 0 (as ``pad_packed_sequence`` gives). So padded
steps change nothing, the final state is the state at each sequence's own last real step,
and, reading right to left, a right-padded sequence starts from h_0 at its own last step.

DropConnect on the recurrent weights (``hh_mask`` M (H, H), drawn by the caller, one per
batch): the sweep runs with W~_hh = W_hh ⊙ M in place of W_hh, forward and backward, and
the weight's gradient is taken with respect to the raw W_hh: dW_hh = (sum_t dz_t^T h_{t-1}) ⊙ M.

Work is done for all steps at once wherever the recurrence allows: the input projection
and biases before the loop, ``dW_ih``, ``dW_hh`` and the bias gradients after it, each one
matrix product over the T*B rows. Only ``h_{t-1} -> h_t`` is a Python loop.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .embedding import check_ids, gather_rows, scatter_add_cols
from .init import recurrent, uniform


class RNNLayer:
    """h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh), over a whole (T, B, D) sequence.

    >>> layer = RNNLayer(D=3, H=4, rng=np.random.default_rng(0))
    >>> x = np.ones((5, 2, 3), dtype=np.float32)          # (T, B, D)
    >>> (states, h_last), cache = layer.forward(x)         # (5, 2, 4), (2, 4)
    >>> dx, dh0, grads = layer.backward(np.ones_like(states), np.zeros_like(h_last), cache)
    """

    def __init__(
        self,
        D: int,
        H: int,
        suffix: str = "_l0",
        reverse: bool = False,
        rng=None,
        init: str = "uniform",
        dtype=np.float32,
    ):
        rng = rng if rng is not None else np.random.default_rng(0)
        self.D, self.H, self.reverse = D, H, reverse
        self.dtype = np.dtype(dtype)
        k = 1.0 / np.sqrt(H)
        self.k_ih, self.k_hh = f"weight_ih{suffix}", f"weight_hh{suffix}"
        self.k_bih, self.k_bhh = f"bias_ih{suffix}", f"bias_hh{suffix}"
        self.params = {
            self.k_ih: uniform(rng, (H, D), k, dtype),
            self.k_hh: recurrent(rng, H, init, dtype)
            if init != "uniform"
            else uniform(rng, (H, H), k, dtype),
            self.k_bih: uniform(rng, (H,), k, dtype),
            self.k_bhh: uniform(rng, (H,), k, dtype),
        }
        self.grads = {key: np.zeros_like(v) for key, v in self.params.items()}

    # ------------------------------------------------------------------ forward
    def _project(self, x: np.ndarray, out: np.ndarray) -> None:
        """x (T, B, D) floats or (T, B) ids, checked by ``forward`` -> W_ih x_t + b_ih + b_hh for
        all t, written into ``out`` (T, B, H): the forward pass gives its state buffer, so no
        separate (T, B, H) projection is kept alive."""
        W_ih = self.params[self.k_ih]
        bias = self.params[self.k_bih] + self.params[self.k_bhh]  # (H,)
        if np.issubdtype(x.dtype, np.integer):
            check_ids(x, self.D)
            # Trick: fold the bias into a contiguous (D, H) copy of W_ih^T, then one row
            # gather gives W_ih onehot(x_t) + b for every t (the same sums, done D*H times
            # instead of T*B*H, and the gather reads contiguous rows).
            table = W_ih.T + bias  # (D, H)
            gather_rows(table, x, out, checked=True)  # (T, B, H)
        else:
            T, B, D = x.shape
            # one GEMM for all t (a reversed view is copied by the reshape)
            np.matmul(x.reshape(T * B, D), W_ih.T, out=out.reshape(T * B, self.H))
            out += bias

    def forward(
        self,
        x: np.ndarray,
        h0: np.ndarray | None = None,
        mask: np.ndarray | None = None,
        hh_mask: np.ndarray | None = None,
    ) -> tuple[tuple[np.ndarray, np.ndarray], tuple]:
        """Returns ((states (T, B, H), h_last (B, H)), cache).

        ``states[t]`` is h_t in the original time order for either direction (0 where
        masked); ``h_last`` is the state after the direction's last real step. ``hh_mask``
        (H, H), if given, is DropConnect's mask on W_hh (see the module docstring).
        """
        if np.issubdtype(x.dtype, np.integer):
            if x.ndim != 2:
                raise ValueError(f"ids must be (T, B), got {x.shape}")
        elif x.ndim != 3 or x.shape[2] != self.D:
            raise ValueError(f"input must be (T, B, {self.D}), got {x.shape}")
        T, B = x.shape[:2]
        H = self.H
        if h0 is not None and h0.shape != (B, H):
            raise ValueError(f"h0 must be ({B}, {H}), got {h0.shape}")
        m = None if mask is None else np.asarray(mask, dtype=self.dtype)[:, :, None]  # (T, B, 1)
        # S holds the states in processing order: S[0] = h0, S[i] = h after i steps. Before
        # the loop S[1:] holds the input projections, and step i overwrites S[i + 1] in
        # place (z = xw + h W_hh^T, then tanh), so no (T, B, H) projection buffer is kept.
        # Right to left is left to right over the flipped input.
        S = np.empty((T + 1, B, H), dtype=self.dtype)  # (T+1, B, H)
        self._project(x[::-1] if self.reverse else x, out=S[1:])
        if self.reverse and m is not None:
            m = m[::-1]
        S[0] = 0 if h0 is None else h0
        # Trick: h W_hh^T with a contiguous copy of W_hh^T is a plain (non-transposed) GEMM,
        # measurably faster than BLAS's transposed path at these small batch sizes; the copy
        # pays over T steps, so one step (decoding, T = 1) uses the transposed view.
        W_hh = self.params[self.k_hh] if hh_mask is None else self.params[self.k_hh] * hh_mask  # (H, H)
        W_hhT = W_hh.T if T == 1 else np.ascontiguousarray(W_hh.T)  # (H, H)
        hw = np.empty((B, H), dtype=self.dtype)  # (B, H) scratch
        for t in range(T):
            np.matmul(S[t], W_hhT, out=hw)  # h_{t-1} W_hh^T
            z = S[t + 1]
            z += hw  # z_t
            np.tanh(z, out=z)  # h_t, in place
            if m is not None:  # hold the state on padded steps: h_t = m h_t + (1 - m) h_{t-1}
                z -= S[t]
                z *= m[t]
                z += S[t]
        h_last = S[T]
        out = S[1:] if m is None else S[1:] * m  # (T, B, H)
        if self.reverse:
            out = out[::-1]
        cache = (x, S, m, hh_mask)
        return (out, h_last), cache

    # ----------------------------------------------------------------- backward
    def backward(
        self,
        dstates: np.ndarray | None,
        dh_last: np.ndarray | None,
        cache: tuple,
        overwrite_dstates: bool = False,
        on_step: Callable[[int, np.ndarray], None] | None = None,
    ) -> tuple[np.ndarray | None, np.ndarray, dict[str, np.ndarray]]:
        """BPTT in one reverse sweep.

        With g_t = dL/dh_t (from the output at t and from step t+1):
            dz_t = g_t * (1 - h_t^2)          (masked steps: dz_t = 0, g passes to h_{t-1})
            g_{t-1} += dz_t W_hh
            dW_hh = sum_t dz_t^T h_{t-1},  dW_ih = sum_t dz_t^T x_t,  db = sum_t dz_t
        (with DropConnect, W_hh above is W~_hh = W_hh ⊙ M, and dW_hh is multiplied by M).
        Returns (dx, dh0, grads); dx is None for id input (its gradient is the scatter-add
        into W_ih).

        ``overwrite_dstates=True`` lets the sweep store dz_t in ``dstates[t]`` once that slot
        has been read, instead of in a new (T, B, H) buffer, and then dx over dz (when D = H):
        a caller that owns ``dstates`` (``CharRNN``) saves two sequence-sized buffers per
        layer. The numbers are the same.

        ``on_step(i, g)``, if given, sees each g_t as the sweep reaches it, i = T-1 .. 0 in
        processing order (``viz/gradflow.py`` records ||g_t|| this way).
        """
        x, S, m, hh_mask = cache
        T1, B, H = S.shape
        T = T1 - 1
        if dstates is not None and self.reverse:
            dstates = dstates[::-1]  # processing order
        W_hh = self.params[self.k_hh] if hh_mask is None else self.params[self.k_hh] * hh_mask  # (H, H)
        if (
            overwrite_dstates
            and dstates is not None
            and dstates.dtype == self.dtype
            and dstates.flags.c_contiguous
            and dstates.shape == (T, B, H)
        ):
            dz_all = dstates  # (T, B, H), reused
        else:
            dz_all = np.empty((T, B, H), dtype=self.dtype)  # (T, B, H)
        # tanh'(z_t) = 1 - h_t^2, computed K steps at a time by two vectorised ops into a
        # small (K, B, H) scratch, so the per-step loop does one multiply for it.
        K = min(T, 32)
        dtanh = np.empty((K, B, H), dtype=self.dtype)  # (K, B, H)

        def fill_dtanh(t: int) -> int:  # slots for steps t0..t, where t0 = the block start below t
            t0 = t - t % K
            blk = dtanh[: t - t0 + 1]
            np.multiply(S[t0 + 1 : t + 2], S[t0 + 1 : t + 2], out=blk)  # h^2
            np.subtract(1.0, blk, out=blk)  # 1 - h^2
            return t0

        g = np.zeros((B, H), dtype=self.dtype) if dh_last is None else np.array(dh_last, dtype=self.dtype)
        t0 = T
        for t in range(T - 1, -1, -1):
            if t < t0:
                t0 = fill_dtanh(t)
            if t < T - 1:  # g_t = (1 - m_{t+1}) g_{t+1} + dz_{t+1} W_hh
                if m is None:
                    np.matmul(dz_all[t + 1], W_hh, out=g)  # no mask: g_t = dz_{t+1} W_hh
                else:
                    g *= 1.0 - m[t + 1]  # held steps pass g through
                    g += dz_all[t + 1] @ W_hh
            if dstates is not None:
                g += dstates[t] if m is None else dstates[t] * m[t]  # + dL/dh_t (output)
            if on_step is not None:
                on_step(t, g)
            np.multiply(g, dtanh[t - t0], out=dz_all[t])  # dz_t = g_t * (1 - h_t^2)
            if m is not None:
                dz_all[t] *= m[t]  # masked steps: dz_t = 0
        if T > 0:  # dh0 = (1 - m_0) g_0 + dz_0 W_hh
            if m is None:
                dh0 = dz_all[0] @ W_hh  # (B, H)
            else:
                g *= 1.0 - m[0]
                g += dz_all[0] @ W_hh
                dh0 = g
        else:
            dh0 = g
        dz2 = dz_all.reshape(T * B, H)  # (T*B, H)
        S_prev = S[:-1].reshape(T * B, H)  # (T*B, H)
        np.matmul(dz2.T, S_prev, out=self.grads[self.k_hh])  # one GEMM over all t
        if hh_mask is not None:
            self.grads[self.k_hh] *= hh_mask  # d/dW_hh of W_hh ⊙ M
        np.sum(dz2, axis=0, out=self.grads[self.k_bih])
        self.grads[self.k_bhh][...] = self.grads[self.k_bih]
        # Input gradients in processing order: flip the inputs (cheap) instead of dz.
        x_p = x[::-1] if self.reverse else x
        if np.issubdtype(x.dtype, np.integer):
            scatter_add_cols(self.grads[self.k_ih], x_p, dz_all)  # (H, D) = dz^T onehot(x)
            dx = None
        else:
            np.matmul(dz2.T, x_p.reshape(T * B, self.D), out=self.grads[self.k_ih])
            W_ih = self.params[self.k_ih]  # (H, D)
            if self.D == H and dz_all is dstates:
                # dz is no longer needed and the caller gave its buffer away: write
                # dx = dz W_ih over it, a block of rows at a time through a small scratch
                # (a GEMM may not write over its own input). No new (T, B, H) buffer.
                R = max(1, min(T * B, (1 << 20) // max(H, 1)))  # rows per block
                tmp = np.empty((R, H), dtype=self.dtype)
                for r in range(0, T * B, R):
                    n = min(R, T * B - r)
                    np.matmul(dz2[r : r + n], W_ih, out=tmp[:n])
                    dz2[r : r + n] = tmp[:n]
                dx = dz_all  # (T, B, D)
            else:
                dx = (dz2 @ W_ih).reshape(T, B, self.D)  # (T, B, D)
            if self.reverse:
                dx = dx[::-1]
        return dx, dh0, self.grads
