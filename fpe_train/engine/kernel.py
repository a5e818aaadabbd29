"""The compiled CPU step of a one-hidden-layer batch (numba; no torch): ``z = W2 relu(W1 x + b1) + b2``.

Layout: every model's parameters lie in one flat float32 buffer ``P``, model e's block at ``p_off[e]`` holding
``W1 (h, n_in)``, ``b1 (h,)``, ``W2 (n_out, h)``, ``b2 (n_out,)`` at the model's own shape (ragged: no padding,
a mixed batch costs the sum of its models). ``Mk`` is the mask in the same layout (1.0 / 0.0; biases 1.0),
``A1``, ``A2`` the Adam moments. Masks are folded into the weights: a masked weight is exactly 0 and its
gradient is multiplied by 0 inside the fused Adam step, so its moments and the weight stay exactly 0 and
the forward pass uses ``W`` as it is (no ``W * M`` per step).

One call of :func:`train_epoch` runs one epoch of the given models, trial-outer: the models of one trial
(its dense model and its FPE forks, which read the same minibatches) go through the epoch together, each
minibatch gathered once for all of them, transposed (``xT (n_in, B)``: a column of the minibatch per input,
16 x 16 tiles transposed in registers by :func:`_tile16`), and every model takes its step with its
activations transposed too (``zT (h, B)``, so that every loop over the minibatch is a long vector loop):

- the two products ``W1 xT`` and ``dzT xT^T``: for models with at most ``HAND_MAX_DENSE`` (no mask) or
  ``HAND_MAX_MASKED`` unmasked weights in W1 (every dense model of the paper's Boolean grid, its FPE models
  up to m r = 2560) hand-written loops over the minibatch: a dense model's ``W1 xT`` in register tiles (four
  hidden units by 32 samples held in registers while the inputs go by, :func:`_tile`), its ``dzT xT^T``
  two units and four inputs per pass, sharing their loads; a masked model one unit per pass over its unmasked
  inputs alone (it skips the zeros a BLAS call would multiply); larger models through BLAS (``np.dot``);
- the rest of the forward pass, the loss gradient (mean BCE with logits for one output; softmax
  cross-entropy through BLAS otherwise) and the backward pass up to ``dz`` in a few vector passes;
- Adam (torch.optim.Adam's arithmetic, no weight decay) fused with the penalties (``2 l2 p`` on every
  parameter, ``l1 sign(p)`` on W1) and the mask.

The reductions over the minibatch (gradients of W1, b1, w2, b2) are summed in vector lanes (numba's
``fastmath`` ``reassoc`` on those loops alone): the order depends on the model's shape and the minibatch's
length only, so a model's numbers do not depend on the other models of its batch. The loss itself is never
formed: a loss is finite exactly when every logit is, so the sum of the logits per model (``sums``) is the
divergence check. Compiled with ``cache=True`` (once per machine, reused by every later process) and
``nogil=True``: threads over models run in parallel (``fpe_train.engine.cpu``), each calling a
single-threaded BLAS.

Data order: :func:`permutations` draws each trial's permutation of the epoch from its 64-bit key
(``draws.order_key``): Fisher-Yates driven by splitmix64 of (key, epoch, position); the same function serves
the torch path, so both read the same minibatches.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from fpe_train.engine.keys import HAND_MAX_DENSE, HAND_MAX_MASKED

B1, B2, EPS = 0.9, 0.999, 1e-8  # torch.optim.Adam's defaults
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1, _M2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)
# first-layer weights (unmasked) up to which the two products are hand-written loops, not BLAS (the measured
# crossovers: a dense model's loops are faster, a masked model's skip the zeros BLAS would multiply)


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
    """``out (T, n)`` <- each trial's permutation of this epoch (``keys (T,)`` uint64)."""
    for t in range(keys.shape[0]):
        permutation(keys[t], epoch, out[t])


# ---------------------------------------------------------------- the minibatch, transposed


