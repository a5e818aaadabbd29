"""Numba kernels: sample masks of every family and measure coverage and collisions.

How a trial is kept cheap:

- an inline SplitMix64 generator per block of trials (state in a register, no
  ``np.random`` in the hot loop), seeded from ``numpy.random.SeedSequence``;
- SplitMix64 is counter based, so a unit's words come from one vectorisable loop;
- several bounded random integers from one 32-bit lane (Lemire's batched ranged draws,
  Brackett-Rozinsky & Lemire 2024): ``u * n`` -> the high 32 bits are the draw in [0, n),
  the low 32 bits the randomness left; a lane whose ranges multiply to P <= 2^24 is exact
  after rejecting a final remainder below ``2^32 mod P`` (rare: < P / 2^32); lanes are
  laid out so that the draws of all lanes advance together (vectorisable);
- only the draws a family needs: a partition deals its sorted child labels by an
  inside-out shuffle (the first d items need no draw: m - d draws), an independent child
  deals d "in" labels among m - d "out" (d draws), ``clause`` deals C/alpha clauses per child;
- labels live on literal positions (clause j = positions offsets[j]..offsets[j+1]-1; the
  literal at position e is input lits[e]): a clause is covered by child a iff all its
  positions carry label a. For partition / independent / clause the deal is uniform over
  arrangements, so the positions' order is immaterial; structured_2_4 maps its input
  groups through lits.

The partition and independent families with k dividing 64 take the bitset path instead
(``simulations/bitsets.py``: a few random words and ~sqrt(m) bounded draws per parent).

Per trial the kernel records: all clauses covered, clauses covered, collisions
(sum over neurons of c(c-1)/2, c = clauses it covers), neurons covering >= 1 and >= 2.
Per block it keeps exact integer sums (shifted by the block's first value) and float
sums of squares, so a reduction in block order is the same whatever the thread count.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from simulations.rng import _draws

INDEPENDENT, PARTITION, STRUCTURED_2_4, CLAUSE = 0, 1, 2, 3
FAMILY_CODES = {"overlap": INDEPENDENT, "random": PARTITION, "structured_2_4": STRUCTURED_2_4, "clause": CLAUSE}
LANE_LIMIT = 1 << 24  # product of the ranges drawn from one 32-bit lane
N_MEANS = 4  # covered, collisions, neurons_cover_ge1, neurons_cover_ge2
PATTERNS_2_4 = np.array([3, 5, 6, 9, 10, 12], dtype=np.int64)  # the 6 ways to give child 1 two of 4 inputs


@njit(cache=True)
def _deal(item_label, n_free, dt, out):
    """Uniform arrangement of the multiset ``item_label`` (sorted) into ``out``, by an inside-out shuffle.

    Items 0..n_free-1 all carry the first label and are placed without draws; item
    i >= n_free takes position i and the item at j = dt[i - n_free] (uniform in [0, i])
    moves to i.
    """
    out[:n_free] = item_label[0]
    for i in range(n_free, item_label.shape[0]):
        j = dt[i - n_free]
        out[i] = out[j]
        out[j] = item_label[i]
    return out


@njit(cache=True)
def _count(label, offsets, lo, cnt, covered, t):
    """Clauses whose literal positions all carry one label a >= lo: cnt[a] += 1, mark ``covered``; return newly covered.

    ``label[e]`` is the label of the e-th literal (clause j = positions offsets[j]..offsets[j+1]-1).
    Clauses of 4 literals (the paper's k) take an unrolled branchless test.
    """
    new = 0
    for j in range(offsets.shape[0] - 1):
        e0, e1 = offsets[j], offsets[j + 1]
        a = label[e0]
        if e1 - e0 == 4:
            x = (label[e0 + 1] ^ a) | (label[e0 + 2] ^ a) | (label[e0 + 3] ^ a)
        else:
            x = 0
            for e in range(e0 + 1, e1):
                x |= label[e] ^ a  # branchless: the outcome is random
        if (x == 0) & (a >= lo):
            cnt[a] += 1
            if covered[j] != t:
                covered[j] = t
                new += 1
    return new


@njit(cache=True)
def _structured_labels(dt, lits, by_input, label):
    """2:4: group g of inputs 4g..4g+3 gives child 1 the inputs set in pattern draw g; label per literal position."""
    for g in range(lits.shape[0] // 4):
        pat = PATTERNS_2_4[dt[g]]
        for b in range(4):
            by_input[4 * g + b] = (pat >> b) & 1
    for e in range(lits.shape[0]):
        label[e] = by_input[lits[e]]


@njit(cache=True)
def _clause_labels(clause_label, offsets, label):
    """Every literal position of clause j gets the clause's child."""
    for j in range(offsets.shape[0] - 1):
        label[offsets[j] : offsets[j + 1]] = clause_label[j]


@njit(cache=True)
def _tally(label, offsets, lo, cnt, covered, t):
    """Measure one unit's labels: (newly covered, collisions, ge1, ge2) over its children (labels >= lo)."""
    new = _count(label, offsets, lo, cnt, covered, t)
    coll = ge1 = ge2 = 0
    for a in range(lo, cnt.shape[0]):
        c = cnt[a]
        coll += c * (c - 1) // 2
        ge1 += c >= 1
        ge2 += c >= 2
        cnt[a] = 0
    return new, coll, ge1, ge2


@njit(cache=True)
def _trial(family, alpha, r, lits, offsets, item_label, n_free, rt, lt, state, t, work, cnt, covered):
    """One trial: (clauses covered, collisions, ge1, ge2, new state). ``work``: (lanes, draws, label, aux)."""
    lanes, dt, label, aux = work
    ncov = coll = ge1 = ge2 = 0
    n_units = alpha * r if family == INDEPENDENT else r
    lo = 1 if family == INDEPENDENT else 0  # an independent child is label 1 of an in/out deal
    for _ in range(n_units):
        state = _draws(rt, lt, lanes, dt, state)
        if family == PARTITION or family == INDEPENDENT:
            _deal(item_label, n_free, dt, label)
        elif family == CLAUSE:
            _clause_labels(_deal(item_label, n_free, dt, aux), offsets, label)
        else:
            _structured_labels(dt, lits, aux, label)
        a, b, c, e = _tally(label, offsets, lo, cnt, covered, t)
        ncov, coll, ge1, ge2 = ncov + a, coll + b, ge1 + c, ge2 + e
    return ncov, coll, ge1, ge2, state


@njit(cache=True)
def accumulate(t, ncov, coll, ge1, ge2, n_clauses, width, vals, ints, shifts, sq, hist):
    """Add trial t's measurements to a block's sums (shifted by trial 0's values, for a stable variance)."""
    ints[0] += ncov == n_clauses
    vals[0], vals[1], vals[2], vals[3] = ncov, coll, ge1, ge2
    for q in range(N_MEANS):
        if t == 0:
            shifts[q] = vals[q]
        dev = vals[q] - shifts[q]
        ints[1 + q] += dev
        sq[q] += float(dev) * float(dev)
    hist[min(coll // width, hist.shape[0] - 1)] += 1


@njit(cache=True)
def _block(family, alpha, r, lits, offsets, item_label, n_free, rt, lt, seed, n, width, ints, shifts, sq, hist):
    """Run ``n`` trials from one seed; add the block's sums into its rows."""
    n_clauses = offsets.shape[0] - 1
    size = max(lits.shape[0], n_clauses)
    work = (
        np.zeros(lt.shape[0], np.uint64),
        np.zeros(rt.size, np.int64),
        np.zeros(size, np.int64),
        np.zeros(size, np.int64),
    )
    cnt = np.zeros(max(alpha, 2), np.int64)
    covered = np.full(n_clauses, -1, np.int64)
    state = seed
    vals = np.zeros(N_MEANS, np.int64)
    for t in range(n):
        ncov, coll, ge1, ge2, state = _trial(
            family, alpha, r, lits, offsets, item_label, n_free, rt, lt, state, t, work, cnt, covered
        )
        accumulate(t, ncov, coll, ge1, ge2, n_clauses, width, vals, ints, shifts, sq, hist)


@njit(cache=True, parallel=True)
def run_blocks(
    family, alpha, r, lits, offsets, item_label, n_free, rt, lt, seeds, counts, width, ints, shifts, sq, hist
):
    """Blocks in parallel (one seed each); row b of every output belongs to block b."""
    for b in prange(seeds.shape[0]):
        _block(
            family,
            alpha,
            r,
            lits,
            offsets,
            item_label,
            n_free,
            rt,
            lt,
            seeds[b],
            counts[b],
            width,
            ints[b],
            shifts[b],
            sq[b],
            hist[b],
        )


def lane_schedule(ranges: np.ndarray, limit: int = LANE_LIMIT) -> tuple[np.ndarray, np.ndarray]:
    """(rt, lt): draw q's range at rt[q % L, q // L] (lane q // L, padded with 1s), and per lane 2^32 mod its product.

    L, the draws per 32-bit lane, is the largest with max(ranges)^L <= limit; the lane
    count is even (two lanes per 64-bit word).
    """
    ranges = [int(x) for x in ranges]
    width = 1
    while max(ranges) ** (width + 1) <= limit:
        width += 1
    n_lanes = -(-len(ranges) // width)
    n_lanes += n_lanes % 2
    rt = np.ones((width, n_lanes), np.uint64)
    for q, n in enumerate(ranges):
        rt[q % width, q // width] = n
    lt = np.array([(1 << 32) % math.prod(int(x) for x in rt[:, lane]) for lane in range(n_lanes)], np.uint64)
    return rt, lt


def deal_layout(family: str, m: int, d: int, alpha: int, n_clauses: int) -> tuple[np.ndarray, np.ndarray]:
    """(item_label, ranges): the sorted labels one unit deals and the ranges of its draws.

    partition: labels 0^d 1^d .. (alpha-1)^d over the m literal positions, draws for the
    last m - d; independent (one child): 0^(m-d) 1^d, draws for the last d; clause:
    0^(C/alpha) .. over the C clauses; structured_2_4: no deal, one draw in [0, 6) per group.
    """
    if family == "random":
        items = np.repeat(np.arange(alpha), d)
        n_free = d
    elif family == "overlap":
        items = np.repeat(np.array([0, 1]), [m - d, d])
        n_free = m - d
    elif family == "clause":
        items = np.repeat(np.arange(alpha), n_clauses // alpha)
        n_free = n_clauses // alpha
    else:
        return np.zeros(1, np.int64), np.full(m // 4, 6, np.uint64)
    return items.astype(np.int64), np.arange(n_free + 1, len(items) + 1).astype(np.uint64)


def flat_clauses(clauses) -> tuple[np.ndarray, np.ndarray]:
    """(literals, offsets): clause j is ``literals[offsets[j]:offsets[j+1]]``."""
    sizes = [len(c) for c in clauses]
    offsets = np.zeros(len(sizes) + 1, np.int64)
    offsets[1:] = np.cumsum(sizes)
    lits = np.array([int(i) for c in clauses for i in c], np.int64)
    return lits, offsets


@njit(cache=True)
def measure_given(masks, lits, offsets):
    """(all covered, clauses covered, collisions, ge1, ge2) of a boolean (neurons, inputs) matrix."""
    n_clauses = offsets.shape[0] - 1
    covered = np.zeros(n_clauses, np.bool_)
    coll = ge1 = ge2 = 0
    for i in range(masks.shape[0]):
        c = 0
        for j in range(n_clauses):
            ok = True
            for e in range(offsets[j], offsets[j + 1]):
                if not masks[i, lits[e]]:
                    ok = False
                    break
            if ok:
                c += 1
                covered[j] = True
        coll += c * (c - 1) // 2
        ge1 += c >= 1
        ge2 += c >= 2
    n_covered = covered.sum()
    return n_covered == n_clauses, n_covered, coll, ge1, ge2
