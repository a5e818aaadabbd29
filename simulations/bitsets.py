"""Fast Monte Carlo path: children as bitsets over the m literal positions, few random draws per trial.

Used by ``simulate`` for the partition and independent families when k divides 64
(k = 1, 2, 4, .., 64); other cases keep the general kernel (``kernels.run_blocks``).

Uniform d-subset of a set S of n positions from random bits (``_fixup``): X = S AND
(bits that are 1 with probability 2^-j); c = |X|; while c > d clear a uniformly chosen
set bit, while c < d set a uniformly chosen clear bit of S. X is exchangeable over S and
the fix-up commutes with permutations of S, so the result is exchangeable and has exactly
d elements: it is uniform over the C(n, d) subsets. Expected draws ~ |n 2^-j - d| + sqrt(n)/2.

A partition parent with alpha = 2^L (``_partition_pow2``): every position takes L random
bits (a uniform label; row a = positions labelled a), then uniformly chosen positions of
over-full labels move to under-full ones (which labels: decided by the counts alone).
The rule commutes with permutations of the positions, so the final labelling is
exchangeable with d of each label: uniform over the multinomial(m; d, .., d) labellings.
m=128, alpha=4: 4 random words and ~8 bounded draws per parent, versus 96 draws for a
shuffle. Other alpha (``_partition``): a tree of splits, a node of s blocks keeping a
uniform (s // 2) d-subset for its first s // 2 blocks (nodes of a level are disjoint and
share one random bitstring); each labelling has probability 1 / multinomial.

Bounded draws: Lemire's exact multiply-and-reject on 32 bits; "the j-th set bit" is one
PDEP where the host has BMI2, else halving by popcount and a byte table.

Clause coverage (clauses consecutive, k | 64: clause j = positions jk..jk+k-1, which is
no loss for these exchangeable families): t = w AND (w >> 1) .. AND (w >> (k-1)), kept at
positions jk (``pattern``); popcount(t) = clauses the child covers in that word.

>>> from fpe_theory import Problem
>>> applies(Problem(m=128, k=4, alpha=4), "random"), applies(Problem(m=12, k=3, alpha=2), "random")
(True, False)
"""

from __future__ import annotations

import llvmlite.binding as llvm
import numpy as np
from llvmlite import ir
from numba import njit, prange, types
from numba.core import cgutils, config
from numba.extending import intrinsic

from simulations.kernels import INDEPENDENT, N_MEANS, PARTITION, accumulate
from simulations.rng import _GAMMA, _MASK32, _U32, _below, _mix

FAST_FAMILIES = {"random": PARTITION, "overlap": INDEPENDENT}
_U16, _U8 = np.uint64(16), np.uint64(8)
_MASK16, _MASK8 = np.uint64(0xFFFF), np.uint64(0xFF)
_ONE, _ZERO = np.uint64(1), np.uint64(0)


def applies(problem, family: str) -> bool:
    """Whether the bitset path serves (problem, family): partition / independent with k dividing 64."""
    return family in FAST_FAMILIES and 64 % problem.k == 0


@intrinsic
def popcount(typingctx, x):
    """Number of set bits of an integer (LLVM ctpop), as int64."""
    if not isinstance(x, types.Integer):
        return None

    def codegen(context, builder, sig, args):
        val = context.cast(builder, args[0], x, types.uint64)
        fn = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.IntType(64), [ir.IntType(64)]), "llvm.ctpop.i64"
        )
        return builder.call(fn, [val])

    return types.int64(x), codegen


def _byte_select_table() -> np.ndarray:
    """(256 * 8,) uint8: entry 8 v + j = position of the j-th set bit of the byte v (0 past its popcount)."""
    table = np.zeros(256 * 8, np.uint8)
    for v in range(256):
        ones = [p for p in range(8) if v >> p & 1]
        table[8 * v : 8 * v + len(ones)] = ones
    return table


_BYTE_SELECT = _byte_select_table()


def _host_has_bmi2() -> bool:
    """Whether the CPU numba compiles for has BMI2 (PDEP): then ``_select`` is one instruction."""
    if config.CPU_NAME not in (None, "host"):
        return False
    try:
        return bool(llvm.get_host_cpu_features().get("bmi2", False))
    except RuntimeError:
        return False