@intrinsic
def _tile16(typingctx, src, offs, dst, dst_off, ld):
    """``dst[dst_off + c * ld + r] = src[offs[r] + c]`` for r, c < 16: sixteen rows of 16 floats loaded as
    vectors, transposed in registers (four rounds of shuffles, each swapping one bit of the row index with the
    same bit of the column index) and stored as sixteen columns."""
    sig = types.void(src, offs, dst, dst_off, ld)

    def codegen(context, builder, signature, args):
        s, o, d, doff, ldv = args
        sa = context.make_array(signature.args[0])(context, builder, s)
        oa = context.make_array(signature.args[1])(context, builder, o)
        da = context.make_array(signature.args[2])(context, builder, d)
        i64, vec = ir.IntType(64), ir.VectorType(ir.FloatType(), 16)
        rows = []
        for r in range(16):
            at = builder.load(builder.gep(oa.data, [ir.Constant(i64, r)]))
            rows.append(builder.load(builder.bitcast(builder.gep(sa.data, [at]), vec.as_pointer()), align=4))
        for bit in (1, 2, 4, 8):
            low = [c if not c & bit else 16 + (c ^ bit) for c in range(16)]
            high = [c ^ bit if not c & bit else 16 + c for c in range(16)]
            low, high = (ir.Constant(ir.VectorType(ir.IntType(32), 16), m) for m in (low, high))
            new = list(rows)
            for p in (r for r in range(16) if not r & bit):
                new[p] = builder.shuffle_vector(rows[p], rows[p | bit], low)
                new[p | bit] = builder.shuffle_vector(rows[p], rows[p | bit], high)
            rows = new
        for c in range(16):
            at = builder.add(doff, builder.mul(ldv, ir.Constant(i64, c)))
            builder.store(rows[c], builder.bitcast(builder.gep(da.data, [at]), vec.as_pointer()), align=4)
        return context.get_dummy_value()

    return sig, codegen


@njit(cache=True, nogil=True)
def _gather_t(X, base, ni, perm, start, xT, offs) -> None:
    """``xT (ni, Bc)`` <- rows ``perm[start : start + Bc]`` of the dataset at ``X[base:]`` (rows of ``ni``),
    transposed: 16 x 16 tiles through :func:`_tile16`, the edges element by element."""
    Bc = xT.shape[1]
    flat = xT.reshape(-1)
    i0 = 0
    while i0 + 16 <= Bc:
        k0 = 0
        while k0 + 16 <= ni:
            for r in range(16):
                offs[r] = base + perm[start + i0 + r] * ni + k0
            _tile16(X, offs, flat, k0 * Bc + i0, Bc)
            k0 += 16
        for r in range(16):
            row = base + perm[start + i0 + r] * ni
            for k in range(k0, ni):
                xT[k, i0 + r] = X[row + k]
        i0 += 16
    for i in range(i0, Bc):
        row = base + perm[start + i] * ni
        for k in range(ni):
            xT[k, i] = X[row + k]


# ---------------------------------------------------------------- the two products of the first layer


@njit(cache=True, nogil=True)
def _active(Mk, o, hh, ni, act, cnt) -> int:
    """``act[j, :cnt[j]]`` <- the unmasked inputs of hidden unit j (W1 at ``Mk[o:]``); returns their number."""
    nnz = 0
    for j in range(hh):
        c = 0
        for k in range(ni):
            if Mk[o + j * ni + k] != 0:
                act[j, c] = k
                c += 1
        cnt[j] = c
        nnz += c
    return nnz


@njit(cache=True, nogil=True, fastmath={"contract"})
def _forward_masked(W1, xT, zT, act, cnt) -> None:
    """``zT (h, Bc) = W1 xT`` over the unmasked entries of W1, four inputs per pass over the minibatch. (Two
    hidden units per pass, each with its own inputs, measured 1.25x slower: more overlap checks between the
    arrays than LLVM vectorises with.)"""
    Bc = xT.shape[1]
    for j in range(W1.shape[0]):
        row, a, c = zT[j], act[j], cnt[j]
        q = 0
        if c >= 4:  # the first pass writes the row (no zeroing pass)
            k0, k1, k2, k3 = a[0], a[1], a[2], a[3]
            w0, w1, w2, w3 = W1[j, k0], W1[j, k1], W1[j, k2], W1[j, k3]
            x0, x1, x2, x3 = xT[k0], xT[k1], xT[k2], xT[k3]
            for i in range(Bc):
                row[i] = w0 * x0[i] + w1 * x1[i] + w2 * x2[i] + w3 * x3[i]
            q = 4
        else:
            for i in range(Bc):
                row[i] = 0
        _forward_rest(W1, xT, row, j, a, q, c)


