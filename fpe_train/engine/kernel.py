"""The compiled CPU step of a one-hidden-layer batch (numba; no torch): ``z = W2 relu(W1 x + b1) + b2``.

Layout: every model's parameters lie in one flat float32 buffer ``P``, model e's block at ``p_off[e]`` holding
``W1 (h, n_in)``, ``b1 (h,)``, ``W2 (n_out, h)``, ``b2 (n_out,)`` at the model's own shape (ragged: no padding,
a mixed batch costs the sum of its models). ``Mk`` is the mask in the same layout (1.0 / 0.0; biases 1.0),
``A1``, ``A2`` the Adam moments. Masks are folded into the weights: a masked weight is exactly 0 and its
gradient is multiplied by 0 inside the fused Adam step, so its moments and the weight stay exactly 0 and
the forward pass uses ``W`` as it is (no ``W * M`` per step).

One call of :func:`train_epoch` runs one epoch of the given models, stream-outer: the models of one stream
(a trial's dense model and its FPE forks) go through the epoch together, each minibatch gathered once for
all of them (their weights stay in cache), and every model takes its step: the two products ``x W1^T`` and
``dz^T x`` through BLAS (``np.dot``), the rest fused in one pass over the rows (bias, ReLU, the second layer,
the loss gradient: mean BCE with logits for one output; softmax cross-entropy through BLAS otherwise), then
Adam (torch.optim.Adam's arithmetic, no weight decay) fused
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
def _binary_step(xb, yb, W1, b1, w2, b2, z, G, n1, hh) -> float:
    """One output: after ``z = xb W1^T``, one pass over the rows does the rest of the forward pass, the loss
    gradient and the backward pass up to ``dz`` (left in ``z``): bias, ReLU, logit, sigmoid - y, the
    gradients of w2, b2, b1. Returns the sum of the logits."""
    Bc = z.shape[0]
    inv = np.float32(1.0) / np.float32(Bc)
    total = 0.0
    gb2 = np.float32(0.0)
    g_w2 = G[n1 + hh : n1 + 2 * hh]
    g_b1 = G[n1 : n1 + hh]
    g_w2[:] = 0
    g_b1[:] = 0
    for i in range(Bc):
        o = b2
        for j in range(hh):
            v = max(z[i, j] + b1[j], np.float32(0.0))  # ReLU; a zero marks an inactive unit below
            z[i, j] = v
            o += v * w2[j]
        total += o
        d = (np.float32(1.0) / (np.float32(1.0) + np.exp(-o)) - yb[i]) * inv
        gb2 += d
        for j in range(hh):
            v = z[i, j]
            g_w2[j] += d * v
            dz = d * w2[j] if v > 0 else np.float32(0.0)
            g_b1[j] += dz
            z[i, j] = dz
    G[n1 + 2 * hh] = gb2
    return total


@njit(cache=True, nogil=True)
def _general_step(xb, yb, W1, b1, W2, b2, z, a, out, dout, G, n1, hh, n_out) -> float:
    """Any number of outputs (softmax cross-entropy): the second layer through BLAS; ``dz`` left in ``z``."""
    Bc = z.shape[0]
    for i in range(Bc):
        for j in range(hh):
            v = z[i, j] + b1[j]
            z[i, j] = v
            a[i, j] = v if v > 0 else np.float32(0.0)
    np.dot(a, W2.T, out)
    for i in range(Bc):
        for c in range(n_out):
            out[i, c] += b2[c]
    total = _loss_grad(out, yb, dout)
    n2 = n_out * hh
    np.dot(dout.T, a, G[n1 + hh : n1 + hh + n2].reshape((n_out, hh)))  # (n_out, h)
    for c in range(n_out):
        s = np.float32(0.0)
        for i in range(Bc):
            s += dout[i, c]
        G[n1 + hh + n2 + c] = s
    da = np.dot(dout, W2)  # (Bc, h)
    for j in range(hh):
        G[n1 + j] = 0
    for i in range(Bc):
        for j in range(hh):
            v = da[i, j] if z[i, j] > 0 else np.float32(0.0)
            z[i, j] = v
            G[n1 + j] += v
    return total


@njit(cache=True, nogil=True)
def _model_step(e, xb, yb, P, Mk, A1, A2, steps, n_in, h, p_off, n_out, lr, l1, l2, G, zbuf, abuf, obuf, dbuf):
    """One Adam step of model e on the gathered minibatch ``xb (Bc, n_in)``; returns the sum of its logits."""
    Bc = xb.shape[0]
    ni, hh, o = n_in[e], h[e], p_off[e]
    n1, n2 = hh * ni, n_out * hh
    size = n1 + hh + n2 + n_out
    W1 = P[o : o + n1].reshape((hh, ni))
    b1 = P[o + n1 : o + n1 + hh]
    W2 = P[o + n1 + hh : o + n1 + hh + n2].reshape((n_out, hh))
    b2 = P[o + n1 + hh + n2 : o + size]
    z = zbuf[: Bc * hh].reshape((Bc, hh))
    np.dot(xb, W1.T, z)  # (Bc, h)
    if n_out == 1:
        total = _binary_step(xb, yb, W1, b1, W2[0], b2[0], z, G, n1, hh)
    else:
        a = abuf[: Bc * hh].reshape((Bc, hh))
        out = obuf[: Bc * n_out].reshape((Bc, n_out))
        dout = dbuf[: Bc * n_out].reshape((Bc, n_out))
        total = _general_step(xb, yb, W1, b1, W2, b2, z, a, out, dout, G, n1, hh, n_out)
    np.dot(z.T, xb, G[:n1].reshape((hh, ni)))  # (h, n_in): dz^T x
    steps[e] += 1
    t = np.float64(steps[e])
    step_size = np.float32(np.float64(np.float32(lr[e])) / (1.0 - B1**t))
    bc2 = np.float32(np.sqrt(1.0 - B2**t))
    l1f, l2x2 = np.float32(l1[e]), np.float32(2.0) * np.float32(l2[e])
    _adam(P, G, A1, A2, Mk, o, o + n1, l1f, l2x2, step_size, bc2, True)
    _adam(P, G[n1:], A1, A2, Mk, o + n1, o + size, l1f, l2x2, step_size, bc2, False)
    return total


@njit(cache=True, nogil=True)
def train_epoch(
    order,
    bounds,
    P,
    Mk,
    A1,
    A2,
    steps,
    n_in,
    h,
    p_off,
    stream,
    ds,
    n_out,
    X,
    x_off,
    y,
    n,
    perms,
    batch,
    lr,
    l1,
    l2,
    sums,
) -> None:
    """One epoch of the models ``order[bounds[g] : bounds[g + 1]]`` of each group g (the models of one stream:
    a trial's dense model and its forks, which read the same minibatches): each minibatch of ``batch`` rows (the
    last one may be shorter) is gathered once per group, then every model of the group takes its Adam step.
    ``sums[e]`` += the sum of model e's logits over the epoch."""
    for g in range(bounds.shape[0] - 1):
        first, last = bounds[g], bounds[g + 1]
        e0 = order[first]
        ni, d, perm = n_in[e0], ds[e0], perms[stream[e0]]
        Xd = X[x_off[d] : x_off[d] + n * ni].reshape((n, ni))
        yd = y[d * n : (d + 1) * n]
        h_max, size_max = 0, 0
        for q in range(first, last):
            e = order[q]
            h_max = max(h_max, h[e])
            size_max = max(size_max, h[e] * ni + h[e] + n_out * h[e] + n_out)
        Bc = min(batch, n)
        G = np.empty(size_max, dtype=np.float32)
        zbuf = np.empty(Bc * h_max, dtype=np.float32)
        abuf = np.empty(Bc * h_max, dtype=np.float32)
        obuf = np.empty(Bc * n_out, dtype=np.float32)
        dbuf = np.empty(Bc * n_out, dtype=np.float32)
        xfull = np.empty((Bc, ni), dtype=np.float32)
        yfull = np.empty(Bc, dtype=np.float32)
        totals = np.zeros(last - first)
        for start in range(0, n, batch):
            Bc = min(batch, n - start)
            xb, yb = xfull[:Bc], yfull[:Bc]
            for i in range(Bc):
                r = perm[start + i]
                for k in range(ni):
                    xb[i, k] = Xd[r, k]
                yb[i] = yd[r]
            for q in range(first, last):
                totals[q - first] += _model_step(
                    order[q], xb, yb, P, Mk, A1, A2, steps, n_in, h, p_off, n_out, lr, l1, l2, G, zbuf, abuf, obuf, dbuf
                )
        for q in range(first, last):
            sums[order[q]] += totals[q - first]


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