@intrinsic
def _pdep(typingctx, src, mask):
    """x86 BMI2 PDEP on uint64 (only compiled where ``_host_has_bmi2()``)."""
    if not (isinstance(src, types.Integer) and isinstance(mask, types.Integer)):
        return None

    def codegen(context, builder, sig, args):
        a = context.cast(builder, args[0], src, types.uint64)
        b = context.cast(builder, args[1], mask, types.uint64)
        fnty = ir.FunctionType(ir.IntType(64), [ir.IntType(64), ir.IntType(64)])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.x86.bmi.pdep.64")
        return builder.call(fn, [a, b])

    return types.uint64(src, mask), codegen


@njit(cache=True, inline="always")
def _select_pdep(w, j):
    """The j-th (from 0) set bit of w, as a one-bit mask: PDEP deposits bit j onto the set bits of w."""
    return _pdep(_ONE << np.uint64(j), w)


@njit(cache=True, inline="always")
def _select_table(w, j):
    """The j-th (from 0) set bit of w, as a one-bit mask (j < popcount(w)); branchless halving, then a byte table."""
    pos = _ZERO
    c = popcount(w & _MASK32)
    up = j >= c
    sh = _U32 if up else _ZERO
    j -= c if up else 0
    w >>= sh
    pos += sh
    c = popcount(w & _MASK16)
    up = j >= c
    sh = _U16 if up else _ZERO
    j -= c if up else 0
    w >>= sh
    pos += sh
    c = popcount(w & _MASK8)
    up = j >= c
    sh = _U8 if up else _ZERO
    j -= c if up else 0
    w >>= sh
    pos += sh
    return _ONE << (pos + np.uint64(_BYTE_SELECT[8 * np.int64(w & _MASK8) + j]))


_select = _select_pdep if _host_has_bmi2() else _select_table


# Work rows of the (alpha + 4, words) array B: children 0..alpha-1, then these.
FULL, BITS, X, UNION = 0, 1, 2, 3  # offsets after the alpha children


@njit(cache=True, inline="always")
def _word_of(b, x, s, free, j):
    """(word, rank in it) of the j-th set bit of row x (free: of row s AND NOT row x).

    Up to 4 words without branches (an unpredictable exit costs more than the scan); beyond, stop at the word.
    """
    if b.shape[1] > 4:
        for i in range(b.shape[1]):
            pc = popcount(b[s, i] & ~b[x, i] if free else b[x, i])
            if j < pc:
                return i, j
            j -= pc
    tgt, jl = 0, j
    for i in range(1, b.shape[1]):
        j -= popcount(b[s, i - 1] & ~b[x, i - 1] if free else b[x, i - 1])
        tgt = i if j >= 0 else tgt
        jl = j if j >= 0 else jl
    return tgt, jl


@njit(cache=True, inline="always")
def _fixup(b, x, s, n, d, state):
    """Make row x of b (a subset of row s, |s| = n) have exactly d elements by uniform clears / sets; return state."""
    n_words = b.shape[1]
    c = 0
    for i in range(n_words):
        c += popcount(b[x, i])
    while c > d:
        j, state = _below(c, state)
        tgt, j = _word_of(b, x, x, False, j)
        b[x, tgt] ^= _select(b[x, tgt], j)
        c -= 1
    while c < d:
        j, state = _below(n - c, state)
        tgt, j = _word_of(b, x, s, True, j)
        b[x, tgt] |= _select(b[s, tgt] & ~b[x, tgt], j)
        c += 1
    return state


@njit(cache=True, inline="always")
def _ands(n, t):
    """j >= 1 whose p = 2^-j puts n p closest to t (t <= n / 2): the fewest expected fix-up draws."""
    j = 1
    while 2 * abs((n >> (j + 1)) - t) < 2 * abs((n >> j) - t) and (n >> (j + 1)) > 0:
        j += 1
    return j


@njit(cache=True, inline="always")
def _random_subset(b, x, s, n, t, state):
    """Row x = a uniform t-subset of row s (|s| = n), from the shared random row BITS (disjoint nodes)."""
    bits = b.shape[0] - 4 + BITS
    j = _ands(n, t)
    for i in range(b.shape[1]):
        w = b[bits, i]
        for _ in range(j - 1):
            state += _GAMMA
            w &= _mix(state)
        b[x, i] = w & b[s, i]
    return _fixup(b, x, s, n, t, state)