@njit(cache=True, nogil=True, fastmath={"contract"})
def _forward_rest(W1, xT, row, j, a, q, c) -> None:
    """``row += W1[j, a[p]] xT[a[p]]`` for p in q..c-1, four inputs per pass over the minibatch."""
    Bc = xT.shape[1]
    while q + 4 <= c:
        k0, k1, k2, k3 = a[q], a[q + 1], a[q + 2], a[q + 3]
        w0, w1, w2, w3 = W1[j, k0], W1[j, k1], W1[j, k2], W1[j, k3]
        x0, x1, x2, x3 = xT[k0], xT[k1], xT[k2], xT[k3]
        for i in range(Bc):
            row[i] = row[i] + w0 * x0[i] + w1 * x1[i] + w2 * x2[i] + w3 * x3[i]
        q += 4
    while q < c:
        w0, x0 = W1[j, a[q]], xT[a[q]]
        for i in range(Bc):
            row[i] += w0 * x0[i]
        q += 1


TILE = 32  # samples per register tile of the dense forward product (four 256-bit vectors a hidden unit)


PAIR, BIAS, TRANSPOSED = 0, 1, 2  # the kinds of product of :func:`_tile` and :func:`tiled`
_INIT = {PAIR: "pair", BIAS: "bias", TRANSPOSED: "zero"}  # how a chain begins (a lone PAIR unit: from zero)
_KINDS = tuple((k, u, "zero" if (k, u) == (PAIR, 1) else _INIT[k]) for k in _INIT for u in (4, 2, 1))


@intrinsic
def _tile(typingctx, W1, xT, zT, j0, i0, lanes, b, kind, units):
    """``tile(W1, xT, zT, j0, i0, lanes, b, kind, units)``: ``zT[j0 : j0 + units, i0 : i0 + lanes] = W1 xT`` on
    those rows and columns (``lanes`` <= ``TILE``; ``units`` 4, 2 or 1), the ``units`` rows of ``TILE`` samples
    held in registers while the inputs go by (one load of ``xT[k, i0 : i0 + TILE]`` feeds every unit; no load or
    store of ``zT`` inside the loop). Each output is one chain of ``llvm.fmuladd`` (a fused multiply-add where the
    CPU has one, as numba's ``contract`` gives) over the inputs in order, begun as the loops it replaced began it,
    so the bits are theirs. ``kind``: ``PAIR``: ``fmuladd(w0, x0, w1 * x1)``, then inputs 2, 3, ... (one unit:
    from +0, inputs 0, 1, ...); ``BIAS``: from ``b[j]``, inputs 0, 1, ...; ``TRANSPOSED``: ``W1^T xT`` (unit j
    is column j of ``W1``, the inputs its rows) from +0. A tile of fewer than ``TILE`` lanes (the minibatch's last
    ``B mod TILE`` samples) goes through masked loads and stores."""
    if not all(isinstance(a, types.Array) and a.layout == "C" for a in (W1, xT, zT, b)):
        return None

    def codegen(context, builder, signature, args):
        i64 = ir.IntType(64)
        full = builder.icmp_signed("==", args[5], ir.Constant(i64, TILE))
        for kind_, units_, init in _KINDS:
            this = builder.and_(
                builder.icmp_signed("==", args[7], ir.Constant(i64, kind_)),
                builder.icmp_signed("==", args[8], ir.Constant(i64, units_)),
            )
            with builder.if_then(this), builder.if_else(full) as (whole, part):
                for block, partial in ((whole, False), (part, True)):
                    with block:
                        _emit_tile(context, builder, signature, args, units_, init, kind_ == TRANSPOSED, partial)
        return context.get_dummy_value()

    return types.void(W1, xT, zT, j0, i0, lanes, b, kind, units), codegen


