"""The compiled CPU step of a one-hidden-layer batch (numba; no torch): ``z = W2 relu(W1 x + b1) + b2``.

Layout: every model's parameters lie in one flat float32 buffer ``P``, model e's block at ``p_off[e]`` holding
``W1 (h, n_in)``, ``b1 (h,)``, ``W2 (n_out, h)``, ``b2 (n_out,)`` at the model's own shape (ragged: no padding,
a mixed batch costs the sum of its models). ``Mk`` is the mask in the same layout (1.0 / 0.0; biases 1.0),
``A1``, ``A2`` the Adam moments. Masks are folded into the weights: a masked weight is exactly 0 and its
gradient is multiplied by 0 inside the fused Adam step, so its moments and the weight stay exactly 0 and
the forward pass uses ``W`` as it is (no ``W * M`` per step).

One call of :func:`train_epoch` runs one epoch of the given models, model-outer (a model's weights stay in
cache for all its minibatches): gather the minibatch rows of the model's dataset in its stream's order, the
two products and their gradients through BLAS (``np.dot``), the loss gradient (mean BCE with logits for one
output, softmax cross-entropy otherwise), then Adam (torch.optim.Adam's arithmetic, no weight decay) fused
with the penalties (``2 l2 p`` on every parameter, ``l1 sign(p)`` on W1) and the mask. The loss itself is
never formed: a loss is finite exactly when every logit is, so the sum of the logits per model (``sums``)
is the divergence check. Compiled with ``cache=True`` (once per machine, reused by every later process)
and ``nogil=True``: threads over models run in parallel (``fpe_train.engine.cpu``), each calling a
single-threaded BLAS.

Data order: :func:`permutations` draws each stream's permutation of the epoch from its 64-bit key
(``draws.order_key``): Fisher-Yates driven by splitmix64 of (key, epoch, position); the same function serves
the torch path, so both read the same minibatches.
"""

from __future__ import annotations

import numpy as np
from numba import njit

B1, B2, EPS = 0.9, 0.999, 1e-8  # torch.optim.Adam's defaults
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1, _M2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)


@njit(cache=True, nogil=True)
def _mix(z):
    """splitmix64's finaliser (uint64 -> uint64)."""
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


@njit(cache=True, nogil=True)
def permutation(key, epoch, out) -> None:
    """``out (n,)`` int64 <- the permutation of 0..n-1 of (key, epoch): Fisher-Yates, position i drawing
    ``j = floor(u * (i + 1))`` from the top 32 bits u of splitmix64 (bias below n / 2^32)."""
    n = out.shape[0]
    for i in range(n):
        out[i] = i
    state = _mix(np.uint64(key) ^ _mix(np.uint64(epoch) * _GOLDEN))
    for i in range(n - 1, 0, -1):
        state = state + _GOLDEN
        r = _mix(state) >> np.uint64(32)
        j = np.int64((r * np.uint64(i + 1)) >> np.uint64(32))
        t = out[i]
        out[i] = out[j]
        out[j] = t


@njit(cache=True, nogil=True)
def permutations(keys, epoch, out) -> None:
    """``out (S, n)`` <- each stream's permutation of this epoch (``keys (S,)`` uint64)."""
    for s in range(keys.shape[0]):
        permutation(keys[s], epoch, out[s])


@njit(cache=True, nogil=True)
def _forward(xb, W1, b1, W2, b2, z, a, out) -> None:
    """z = xb W1^T + b1, a = relu(z), out = a W2^T + b2 (all at the model's shape)."""
    np.dot(xb, W1.T, z)
    Bc, h = z.shape
    for i in range(Bc):
        for j in range(h):
            v = z[i, j] + b1[j]
            z[i, j] = v
            a[i, j] = v if v > 0 else np.float32(0.0)
    np.dot(a, W2.T, out)
    for i in range(Bc):
        for c in range(out.shape[1]):
            out[i, c] += b2[c]


@njit(cache=True, nogil=True)
def _loss_grad(out, yb, dout) -> float:
    """dout = d(mean loss)/d(out); returns the sum of the logits (finite iff the loss is)."""
    Bc, n_out = out.shape
    inv = np.float32(1.0) / np.float32(Bc)
    total = 0.0
    for i in range(Bc):
        if n_out == 1:
            o = out[i, 0]
            total += o
            dout[i, 0] = (np.float32(1.0) / (np.float32(1.0) + np.exp(-o)) - yb[i]) * inv
        else:
            mx = out[i, 0]
            for c in range(n_out):
                total += out[i, c]
                mx = max(mx, out[i, c])
            s = np.float32(0.0)
            for c in range(n_out):
                s += np.exp(out[i, c] - mx)
            for c in range(n_out):
                dout[i, c] = np.exp(out[i, c] - mx) / s
            dout[i, np.int64(yb[i])] -= np.float32(1.0)
            for c in range(n_out):
                dout[i, c] *= inv
    return total


@njit(cache=True, nogil=True)
def _adam(p, g, m, v, mask, lo, hi, l1, l2x2, step_size, bc2, with_l1) -> None:
    """Fused Adam on p[lo:hi]: penalties, mask, moments, update (torch's float32 arithmetic)."""
    one_b1, one_b2 = np.float32(1.0 - B1), np.float32(1.0 - B2)
    b2, eps = np.float32(B2), np.float32(EPS)
    for k in range(lo, hi):
        w = p[k]
        gk = g[k - lo] + w * l2x2
        if with_l1:
            gk += (np.float32(1.0) if w > 0 else (np.float32(-1.0) if w < 0 else np.float32(0.0))) * l1
        gk *= mask[k]
        mk = m[k] + one_b1 * (gk - m[k])
        vk = v[k] * b2 + one_b2 * gk * gk
        m[k] = mk
        v[k] = vk
        p[k] = w - step_size * mk / (np.sqrt(vk) / bc2 + eps)