@njit(cache=True, inline="always")
def _fill(b, row, state):
    for i in range(b.shape[1]):
        state += _GAMMA
        b[row, i] = _mix(state)
    return state


@njit(cache=True)
def _partition(b, sizes, alpha, d, state):
    """Rows 0..alpha-1 of b = the children of one uniform partition parent (alpha blocks of d positions)."""
    full, bits, x = alpha + FULL, alpha + BITS, alpha + X
    for i in range(b.shape[1]):
        b[0, i] = b[full, i]
    for a in range(alpha):
        sizes[a] = 0
    sizes[0] = alpha
    largest = alpha
    while largest > 1:
        state = _fill(b, bits, state)
        largest = 1
        for a in range(alpha - 1, -1, -1):  # descending: nodes made this level are not revisited
            s = sizes[a]
            if s < 2:
                continue
            h = s // 2
            state = _random_subset(b, x, a, s * d, h * d, state)
            for i in range(b.shape[1]):
                b[a + h, i] = b[a, i] & ~b[x, i]
                b[a, i] = b[x, i]
            sizes[a], sizes[a + h] = h, s - h
            largest = max(largest, s - h)
    return state


@njit(cache=True)
def _partition_pow2(b, cnt, alpha, levels, d, state):
    """Rows 0..alpha-1 of b = the children of one uniform partition parent, alpha = 2^levels.

    Each position takes a uniform label from ``levels`` random bits (row a = positions
    labelled a); then, while some label has more than d positions, a uniformly chosen
    position of the first such label moves to the first label with fewer than d. The
    moves depend only on the counts and pick uniformly, so the labelling stays
    exchangeable with d of each label: uniform. m=128, alpha=4: 4 words, ~8 moves.
    """
    full = alpha + FULL
    for a in range(alpha):
        cnt[a] = 0
    for i in range(b.shape[1]):
        b[0, i] = b[full, i]
        half = 1
        for _ in range(levels):  # split every row by one random word: the next bit of the label
            state += _GAMMA
            w = _mix(state)
            for a in range(half):
                v = b[a, i]
                b[a + half, i] = v & w
                b[a, i] = v & ~w
            half += half
        for a in range(alpha):
            cnt[a] += popcount(b[a, i])
    while True:
        over = under = -1
        for a in range(alpha - 1, -1, -1):
            over = a if cnt[a] > d else over
            under = a if cnt[a] < d else under
        if over < 0:
            return state
        c = cnt[over]
        moves = min(c - d, d - cnt[under])
        for _ in range(moves):
            j, state = _below(c, state)
            c -= 1
            tgt, jl = _word_of(b, over, over, False, j)
            w = b[over, tgt]
            bit = _select(w, jl)
            b[over, tgt] = w ^ bit
            b[under, tgt] |= bit
        cnt[over] = c
        cnt[under] += moves


@njit(cache=True, inline="always")
def _cover(w, k_steps, pattern):
    """Positions jk whose k consecutive bits are all set in w (k = 2^k_steps)."""
    sh = _ONE
    for _ in range(k_steps):
        w &= w >> sh
        sh += sh
    return w & pattern


@njit(cache=True)
def _trial(family, alpha, r, m, d, k_steps, pattern, b, sizes, state):
    """One trial: (clauses covered, collisions, ge1, ge2, new state); rows 0..alpha-1 of b hold the children."""
    union = alpha + UNION
    levels = 0
    while (1 << levels) < alpha:
        levels += 1
    for i in range(b.shape[1]):
        b[union, i] = 0
    coll = ge1 = ge2 = 0
    for _ in range(r):
        if family == PARTITION and alpha & (alpha - 1) == 0:
            state = _partition_pow2(b, sizes, alpha, levels, d, state)
        elif family == PARTITION:
            state = _partition(b, sizes, alpha, d, state)
        else:
            for a in range(alpha):
                state = _fill(b, alpha + BITS, state)
                state = _random_subset(b, a, alpha + FULL, m, d, state)
        for a in range(alpha):
            c = 0
            for i in range(b.shape[1]):
                t = _cover(b[a, i], k_steps, pattern[i])
                b[union, i] |= t
                c += popcount(t)
            coll += c * (c - 1) // 2
            ge1 += c >= 1
            ge2 += c >= 2
    ncov = 0
    for i in range(b.shape[1]):
        ncov += popcount(b[union, i])
    return ncov, coll, ge1, ge2, state