def _emit_tile(context, builder, signature, args, units, init, transposed, partial) -> None:
    """The IR of one :func:`_tile` (``partial``: masked loads and stores of the first ``lanes`` samples)."""
    w, x, z, j0v, i0v, nl = args[:6]
    first = 2 if init == "pair" else 0
    wa = context.make_array(signature.args[0])(context, builder, w)
    xa = context.make_array(signature.args[1])(context, builder, x)
    za = context.make_array(signature.args[2])(context, builder, z)
    i1, i32, i64 = ir.IntType(1), ir.IntType(32), ir.IntType(64)
    vec = ir.VectorType(ir.FloatType(), TILE)
    cols, ld = builder.extract_value(wa.shape, 1), builder.extract_value(xa.shape, 1)
    ni = builder.extract_value(wa.shape, 0) if transposed else cols  # the inputs each unit sums over
    mod = builder.module
    fmuladd = cgutils.get_or_insert_function(mod, ir.FunctionType(vec, [vec, vec, vec]), f"llvm.fmuladd.v{TILE}f32")
    splat0 = ir.Constant(ir.VectorType(i32, TILE), [0] * TILE)

    def splat(value, ty):
        one = builder.insert_element(ir.Constant(ty, ir.Undefined), value, ir.Constant(i32, 0))
        return builder.shuffle_vector(one, ir.Constant(ty, ir.Undefined), splat0)

    if partial:
        ivec = ir.VectorType(i64, TILE)
        mask = builder.icmp_signed("<", ir.Constant(ivec, list(range(TILE))), splat(nl, ivec))
        mvec = ir.VectorType(i1, TILE)
        pvec = vec.as_pointer()
        mload = cgutils.get_or_insert_function(
            mod, ir.FunctionType(vec, [pvec, i32, mvec, vec]), f"llvm.masked.load.v{TILE}f32.p0"
        )
        mstore = cgutils.get_or_insert_function(
            mod, ir.FunctionType(ir.VoidType(), [vec, pvec, i32, mvec]), f"llvm.masked.store.v{TILE}f32.p0"
        )

    def at(data, row):  # &data[row * ld + i0] as a vector pointer
        return builder.bitcast(builder.gep(data, [builder.add(builder.mul(row, ld), i0v)]), vec.as_pointer())

    def load(ptr):
        if partial:
            return builder.call(mload, [ptr, ir.Constant(i32, 4), mask, ir.Constant(vec, None)])
        return builder.load(ptr, align=4)

    rows = [builder.add(j0v, ir.Constant(i64, u)) for u in range(units)]

    def weights(k):  # W1[r, k] for each unit r (transposed: W1[k, r])
        at_ = (
            (lambda r: builder.add(builder.mul(k, cols), r))
            if transposed
            else (lambda r: builder.add(builder.mul(r, cols), k))
        )
        return [splat(builder.load(builder.gep(wa.data, [at_(r)])), vec) for r in rows]

    if init == "pair":
        k1 = ir.Constant(i64, 1)
        x0, x1 = load(at(xa.data, ir.Constant(i64, 0))), load(at(xa.data, k1))
        w0, w1 = weights(ir.Constant(i64, 0)), weights(k1)
        accs = [builder.call(fmuladd, [w0[u], x0, builder.fmul(w1[u], x1)]) for u in range(units)]
    elif init == "bias":
        ba = context.make_array(signature.args[6])(context, builder, args[6])
        accs = [splat(builder.load(builder.gep(ba.data, [r])), vec) for r in rows]
    else:
        accs = [ir.Constant(vec, None)] * units
    entry, start = builder.block, ir.Constant(i64, first)
    body, done = builder.append_basic_block("tile.body"), builder.append_basic_block("tile.done")
    builder.cbranch(builder.icmp_signed("<", start, ni), body, done)
    builder.position_at_end(body)
    k = builder.phi(i64)
    k.add_incoming(start, entry)
    phis = [builder.phi(vec) for _ in range(units)]
    xk, wk = load(at(xa.data, k)), weights(k)
    new = [builder.call(fmuladd, [wk[u], xk, phis[u]]) for u in range(units)]
    k_next = builder.add(k, ir.Constant(i64, 1))
    k.add_incoming(k_next, body)
    for u in range(units):
        phis[u].add_incoming(accs[u], entry)
        phis[u].add_incoming(new[u], body)
    builder.cbranch(builder.icmp_signed("<", k_next, ni), body, done)
    builder.position_at_end(done)
    outs = []
    for u in range(units):
        out = builder.phi(vec)
        out.add_incoming(accs[u], entry)
        out.add_incoming(new[u], body)
        outs.append(out)
    for u in range(units):
        ptr = at(za.data, rows[u])
        if partial:
            builder.call(mstore, [outs[u], ptr, ir.Constant(i32, 4), mask])
        else:
            builder.store(outs[u], ptr, align=4)