@njit(cache=True, nogil=True)
def train_epoch(models, P, Mk, A1, A2, steps, n_in, h, p_off, stream, ds, n_out, X, x_off, y, n, perms,
                batch, lr, l1, l2, sums) -> None:  # fmt: skip
    """One epoch of each model in ``models`` (indices): every minibatch of ``batch`` rows (the last one may be
    shorter), one Adam step each. ``sums[e]`` += the sum of model e's logits over the epoch."""
    for e in models:
        ni, hh, o = n_in[e], h[e], p_off[e]
        n1, n2 = hh * ni, n_out * hh
        W1 = P[o : o + n1].reshape((hh, ni))
        b1 = P[o + n1 : o + n1 + hh]
        W2 = P[o + n1 + hh : o + n1 + hh + n2].reshape((n_out, hh))
        b2 = P[o + n1 + hh + n2 : o + n1 + hh + n2 + n_out]
        size = n1 + hh + n2 + n_out
        G = np.empty(size, dtype=np.float32)
        gW1 = G[:n1].reshape((hh, ni))
        gW2 = G[n1 + hh : n1 + hh + n2].reshape((n_out, hh))
        d = ds[e]
        Xd = X[x_off[d] : x_off[d] + n * ni].reshape((n, ni))
        yd = y[d * n : (d + 1) * n]
        perm = perms[stream[e]]
        lr64, l1f, l2x2 = np.float64(np.float32(lr[e])), np.float32(l1[e]), np.float32(2.0) * np.float32(l2[e])
        total = 0.0
        for start in range(0, n, batch):
            Bc = min(batch, n - start)
            xb = np.empty((Bc, ni), dtype=np.float32)
            yb = np.empty(Bc, dtype=np.float32)
            for i in range(Bc):
                r = perm[start + i]
                xb[i, :] = Xd[r]
                yb[i] = yd[r]
            z = np.empty((Bc, hh), dtype=np.float32)
            a = np.empty((Bc, hh), dtype=np.float32)
            out = np.empty((Bc, n_out), dtype=np.float32)
            dout = np.empty((Bc, n_out), dtype=np.float32)
            _forward(xb, W1, b1, W2, b2, z, a, out)
            total += _loss_grad(out, yb, dout)
            np.dot(dout.T, a, gW2)  # (n_out, h)
            for c in range(n_out):
                s = np.float32(0.0)
                for i in range(Bc):
                    s += dout[i, c]
                G[n1 + hh + n2 + c] = s
            da = np.dot(dout, W2)  # (Bc, h)
            for i in range(Bc):
                for j in range(hh):
                    if z[i, j] <= 0:
                        da[i, j] = np.float32(0.0)
            np.dot(da.T, xb, gW1)  # (h, n_in)
            for j in range(hh):
                s = np.float32(0.0)
                for i in range(Bc):
                    s += da[i, j]
                G[n1 + j] = s
            steps[e] += 1
            t = np.float64(steps[e])
            step_size = np.float32(lr64 / (1.0 - B1**t))
            bc2 = np.float32(np.sqrt(1.0 - B2**t))
            _adam(P, G, A1, A2, Mk, o, o + n1, l1f, l2x2, step_size, bc2, True)
            _adam(P, G[n1:], A1, A2, Mk, o + n1, o + size, l1f, l2x2, step_size, bc2, False)
        sums[e] += total


@njit(cache=True, nogil=True)
def correct(models, P, n_in, h, p_off, ds, n_out, X, x_off, y, n, hits) -> None:
    """``hits[e]`` <- correct predictions of model e on its dataset's ``n`` rows (binary: logit > 0;
    multiclass: argmax), in chunks of 1024 rows."""
    for e in models:
        ni, hh, o = n_in[e], h[e], p_off[e]
        n1, n2 = hh * ni, n_out * hh
        W1 = P[o : o + n1].reshape((hh, ni))
        b1 = P[o + n1 : o + n1 + hh]
        W2 = P[o + n1 + hh : o + n1 + hh + n2].reshape((n_out, hh))
        b2 = P[o + n1 + hh + n2 : o + n1 + hh + n2 + n_out]
        d = ds[e]
        Xd = X[x_off[d] : x_off[d] + n * ni].reshape((n, ni))
        count = 0
        for start in range(0, n, 1024):
            Bc = min(1024, n - start)
            xb = np.ascontiguousarray(Xd[start : start + Bc])
            z = np.empty((Bc, hh), dtype=np.float32)
            a = np.empty((Bc, hh), dtype=np.float32)
            out = np.empty((Bc, n_out), dtype=np.float32)
            _forward(xb, W1, b1, W2, b2, z, a, out)
            for i in range(Bc):
                label = y[d * n + start + i]
                if n_out == 1:
                    count += (out[i, 0] > 0) == (label > 0.5)
                else:
                    best = 0
                    for c in range(1, n_out):
                        if out[i, c] > out[i, best]:
                            best = c
                    count += best == np.int64(label)
        hits[e] = count