@njit(cache=True)
def _block(family, alpha, r, d, k_steps, full, pattern, seed, n, width, ints, shifts, sq, hist):
    """Run ``n`` trials from one seed; add the block's sums into its rows (as ``kernels._block``)."""
    n_words = full.shape[0]
    b = np.zeros((alpha + 4, n_words), np.uint64)
    b[alpha + FULL, :] = full
    sizes = np.zeros(alpha, np.int64)
    m = n_clauses = 0
    for i in range(n_words):
        m += popcount(full[i])
        n_clauses += popcount(pattern[i])
    state = np.uint64(seed)
    vals = np.zeros(N_MEANS, np.int64)
    for t in range(n):
        ncov, coll, ge1, ge2, state = _trial(family, alpha, r, m, d, k_steps, pattern, b, sizes, state)
        accumulate(t, ncov, coll, ge1, ge2, n_clauses, width, vals, ints, shifts, sq, hist)


@njit(cache=True, parallel=True)
def run_blocks(family, alpha, r, d, k_steps, full, pattern, seeds, counts, width, ints, shifts, sq, hist):
    """Blocks in parallel (one seed each); row b of every output belongs to block b."""
    for b in prange(seeds.shape[0]):
        _block(
            family,
            alpha,
            r,
            d,
            k_steps,
            full,
            pattern,
            seeds[b],
            counts[b],
            width,
            ints[b],
            shifts[b],
            sq[b],
            hist[b],
        )


def words(m: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(full, pattern): per 64-bit word, the valid positions (< m) and the clause starts (multiples of k).

    >>> [hex(int(w)) for w in words(72, 4)[1]]
    ['0x1111111111111111', '0x11']
    """
    n_words = -(-m // 64)
    full = np.zeros(n_words, np.uint64)
    pattern = np.zeros(n_words, np.uint64)
    for i in range(n_words):
        valid = min(64, m - 64 * i)
        full[i] = (1 << valid) - 1
        pattern[i] = sum(1 << p for p in range(0, valid, k))
    return full, pattern


def plan_args(problem, family: str, r: int) -> tuple:
    """Leading arguments of ``run_blocks`` for (problem, family, r)."""
    full, pattern = words(problem.m, problem.k)
    k_steps = problem.k.bit_length() - 1
    return (FAST_FAMILIES[family], problem.alpha, r, problem.d, k_steps, full, pattern)


@njit(cache=True)
def sample_subsets(m, d, count, seed):
    """(count, words) uint64: ``count`` uniform d-subsets of m positions as bitsets (the independent child)."""
    full, _ = _words_nb(m)
    b = np.zeros((1 + 4, full.shape[0]), np.uint64)
    b[1 + FULL, :] = full
    out = np.zeros((count, full.shape[0]), np.uint64)
    state = np.uint64(seed)
    for t in range(count):
        state = _fill(b, 1 + BITS, state)
        state = _random_subset(b, 0, 1 + FULL, m, d, state)
        out[t, :] = b[0, :]
    return out


@njit(cache=True)
def sample_labels(m, alpha, count, seed):
    """(count, m) int64: labels of ``count`` uniform partition parents (alpha blocks of m / alpha positions)."""
    full, _ = _words_nb(m)
    b = np.zeros((alpha + 4, full.shape[0]), np.uint64)
    b[alpha + FULL, :] = full
    sizes = np.zeros(alpha, np.int64)
    levels = 0
    while (1 << levels) < alpha:
        levels += 1
    out = np.full((count, m), -1, np.int64)
    state = np.uint64(seed)
    for t in range(count):
        if alpha & (alpha - 1) == 0:
            state = _partition_pow2(b, sizes, alpha, levels, m // alpha, state)
        else:
            state = _partition(b, sizes, alpha, m // alpha, state)
        for a in range(alpha):
            for e in range(m):
                if (b[a, e // 64] >> np.uint64(e % 64)) & _ONE:
                    out[t, e] = a
    return out


@njit(cache=True)
def _words_nb(m):
    """(full, unused): the valid-position words of m positions (as ``words``, inside numba)."""
    n_words = (m + 63) // 64
    full = np.zeros(n_words, np.uint64)
    for e in range(m):
        full[e // 64] |= _ONE << np.uint64(e % 64)
    return full, n_words