@njit(cache=True, nogil=True)
def tiled(kind, W, xT, zT, b, paired) -> None:
    """A dense product in register tiles (:func:`_tile`), units four at a time while ``paired`` allows,
    then two, then one, each over ``TILE`` samples (the last ``Bc mod TILE`` through masked loads). ``kind``:
    ``PAIR``: ``zT = W xT``, the units below ``paired`` begun with ``w0 x0 + w1 x1``, the rest from zero;
    ``BIAS``: ``zT = W xT + b`` (``paired`` = every unit); ``TRANSPOSED``: ``zT = W^T xT`` from zero
    (``paired`` = every unit). ``b`` is read by ``BIAS`` alone."""
    n = W.shape[1] if kind == TRANSPOSED else W.shape[0]
    Bc = xT.shape[1]
    j = 0
    while j < n:
        units = 4 if j + 4 <= paired else (2 if j + 2 <= paired else 1)
        for i0 in range(0, Bc, TILE):
            _tile(W, xT, zT, j, i0, min(TILE, Bc - i0), b, kind, units)
        j += units


@njit(cache=True, nogil=True)
def _forward_dense(W1, xT, zT) -> None:
    """``zT (h, Bc) = W1 xT`` for a model without masked weights in W1, in register tiles (:func:`tiled`). The
    order of the sums is the one of the unit-pair loops this replaced (1.7-1.9x faster, the same bits): with
    four or more inputs, every unit of a pair begins with ``w0 x0 + w1 x1`` in one fused step; the last unit of
    an odd count, and every unit with fewer than four inputs, begins from zero."""
    hh, ni = W1.shape
    tiled(PAIR, W1, xT, zT, zT[0], hh - hh % 2 if ni >= 4 else 0)


@njit(cache=True, nogil=True, fastmath={"reassoc", "contract"})
def _backward_masked(dzT, xT, G1, act, cnt) -> None:
    """``G1 (h, n_in) = dzT xT^T`` on the unmasked entries (0 elsewhere): dot products over the minibatch, eight
    inputs at a time (1.25x faster than four at m = 32, 16 units; the same at m = 64)."""
    hh, Bc = dzT.shape
    ni = xT.shape[0]
    for jj in range(hh):
        d, a, c = dzT[jj], act[jj], cnt[jj]
        for k in range(ni):
            G1[jj, k] = 0
        q = 0
        while q + 8 <= c:
            x0, x1, x2, x3 = xT[a[q]], xT[a[q + 1]], xT[a[q + 2]], xT[a[q + 3]]
            x4, x5, x6, x7 = xT[a[q + 4]], xT[a[q + 5]], xT[a[q + 6]], xT[a[q + 7]]
            s0 = s1 = s2 = s3 = s4 = s5 = s6 = s7 = np.float32(0.0)
            for i in range(Bc):
                di = d[i]
                s0 += di * x0[i]
                s1 += di * x1[i]
                s2 += di * x2[i]
                s3 += di * x3[i]
                s4 += di * x4[i]
                s5 += di * x5[i]
                s6 += di * x6[i]
                s7 += di * x7[i]
            G1[jj, a[q]], G1[jj, a[q + 1]], G1[jj, a[q + 2]], G1[jj, a[q + 3]] = s0, s1, s2, s3
            G1[jj, a[q + 4]], G1[jj, a[q + 5]], G1[jj, a[q + 6]], G1[jj, a[q + 7]] = s4, s5, s6, s7
            q += 8
        _backward_rest(d, xT, G1, jj, a, q, c)


