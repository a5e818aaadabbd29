"""The compiled CPU epoch of a deep (LayerNorm) batch (numba; no torch): ``depth`` hidden layers, each
``ReLU(LN(W x + b))`` with an affine LayerNorm, then the head ``W x + b`` (softmax cross-entropy over the
classes, or BCE with logits for one output).

It trains the torch path's own state in place (``fpe_train.engine.train``: ``BatchedAdam``'s flat buffers,
read through numpy views), so everything around an epoch (forks, Adam carry-over, rows, curves) is the torch
path's. The flat layout (``BatchedAdam.flat``) holds the padded batch: every weight ``W_l (E, out, in)``,
then every bias ``b_l (E, out)``, then the LayerNorm pairs ``gamma_l, beta_l (E, h_l)``; :func:`layout`
gives where each tensor starts (``offs``) and the padded sizes (``pad``).

One call of :func:`train_epoch` runs one epoch, model-outer: each model copies its block, at its REAL shape
(``sizes[e]``), out of the padded buffers into a small ragged one (parameters ``P``, ``Q = P * M`` (the
weights as the forward pass reads them: a masked weight contributes nothing), the mask ``M`` as 0.0 / 1.0,
the two Adam moments), runs every minibatch of the epoch (rows ``perms[trial_of[e], start:start+B]``, the
last partial batch kept) and copies the block back. Every loop runs over the model's real neurons and
inputs only, so padding and the other models of the batch never change a model's numbers.

A step, activations transposed (``aT (h, B)``, so that every inner loop runs over the minibatch):

- forward: ``zT = Q_l aT + b_l`` (float32, each output one chain of fused multiply-adds from its bias, in the
  CPU kernel's register tiles, ``kernel.tiled``; a layer with masked weights four inputs per pass over its
  unmasked ones alone, :func:`_sparsity`'s lists by row); LayerNorm over the real
  neurons with float64 statistics (biased variance, eps 1e-5, as ``mlp.masked_layer_norm``), then the
  affine map in float64, rounded to float32 once, then ReLU; the normalised ``xhat`` (float64) and
  ``1 / std`` per sample are kept for the backward pass;
- the loss gradient (mean over the minibatch) and the loss itself (float32 as torch forms it, summed in
  float64: ``train_epoch``'s per-model sum is finite exactly when the epoch's summed loss is);
- backward: ``dW = dzT aT^T`` and ``db`` (dot products over the minibatch), ``daT = Q_l^T dzT`` (register
  tiles as the forward, from zero), ReLU's
  mask, LayerNorm's backward in float64 (rounded to float32 as autograd's cast back); a masked layer's
  products over its unmasked weights alone (by row, and by column for ``daT``), a masked weight's gradient
  left at 0;
- Adam fused exactly as ``BatchedAdam.step``: the penalty ``2 l2 p + l1 sign(p)`` on ``p * M`` (l1 on the
  first weight only), times the mask, the moments, the bias corrections from the model's float64 step count.

``fastmath`` (``reassoc``) only on the reductions over the minibatch (the order of those sums depends on the
minibatch's length alone) and ``contract`` (fused multiply-adds) on the products: the same program for the
same shape, whatever the batch. Compiled with ``cache=True`` (once per machine) and ``nogil=True`` (threads
over models: ``fpe_train.engine.train``).

:func:`correct` is the same forward pass for ``train.accuracy``: hits per model on its rows of a stacked set.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from fpe_train.engine.kernel import BIAS, TRANSPOSED, _backward_rest, _forward_rest, tiled

B1, B2, EPS = 0.9, 0.999, 1e-8  # torch.optim.Adam's defaults
LN_EPS = 1e-5  # torch.nn.LayerNorm's default, as mlp.LN_EPS


def layout(pad: list[int], E: int) -> np.ndarray:
    """Where each tensor of the flat buffer starts, ``offs (4 L - 2,)`` int64: ``W_l`` at ``offs[l]``, ``b_l`` at
    ``offs[L + l]``, ``gamma_l`` at ``offs[2 L + 2 l]`` and ``beta_l`` after it, for the padded sizes ``pad``
    ``[in, h_1, ..., out]`` of E models (``BatchedAdam.flat``'s order: weights, biases, norms)."""
    L = len(pad) - 1
    sizes = [E * pad[j + 1] * pad[j] for j in range(L)] + [E * pad[j + 1] for j in range(L)]
    sizes += [E * pad[j + 1] for j in range(L - 1) for _ in range(2)]
    return np.cumsum([0] + sizes[:-1]).astype(np.int64)


# ---------------------------------------------------------------- one model's ragged block


@njit(cache=True, nogil=True)
def _local(sz):
    """Offsets of the ragged block of a model of real sizes ``sz (L+1,)``: weights, biases, norms (the flat
    buffer's order); returns ``(at (4 L - 2,), size)``."""
    L = sz.shape[0] - 1
    at = np.empty(4 * L - 2, dtype=np.int64)
    o = 0
    for j in range(L):
        at[j] = o
        o += sz[j + 1] * sz[j]
    for j in range(L):
        at[L + j] = o
        o += sz[j + 1]
    for j in range(L - 1):
        at[2 * L + 2 * j] = o
        at[2 * L + 2 * j + 1] = o + sz[j + 1]
        o += 2 * sz[j + 1]
    return at, o


@njit(cache=True, nogil=True)
def _copy(e, sz, pad, offs, at, flat, local, out) -> None:
    """Model e's real block between the padded ``flat`` and the ragged ``local`` (``out``: local -> flat)."""
    L = sz.shape[0] - 1
    for j in range(L):
        base = offs[j] + e * pad[j + 1] * pad[j]
        for r in range(sz[j + 1]):
            for c in range(sz[j]):
                if out:
                    flat[base + r * pad[j] + c] = local[at[j] + r * sz[j] + c]
                else:
                    local[at[j] + r * sz[j] + c] = flat[base + r * pad[j] + c]
    for t in range(L, 4 * L - 2):
        j = t - L if t < 2 * L else (t - 2 * L) // 2
        base = offs[t] + e * pad[j + 1]
        for r in range(sz[j + 1]):
            if out:
                flat[base + r] = local[at[t] + r]
            else:
                local[at[t] + r] = flat[base + r]


@njit(cache=True, nogil=True)
def _mask(e, sz, pad, offs, at, size, mask):
    """Model e's mask as its ragged block of 0.0 / 1.0 (biases and norms 1.0)."""
    L = sz.shape[0] - 1
    M = np.ones(size, dtype=np.float32)
    for j in range(L):
        base = offs[j] + e * pad[j + 1] * pad[j]
        for r in range(sz[j + 1]):
            for c in range(sz[j]):
                M[at[j] + r * sz[j] + c] = np.float32(1.0) if mask[base + r * pad[j] + c] else np.float32(0.0)
    return M


@njit(cache=True, nogil=True)
def _sparsity(sz, at, M):
    """Each weight's unmasked entries, by row and by column: ``(dense (L,), rptr, ridx, cptr, cidx, poff, qoff)``.
    Layer l's rows: unmasked columns ``ridx[at[l] + rptr[poff[l] + j] : ...+ rptr[poff[l] + j + 1]]`` of row j;
    its columns likewise in ``cptr``, ``cidx`` (from ``qoff[l]``); ``dense[l]``: nothing masked (the dense
    loops, no index loads)."""
    L = sz.shape[0] - 1
    dense = np.ones(L, dtype=np.bool_)
    poff, qoff = np.empty(L, dtype=np.int64), np.empty(L, dtype=np.int64)
    p = q = 0
    for j in range(L):
        poff[j], qoff[j] = p, q
        p += sz[j + 1] + 1
        q += sz[j] + 1
    rptr, cptr = np.empty(p, dtype=np.int64), np.empty(q, dtype=np.int64)
    ridx, cidx = np.empty(M.shape[0], dtype=np.int64), np.empty(M.shape[0], dtype=np.int64)
    for j in range(L):
        o, ni, w = sz[j + 1], sz[j], at[j]
        c = 0
        for r in range(o):
            rptr[poff[j] + r] = c
            for k in range(ni):
                if M[w + r * ni + k] != 0:
                    ridx[w + c] = k
                    c += 1
        rptr[poff[j] + o] = c
        dense[j] = c == o * ni
        c = 0
        for k in range(ni):
            cptr[qoff[j] + k] = c
            for r in range(o):
                if M[w + r * ni + k] != 0:
                    cidx[w + c] = r
                    c += 1
        cptr[qoff[j] + ni] = c
    return dense, rptr, ridx, cptr, cidx, poff, qoff


# ---------------------------------------------------------------- forward


@njit(cache=True, nogil=True)
def _linear(W, b, aT, zT) -> None:
    """``zT (o, Bc) = W (o, i) aT (i, Bc) + b``: each output one chain of fused multiply-adds from its bias over
    the inputs in order, in the CPU kernel's register tiles (``kernel.tiled``)."""
    tiled(BIAS, W, aT, zT, b, W.shape[0])


@njit(cache=True, nogil=True, fastmath={"contract"})
def _linear_sparse(W, b, aT, zT, ptr, idx) -> None:
    """``zT = W aT + b`` over the unmasked entries alone (row j's columns ``idx[ptr[j] : ptr[j + 1]]``), four
    per pass over the minibatch."""
    Bc = aT.shape[1]
    for j in range(W.shape[0]):
        row, bj = zT[j], b[j]
        for i in range(Bc):
            row[i] = bj
        _forward_rest(W, aT, row, j, idx, ptr[j], ptr[j + 1])  # the CPU kernel's sparse products


@njit(cache=True, nogil=True)
def _norm_relu(zT, gamma, beta, xh, rstd, mean, aT) -> None:
    """``aT = ReLU(LN(zT))`` over the rows (the real neurons), float64 statistics per sample (biased variance);
    keeps ``xh (h, Bc)`` float64 (the normalised inputs) and ``rstd (Bc,)``; ``mean (Bc,)`` scratch."""
    h, Bc = zT.shape
    for i in range(Bc):
        mean[i] = 0.0
        rstd[i] = 0.0
    for j in range(h):
        for i in range(Bc):
            mean[i] += np.float64(zT[j, i])
    for i in range(Bc):
        mean[i] /= h
    for j in range(h):
        for i in range(Bc):
            d = np.float64(zT[j, i]) - mean[i]
            rstd[i] += d * d
    for i in range(Bc):
        rstd[i] = 1.0 / np.sqrt(rstd[i] / h + LN_EPS)
    for j in range(h):
        g, bt = np.float64(gamma[j]), np.float64(beta[j])
        for i in range(Bc):
            x = (np.float64(zT[j, i]) - mean[i]) * rstd[i]  # d again: a float32 read, not a float64 one
            xh[j, i] = x
            aT[j, i] = max(np.float32(x * g + bt), np.float32(0.0))


@njit(cache=True, nogil=True)
def _affine(j, sz, Q, at, sp, aT, zT) -> None:
    """``zT = Q_j aT + b_j`` for layer j: the dense loops, or over its unmasked weights alone (``sp``)."""
    L = sz.shape[0] - 1
    o, ni = sz[j + 1], sz[j]
    W = Q[at[j] : at[j] + o * ni].reshape((o, ni))
    b = Q[at[L + j] : at[L + j] + o]
    dense, rptr, ridx, _, _, poff, _ = sp
    if dense[j]:
        _linear(W, b, aT, zT)
    else:
        _linear_sparse(W, b, aT, zT, rptr[poff[j] : poff[j] + o + 1], ridx[at[j] : at[j] + o * ni])


@njit(cache=True, nogil=True)
def _forward(sz, Q, at, sp, xT, act, xhat, rstd, mean, zbuf, outT) -> None:
    """The forward pass of a model of sizes ``sz`` on ``xT (n_in, Bc)``: hidden activations into ``act``, their
    ``xhat`` and ``rstd`` (layer l at rows ``l * Bc``), logits into ``outT (n_out, Bc)``; ``sp``: its
    unmasked weights (:func:`_sparsity`)."""
    L = sz.shape[0] - 1
    Bc = xT.shape[1]
    aT = xT
    o = 0
    for j in range(L - 1):
        h = sz[j + 1]
        zT = zbuf[: h * Bc].reshape((h, Bc))
        _affine(j, sz, Q, at, sp, aT, zT)
        nxt = act[o : o + h * Bc].reshape((h, Bc))
        g0 = at[2 * L + 2 * j]
        xh = xhat[o : o + h * Bc].reshape((h, Bc))
        _norm_relu(zT, Q[g0 : g0 + h], Q[g0 + h : g0 + 2 * h], xh, rstd[j, :Bc], mean, nxt)
        aT = nxt
        o += h * Bc
    _affine(L - 1, sz, Q, at, sp, aT, outT)


# ---------------------------------------------------------------- loss


@njit(cache=True, nogil=True, error_model="numpy")
def _softmax_ce(outT, yb, dT, mx, s) -> float:
    """Softmax cross-entropy, classes by row: ``dT = d(mean loss)/d(outT)``; returns the summed loss of the
    minibatch (float32 per sample as torch's log-softmax forms it, summed in float64). ``mx``, ``s`` (Bc,)."""
    no, Bc = outT.shape
    inv = np.float32(1.0) / np.float32(Bc)
    for i in range(Bc):
        mx[i] = outT[0, i]
        s[i] = 0.0
    for c in range(1, no):
        for i in range(Bc):
            mx[i] = max(mx[i], outT[c, i])
    for c in range(no):
        for i in range(Bc):
            v = np.exp(outT[c, i] - mx[i])
            dT[c, i] = v
            s[i] += v
    total = 0.0
    for c in range(no):
        for i in range(Bc):
            dT[c, i] = dT[c, i] / s[i] * inv
    for i in range(Bc):
        k = np.int64(yb[i])
        dT[k, i] -= inv
        total += np.log(s[i]) - (outT[k, i] - mx[i])
    return total


@njit(cache=True, nogil=True, error_model="numpy")
def _bce(outT, yb, dT) -> float:
    """Binary cross-entropy with logits (one output): ``dT = (sigmoid - y) / Bc``; returns the summed loss
    (torch's float32 form per sample, summed in float64)."""
    Bc = outT.shape[1]
    inv = np.float32(1.0) / np.float32(Bc)
    total = 0.0
    for i in range(Bc):
        x, t = outT[0, i], yb[i]
        dT[0, i] = (np.float32(1.0) / (np.float32(1.0) + np.exp(-x)) - t) * inv
        m = max(-x, np.float32(0.0))
        total += (np.float32(1.0) - t) * x + m + np.log(np.exp(-m) + np.exp(-x - m))
    return total


# ---------------------------------------------------------------- backward


@njit(cache=True, nogil=True, fastmath={"reassoc", "contract"})
def _grad(dzT, aT, GW, gb) -> None:
    """``GW (o, i) = dzT aT^T``, ``gb (o,) = dzT 1``: dot products over the minibatch, four inputs per pass."""
    o, Bc = dzT.shape
    ni = aT.shape[0]
    for j in range(o):
        d = dzT[j]
        sb = np.float32(0.0)
        for i in range(Bc):
            sb += d[i]
        gb[j] = sb
        q = 0
        while q + 4 <= ni:
            x0, x1, x2, x3 = aT[q], aT[q + 1], aT[q + 2], aT[q + 3]
            s0 = s1 = s2 = s3 = np.float32(0.0)
            for i in range(Bc):
                di = d[i]
                s0 += di * x0[i]
                s1 += di * x1[i]
                s2 += di * x2[i]
                s3 += di * x3[i]
            GW[j, q], GW[j, q + 1], GW[j, q + 2], GW[j, q + 3] = s0, s1, s2, s3
            q += 4
        while q < ni:
            s0, x0 = np.float32(0.0), aT[q]
            for i in range(Bc):
                s0 += d[i] * x0[i]
            GW[j, q] = s0
            q += 1


@njit(cache=True, nogil=True, fastmath={"reassoc", "contract"})
def _grad_sparse(dzT, aT, GW, gb, ptr, idx) -> None:
    """:func:`_grad` on the unmasked entries alone (row j's columns ``idx[ptr[j] : ptr[j + 1]]``); the masked
    entries of ``GW`` are left as they are (zero)."""
    o, Bc = dzT.shape
    for j in range(o):
        d = dzT[j]
        sb = np.float32(0.0)
        for i in range(Bc):
            sb += d[i]
        gb[j] = sb
        _backward_rest(d, aT, GW, j, idx, ptr[j], ptr[j + 1])  # the CPU kernel's sparse dot products


@njit(cache=True, nogil=True, fastmath={"contract"})
def _back_sparse(W, dzT, daT, ptr, idx) -> None:
    """``daT = W^T dzT`` over the unmasked entries alone (column k's rows ``idx[ptr[k] : ptr[k + 1]]``): the
    CPU kernel's sparse products on the transposed weights."""
    Bc = dzT.shape[1]
    WT = W.T  # (in, out) view: WT[k, j] = W[j, k]
    for k in range(W.shape[1]):
        row = daT[k]
        for i in range(Bc):
            row[i] = 0
        _forward_rest(WT, dzT, row, k, idx, ptr[k], ptr[k + 1])


@njit(cache=True, nogil=True)
def _back_linear(W, dzT, daT) -> None:
    """``daT (i, Bc) = W^T dzT``: each output one chain of fused multiply-adds from zero over the outputs of
    ``W`` in order, in the CPU kernel's register tiles (``kernel.tiled``)."""
    tiled(TRANSPOSED, W, dzT, daT, daT[0], W.shape[1])


@njit(cache=True, nogil=True, fastmath={"reassoc"})
def _norm_back(daT, aT, xh, rstd, gamma, gg, gbt, dzT, s1, s2) -> None:
    """Backward of ``aT = ReLU(LN(z))``: ``daT (h, Bc)`` the gradient of ``aT`` (masked by ReLU in place), the
    LayerNorm in float64: ``gg``, ``gbt`` the gradients of gamma, beta; ``dzT`` of z (float32). ``s1``, ``s2``
    (Bc,) float64 scratch."""
    h, Bc = daT.shape
    for i in range(Bc):
        s1[i] = 0.0
        s2[i] = 0.0
    for j in range(h):
        g = np.float64(gamma[j])
        sg = sb = 0.0
        for i in range(Bc):
            dy = daT[j, i] if aT[j, i] > 0 else np.float32(0.0)
            daT[j, i] = dy
            d, x = np.float64(dy), xh[j, i]
            sg += d * x
            sb += d
            d *= g
            s1[i] += d
            s2[i] += d * x
        gg[j] = np.float32(sg)
        gbt[j] = np.float32(sb)
    for i in range(Bc):
        s1[i] /= h
        s2[i] /= h
    for j in range(h):
        g = np.float64(gamma[j])
        for i in range(Bc):
            d = np.float64(daT[j, i]) * g
            dzT[j, i] = np.float32(rstd[i] * (d - s1[i] - xh[j, i] * s2[i]))


@njit(cache=True, nogil=True)
def _backward(sz, Q, G, at, sp, xT, act, xhat, rstd, dT, dz, da, s1, s2) -> None:
    """Gradients of every parameter into ``G`` (the ragged layout) from ``dT (n_out, Bc)``, the loss's gradient
    w.r.t. the logits; ``dz``, ``da`` float32 scratch of ``h_max * Bc``. A masked weight's gradient is not
    written (``G`` holds 0 there)."""
    dense, rptr, ridx, cptr, cidx, poff, qoff = sp
    L = sz.shape[0] - 1
    Bc = xT.shape[1]
    ends = np.empty(L, dtype=np.int64)  # where layer l's activations start in act (layer 0: the input)
    o = 0
    for j in range(L - 1):
        ends[j + 1] = o
        o += sz[j + 1] * Bc
    dzT = dT
    for j in range(L - 1, -1, -1):
        no, ni = sz[j + 1], sz[j]
        aT = xT if j == 0 else act[ends[j] : ends[j] + ni * Bc].reshape((ni, Bc))
        GW = G[at[j] : at[j] + no * ni].reshape((no, ni))
        gb = G[at[L + j] : at[L + j] + no]
        w = at[j]
        if dense[j]:
            _grad(dzT, aT, GW, gb)
        else:
            _grad_sparse(dzT, aT, GW, gb, rptr[poff[j] : poff[j] + no + 1], ridx[w : w + no * ni])
        if j == 0:
            break
        W = Q[w : w + no * ni].reshape((no, ni))
        daT = da[: ni * Bc].reshape((ni, Bc))
        if dense[j]:
            _back_linear(W, dzT, daT)
        else:
            _back_sparse(W, dzT, daT, cptr[qoff[j] : qoff[j] + ni + 1], cidx[w : w + no * ni])
        g0 = at[2 * L + 2 * (j - 1)]
        nxt = dz[: ni * Bc].reshape((ni, Bc))  # dzT (read above) is no longer needed
        xh = xhat[ends[j] : ends[j] + ni * Bc].reshape((ni, Bc))
        _norm_back(
            daT, aT, xh, rstd[j - 1, :Bc], Q[g0 : g0 + ni], G[g0 : g0 + ni], G[g0 + ni : g0 + 2 * ni], nxt, s1, s2
        )
        dzT = nxt


# ---------------------------------------------------------------- Adam


@njit(cache=True, nogil=True, error_model="numpy")
def _adam(P, Q, G, M, A1, A2, n1, l1, l2x2, step_size, bc2) -> None:
    """``BatchedAdam.step`` on one model's ragged block: penalty on ``Q = P * M`` (l1 on the first ``n1``
    entries, the first weight), times the mask, the moments, the update; then ``Q = P * M``. (numpy's error
    model: no zero check on the division, whose divisor is at least eps.)"""
    one_b1, one_b2 = np.float32(1.0 - B1), np.float32(1.0 - B2)
    b2, eps = np.float32(B2), np.float32(EPS)
    for k in range(P.shape[0]):
        q = Q[k]
        g = G[k] + q * l2x2
        if k < n1:
            g += (np.float32(1.0) if q > 0 else (np.float32(-1.0) if q < 0 else np.float32(0.0))) * l1
        g *= M[k]
        m = A1[k] + one_b1 * (g - A1[k])
        v = A2[k] * b2 + one_b2 * g * g
        A1[k] = m
        A2[k] = v
        p = P[k] - step_size * m / (np.sqrt(v) / bc2 + eps)
        P[k] = p
        Q[k] = p * M[k]


# ---------------------------------------------------------------- one epoch


@njit(cache=True, nogil=True)
def _gather(X, y, perm, start, n_in, xT, yb) -> None:
    """``xT (n_in, Bc)`` <- the first ``n_in`` columns of rows ``perm[start : start + Bc]`` of ``X``, transposed;
    ``yb`` their labels."""
    Bc = xT.shape[1]
    for i in range(Bc):
        r = perm[start + i]
        yb[i] = y[r]
        for k in range(n_in):
            xT[k, i] = X[r, k]


@njit(cache=True, nogil=True)
def _model_epoch(e, sz, pad, offs, flat, mask, exp_avg, exp_avg_sq, steps, lr, l1, l2x2, perm, X, y, batch) -> float:
    """One epoch of model e (its minibatches from ``perm``); returns its summed loss over the epoch."""
    L = sz.shape[0] - 1
    at, size = _local(sz)
    P = np.empty(size, dtype=np.float32)
    A1 = np.empty(size, dtype=np.float32)
    A2 = np.empty(size, dtype=np.float32)
    _copy(e, sz, pad, offs, at, flat, P, False)
    _copy(e, sz, pad, offs, at, exp_avg, A1, False)
    _copy(e, sz, pad, offs, at, exp_avg_sq, A2, False)
    M = _mask(e, sz, pad, offs, at, size, mask)
    Q = P * M
    G = np.zeros(size, dtype=np.float32)  # a masked weight's entry stays 0
    sp = _sparsity(sz, at, M)
    n = perm.shape[0]
    B = min(batch, n)
    h_max, hidden = 0, 0
    for j in range(1, L + 1):
        h_max = max(h_max, sz[j])
        if j < L:
            hidden += sz[j]
    xbuf = np.empty(sz[0] * B, dtype=np.float32)
    yb_all = np.empty(B, dtype=np.float32)
    act = np.empty(hidden * B, dtype=np.float32)
    xhat = np.empty(hidden * B, dtype=np.float64)
    rstd = np.empty((max(L - 1, 1), B), dtype=np.float64)
    mean, s1, s2 = np.empty(B), np.empty(B), np.empty(B)
    zbuf = np.empty(h_max * B, dtype=np.float32)
    dz = np.empty(h_max * B, dtype=np.float32)
    da = np.empty(h_max * B, dtype=np.float32)
    obuf = np.empty(sz[L] * B, dtype=np.float32)
    dbuf = np.empty(sz[L] * B, dtype=np.float32)
    mx, sm = np.empty(B, dtype=np.float32), np.empty(B, dtype=np.float32)
    lr32, l1f, l2f = np.float64(np.float32(lr)), np.float32(l1), np.float32(l2x2)
    n1 = sz[1] * sz[0]
    total = 0.0
    for start in range(0, n, batch):
        Bc = min(batch, n - start)
        xT = xbuf[: sz[0] * Bc].reshape((sz[0], Bc))
        yb = yb_all[:Bc]
        _gather(X, y, perm, start, sz[0], xT, yb)
        outT = obuf[: sz[L] * Bc].reshape((sz[L], Bc))
        dT = dbuf[: sz[L] * Bc].reshape((sz[L], Bc))
        _forward(sz, Q, at, sp, xT, act, xhat, rstd, mean, zbuf, outT)
        if sz[L] == 1:
            loss = _bce(outT, yb, dT)
        else:
            loss = _softmax_ce(outT, yb, dT, mx[:Bc], sm[:Bc])
        total += loss / Bc
        _backward(sz, Q, G, at, sp, xT, act, xhat, rstd, dT, dz, da, s1, s2)
        steps[e] += 1.0
        t = steps[e]
        step_size = np.float32(lr32 / (1.0 - B1**t))
        bc2 = np.float32(np.sqrt(1.0 - B2**t))
        _adam(P, Q, G, M, A1, A2, n1, l1f, l2f, step_size, bc2)
    _copy(e, sz, pad, offs, at, flat, P, True)
    _copy(e, sz, pad, offs, at, exp_avg, A1, True)
    _copy(e, sz, pad, offs, at, exp_avg_sq, A2, True)
    return total


@njit(cache=True, nogil=True)
def train_epoch(
    models, sizes, pad, offs, flat, mask, exp_avg, exp_avg_sq, steps, lr, l1, l2x2, trial_of, perms, X, y, batch, loss
) -> None:
    """One epoch of each model e of ``models``, one after the other: ``sizes (E, L+1)`` the real sizes,
    ``pad``, ``offs`` the padded layout (:func:`layout`) of ``flat`` (P,) float32, ``mask`` (P,) bool and the
    Adam moments ``exp_avg``, ``exp_avg_sq`` (P,), all updated in place with ``steps (E,)`` float64; ``lr``,
    ``l1``, ``l2x2`` (E,); model e reads rows ``perms[trial_of[e]]`` of ``X (N, in)``, ``y (N,)``, minibatches
    of ``batch``. ``loss[e]`` <- its summed mean loss over the epoch's minibatches."""
    for e in models:
        loss[e] = _model_epoch(
            e,
            sizes[e],
            pad,
            offs,
            flat,
            mask,
            exp_avg,
            exp_avg_sq,
            steps,
            lr[e],
            l1[e],
            l2x2[e],
            perms[trial_of[e]],
            X,
            y,
            batch,
        )


# ---------------------------------------------------------------- accuracy


@njit(cache=True, nogil=True)
def correct(models, sizes, pad, offs, flat, mask, X, y, rows, n, chunk, hits) -> None:
    """``hits[e]`` <- correct predictions of model e on rows ``rows[e] .. rows[e] + n`` of ``X``, ``y`` (binary:
    logit > 0; multiclass: argmax, the first of equal maxima), ``chunk`` rows at a time."""
    for e in models:
        sz = sizes[e]
        L = sz.shape[0] - 1
        at, size = _local(sz)
        P = np.empty(size, dtype=np.float32)
        _copy(e, sz, pad, offs, at, flat, P, False)
        M = _mask(e, sz, pad, offs, at, size, mask)
        Q = P * M
        sp = _sparsity(sz, at, M)
        B = min(chunk, n)
        h_max, hidden = 0, 0
        for j in range(1, L + 1):
            h_max = max(h_max, sz[j])
            if j < L:
                hidden += sz[j]
        xbuf = np.empty(sz[0] * B, dtype=np.float32)
        yb_all = np.empty(B, dtype=np.float32)
        act = np.empty(hidden * B, dtype=np.float32)
        xhat = np.empty(hidden * B, dtype=np.float64)
        rstd = np.empty((max(L - 1, 1), B), dtype=np.float64)
        mean = np.empty(B)
        zbuf = np.empty(h_max * B, dtype=np.float32)
        obuf = np.empty(sz[L] * B, dtype=np.float32)
        order = np.arange(rows[e], rows[e] + n)
        count = 0
        for start in range(0, n, chunk):
            Bc = min(chunk, n - start)
            xT = xbuf[: sz[0] * Bc].reshape((sz[0], Bc))
            outT = obuf[: sz[L] * Bc].reshape((sz[L], Bc))
            _gather(X, y, order, start, sz[0], xT, yb_all[:Bc])
            _forward(sz, Q, at, sp, xT, act, xhat, rstd, mean, zbuf, outT)
            for i in range(Bc):
                label = yb_all[i]
                if sz[L] == 1:
                    count += (outT[0, i] > 0) == (label > 0.5)
                else:
                    best = 0
                    for c in range(1, sz[L]):
                        v, top = outT[c, i], outT[best, i]
                        if v > top or (np.isnan(v) and not np.isnan(top)):  # torch.argmax: NaN is the maximum
                            best = c
                    count += best == np.int64(label)
        hits[e] = count
