"""The random number functions of both numba kernels (``kernels.py``, ``bitsets.py``), in one place.

The names keep their leading underscore: they are internals of the kernels, imported by them only.

- SplitMix64 (Steele, Lea & Flood 2014): a 64-bit state advanced by ``_GAMMA``; word i of a
  stream is ``_mix(state + i * _GAMMA)``, so words come from a counter (vectorisable, no
  ``np.random`` in a hot loop). Each block of trials seeds its state from
  ``numpy.random.SeedSequence`` (``simulations.montecarlo.block_seeds``).
- Bounded draws in [0, n) from 32-bit lanes by Lemire's multiply-and-reject: ``_below`` one
  at a time, ``_draws`` several per lane (batched ranged draws, Brackett-Rozinsky & Lemire 2024).

>>> state, seen = 0, set()
>>> for _ in range(200):  # the state must be a uint64 (an int64 would mix into float64)
...     j, state = _below(6, np.uint64(state))
...     seen.add(int(j))
>>> sorted(seen)
[0, 1, 2, 3, 4, 5]
"""

from __future__ import annotations

import numpy as np
from numba import njit

_U32 = np.uint64(32)
_MASK32 = np.uint64(0xFFFFFFFF)
_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_MIX1, _MIX2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)
_U30, _U27, _U31 = np.uint64(30), np.uint64(27), np.uint64(31)


@njit(cache=True, inline="always")
def _mix(z):
    """SplitMix64 output function (Steele, Lea & Flood 2014)."""
    z = (z ^ (z >> _U30)) * _MIX1
    z = (z ^ (z >> _U27)) * _MIX2
    return z ^ (z >> _U31)


@njit(cache=True, inline="always")
def _below(n, state):
    """(uniform int in [0, n), new state) for 1 <= n < 2^32: Lemire's exact multiply-and-reject on 32 bits."""
    nn = np.uint64(n)
    state += _GAMMA
    prod = (_mix(state) >> _U32) * nn
    low = prod & _MASK32
    if low < nn:
        thresh = (np.uint64(1 << 32) - nn) % nn
        while low < thresh:
            state += _GAMMA
            prod = (_mix(state) >> _U32) * nn
            low = prod & _MASK32
    return np.int64(prod >> _U32), state


@njit(cache=True)
def _draws(rt, lt, lanes, dt, state):
    """Bounded draws for one unit: dt[q] uniform in [0, rt[q % L, q // L]); return the new generator state.

    rt is (L, lanes): the loop over t then over lanes advances all lanes together.

    SplitMix64 is counter based (word i = mix(state + i * gamma)), so the words of a unit
    come from one vectorisable loop. Each 32-bit lane l then yields the L draws
    q = l L .. l L + L - 1: u * n -> high 32 bits are the draw, low 32 bits the randomness
    left (Lemire's batched draws); the lane is exact unless its final remainder is below
    lt[l] = 2^32 mod prod(rt[:, l]), in which case (rare: < 2^-8) that lane alone is drawn
    again from a fresh word.
    """
    state = np.uint64(state)  # a Python int would type as int64 and mix into float64
    width, n_lanes = rt.shape
    for i in range(n_lanes // 2):
        w = _mix(state + np.uint64(i + 1) * _GAMMA)
        lanes[2 * i] = w >> _U32
        lanes[2 * i + 1] = w & _MASK32
    state += np.uint64(n_lanes // 2) * _GAMMA
    for t in range(width):
        for lane in range(n_lanes):
            prod = lanes[lane] * rt[t, lane]  # < 2^64: both factors < 2^32
            dt[lane * width + t] = np.int64(prod >> _U32)
            lanes[lane] = prod & _MASK32
    bad = False
    for lane in range(n_lanes):
        bad |= lanes[lane] < lt[lane]
    if bad:
        for lane in range(n_lanes):
            while lanes[lane] < lt[lane]:
                state += _GAMMA
                u = _mix(state) >> _U32
                for t in range(width):
                    prod = u * rt[t, lane]
                    dt[lane * width + t] = np.int64(prod >> _U32)
                    u = prod & _MASK32
                lanes[lane] = u
    return state