@njit(cache=True, nogil=True, fastmath={"reassoc", "contract"})
def _backward_rest(d, xT, G1, j, a, q, c) -> None:
    """``G1[j, a[p]] = d . xT[a[p]]`` for p in q..c-1, four inputs per pass over the minibatch."""
    Bc = xT.shape[1]
    while q + 4 <= c:
        k0, k1, k2, k3 = a[q], a[q + 1], a[q + 2], a[q + 3]
        x0, x1, x2, x3 = xT[k0], xT[k1], xT[k2], xT[k3]
        s0 = s1 = s2 = s3 = np.float32(0.0)
        for i in range(Bc):
            di = d[i]
            s0 += di * x0[i]
            s1 += di * x1[i]
            s2 += di * x2[i]
            s3 += di * x3[i]
        G1[j, k0], G1[j, k1], G1[j, k2], G1[j, k3] = s0, s1, s2, s3
        q += 4
    while q < c:
        s0, x0 = np.float32(0.0), xT[a[q]]
        for i in range(Bc):
            s0 += d[i] * x0[i]
        G1[j, a[q]] = s0
        q += 1


@njit(cache=True, nogil=True, fastmath={"reassoc", "contract"})
def _backward_dense(dzT, xT, G1, act) -> None:
    """``G1 (h, n_in) = dzT xT^T`` for a model without masked weights in W1: dot products over the minibatch,
    hidden units two at a time sharing their loads of ``xT``, four inputs at a time."""
    hh, Bc = dzT.shape
    ni = xT.shape[0]
    for j in range(hh):
        for k in range(ni):
            G1[j, k] = 0
    j = 0
    while j + 2 <= hh:
        d, e = dzT[j], dzT[j + 1]
        q = 0
        while q + 4 <= ni:
            x0, x1, x2, x3 = xT[q], xT[q + 1], xT[q + 2], xT[q + 3]
            s0 = s1 = s2 = s3 = t0 = t1 = t2 = t3 = np.float32(0.0)
            for i in range(Bc):
                di, ei, u0, u1, u2, u3 = d[i], e[i], x0[i], x1[i], x2[i], x3[i]
                s0 += di * u0
                s1 += di * u1
                s2 += di * u2
                s3 += di * u3
                t0 += ei * u0
                t1 += ei * u1
                t2 += ei * u2
                t3 += ei * u3
            G1[j, q], G1[j, q + 1], G1[j, q + 2], G1[j, q + 3] = s0, s1, s2, s3
            G1[j + 1, q], G1[j + 1, q + 1], G1[j + 1, q + 2], G1[j + 1, q + 3] = t0, t1, t2, t3
            q += 4
        _backward_rest(d, xT, G1, j, act[j], q, ni)
        _backward_rest(e, xT, G1, j + 1, act[j + 1], q, ni)
        j += 2
    if j < hh:
        _backward_rest(dzT[j], xT, G1, j, act[j], 0, ni)


# ---------------------------------------------------------------- the rest of the step


@njit(cache=True, nogil=True, fastmath={"reassoc"}, error_model="numpy")
def _binary_rows(zT, yb, b1, w2, b2, dv, G, n1, hh) -> float:
    """One output: after ``zT = W1 xT``, the rest of the forward pass, the loss gradient and the backward pass up
    to ``dz`` (left in ``zT``) in three passes over the minibatch: bias and ReLU with the logit accumulated
    in ``dv``; sigmoid - y; the gradients of w2, b1 and dz. Writes the gradients of b1, w2, b2 into ``G``
    after W1's ``n1`` entries; returns the sum of the logits. (numpy's error model: no zero check on the
    sigmoid's division, whose divisor is at least 1; 1.25x faster.)"""
    Bc = zT.shape[1]
    inv = np.float32(1.0) / np.float32(Bc)
    for i in range(Bc):
        dv[i] = b2
    for j in range(hh):
        row, bj, wj = zT[j], b1[j], w2[j]
        for i in range(Bc):
            v = max(row[i] + bj, np.float32(0.0))  # ReLU; a zero marks an inactive unit below
            row[i] = v
            dv[i] += v * wj
    total = 0.0
    gb2 = np.float32(0.0)
    for i in range(Bc):
        o = dv[i]
        total += o
        d = (np.float32(1.0) / (np.float32(1.0) + np.exp(-o)) - yb[i]) * inv
        dv[i] = d
        gb2 += d
    for j in range(hh):
        row, wj = zT[j], w2[j]
        sw = sb = np.float32(0.0)
        for i in range(Bc):
            v, d = row[i], dv[i]
            sw += d * v
            dz = d * wj if v > 0 else np.float32(0.0)
            sb += dz
            row[i] = dz
        G[n1 + hh + j] = sw
        G[n1 + j] = sb
    G[n1 + 2 * hh] = gb2
    return total


@njit(cache=True, nogil=True, error_model="numpy")
def _loss_grad_t(outT, yb, doutT) -> float:
    """Softmax cross-entropy, outputs by column: ``doutT = d(mean loss)/d(outT)``; returns the sum of the logits."""
    n_out, Bc = outT.shape
    inv = np.float32(1.0) / np.float32(Bc)
    total = 0.0
    for i in range(Bc):
        mx = outT[0, i]
        for c in range(n_out):
            total += outT[c, i]
            mx = max(mx, outT[c, i])
        s = np.float32(0.0)
        for c in range(n_out):
            s += np.exp(outT[c, i] - mx)
        for c in range(n_out):
            doutT[c, i] = np.exp(outT[c, i] - mx) / s
        doutT[np.int64(yb[i]), i] -= np.float32(1.0)
        for c in range(n_out):
            doutT[c, i] *= inv
    return total


@njit(cache=True, nogil=True, fastmath={"reassoc"}, error_model="numpy")
def _general_rows(zT, yb, b1, W2, b2, aT, outT, doutT, G, n1, hh, n_out) -> float:
    """Any number of outputs (softmax cross-entropy): the second layer through BLAS; ``dz`` left in ``zT``."""
    Bc = zT.shape[1]
    for j in range(hh):
        for i in range(Bc):
            aT[j, i] = max(zT[j, i] + b1[j], np.float32(0.0))
    np.dot(W2, aT, outT)  # (n_out, Bc)
    for c in range(n_out):
        for i in range(Bc):
            outT[c, i] += b2[c]
    total = _loss_grad_t(outT, yb, doutT)
    n2 = n_out * hh
    np.dot(doutT, aT.T, G[n1 + hh : n1 + hh + n2].reshape((n_out, hh)))  # (n_out, h)
    for c in range(n_out):
        s = np.float32(0.0)
        for i in range(Bc):
            s += doutT[c, i]
        G[n1 + hh + n2 + c] = s
    np.dot(W2.T, doutT, zT)  # (h, Bc): d(loss)/d(a)
    for j in range(hh):
        s = np.float32(0.0)
        for i in range(Bc):
            v = zT[j, i] if aT[j, i] > 0 else np.float32(0.0)
            zT[j, i] = v
            s += v
        G[n1 + j] = s
    return total


@njit(cache=True, nogil=True)
def _forward(xb, W1, b1, W2, b2, z, a, out) -> None:
    """z = xb W1^T + b1, a = relu(z), out = a W2^T + b2 (all at the model's shape; rows by sample)."""
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


@njit(cache=True, nogil=True, error_model="numpy")
def _adam(p, g, m, v, mask, lo, hi, l1, l2x2, step_size, bc2, with_l1) -> None:
    """Fused Adam on p[lo:hi]: penalties, mask, moments, update (torch's float32 arithmetic). numpy's error model
    (IEEE division, no zero check: the divisor is at least ``eps``) lets the loop vectorise: 5-6x faster, the
    same bits."""
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
def _model_step(e, xT, yb, P, Mk, A1, A2, steps, n_in, h, p_off, n_out, lr, l1, l2, bufs, act, cnt, nnz):
    """One Adam step of model e on the gathered, transposed minibatch ``xT (n_in, Bc)``; ``act``, ``cnt``: its
    unmasked inputs per hidden unit and ``nnz`` their number (:func:`_active`). Returns the sum of its logits."""
    G, zbuf, abuf, obuf, dbuf = bufs
    Bc = xT.shape[1]
    ni, hh, o = n_in[e], h[e], p_off[e]
    n1, n2 = hh * ni, n_out * hh
    size = n1 + hh + n2 + n_out
    W1 = P[o : o + n1].reshape((hh, ni))
    b1 = P[o + n1 : o + n1 + hh]
    W2 = P[o + n1 + hh : o + n1 + hh + n2].reshape((n_out, hh))
    b2 = P[o + n1 + hh + n2 : o + size]
    zT = zbuf[: hh * Bc].reshape((hh, Bc))
    G1 = G[:n1].reshape((hh, ni))
    hand = nnz <= (HAND_MAX_DENSE if nnz == n1 else HAND_MAX_MASKED)  # its shape and mask decide, never the batch
    if hand and nnz == n1:
        _forward_dense(W1, xT, zT)
    elif hand:
        _forward_masked(W1, xT, zT, act, cnt)
    else:
        np.dot(W1, xT, zT)  # (h, Bc)
    if n_out == 1:
        total = _binary_rows(zT, yb, b1, W2[0], b2[0], dbuf, G, n1, hh)
    else:
        aT = abuf[: hh * Bc].reshape((hh, Bc))
        outT = obuf[: n_out * Bc].reshape((n_out, Bc))
        doutT = dbuf[: n_out * Bc].reshape((n_out, Bc))
        total = _general_rows(zT, yb, b1, W2, b2, aT, outT, doutT, G, n1, hh, n_out)
    if hand and nnz == n1:
        _backward_dense(zT, xT, G1, act)
    elif hand:
        _backward_masked(zT, xT, G1, act, cnt)
    else:
        np.dot(zT, xT.T, G1)  # (h, n_in): dz^T x
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
    trial,
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
    """One epoch of the models ``order[bounds[t] : bounds[t + 1]]`` of each trial t (its dense model and its
    forks, which read the same minibatches; ``trial[e]``: model e's row of ``perms``): each minibatch of
    ``batch`` rows (the last one may be shorter) is gathered once per trial, then every model of the trial
    takes its Adam step. ``sums[e]`` += the sum of model e's logits over the epoch."""
    for t in range(bounds.shape[0] - 1):
        first, last = bounds[t], bounds[t + 1]
        e0 = order[first]
        ni, d, perm = n_in[e0], ds[e0], perms[trial[e0]]
        yd = y[d * n : (d + 1) * n]
        h_max, size_max = 0, 0
        for q in range(first, last):
            e = order[q]
            h_max = max(h_max, h[e])
            size_max = max(size_max, h[e] * ni + h[e] + n_out * h[e] + n_out)
        Bc = min(batch, n)
        bufs = (
            np.empty(size_max, dtype=np.float32),
            np.empty(Bc * h_max, dtype=np.float32),
            np.empty(Bc * h_max, dtype=np.float32),
            np.empty(Bc * n_out, dtype=np.float32),
            np.empty(Bc * max(n_out, 1), dtype=np.float32),
        )
        act = np.empty((last - first, h_max, ni), dtype=np.int64)
        cnt = np.empty((last - first, h_max), dtype=np.int64)
        nnz = np.empty(last - first, dtype=np.int64)
        for q in range(first, last):
            e = order[q]
            nnz[q - first] = _active(Mk, p_off[e], h[e], ni, act[q - first], cnt[q - first])
        xbuf = np.empty(ni * Bc, dtype=np.float32)
        yfull = np.empty(Bc, dtype=np.float32)
        offs = np.empty(16, dtype=np.int64)
        totals = np.zeros(last - first)
        for start in range(0, n, batch):
            Bc = min(batch, n - start)
            xT, yb = xbuf[: ni * Bc].reshape((ni, Bc)), yfull[:Bc]
            _gather_t(X, x_off[d], ni, perm, start, xT, offs)
            for i in range(Bc):
                yb[i] = yd[perm[start + i]]
            for q in range(first, last):
                j = q - first
                totals[j] += _model_step(
                    order[q],
                    xT,
                    yb,
                    P,
                    Mk,
                    A1,
                    A2,
                    steps,
                    n_in,
                    h,
                    p_off,
                    n_out,
                    lr,
                    l1,
                    l2,
                    bufs,
                    act[j],
                    cnt[j],
                    nnz[j],
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
