"""FFT big-integer products (fpe_theory.bigint) equal CPython's exact products."""

from __future__ import annotations

import random

import pytest

from fpe_theory.bigint import FFT_MIN_BITS, multiply, power


@pytest.mark.parametrize("bits", [10, FFT_MIN_BITS + 1, 3 * FFT_MIN_BITS])
def test_multiply_equals_python(bits):
    rng = random.Random(bits)  # explicit seed
    a, b = rng.getrandbits(bits), rng.getrandbits(bits + 17)
    assert multiply(a, b) == a * b
    assert multiply(a, a) == a * a
    top = (1 << (bits + 5)) - 1  # all limbs 255: the largest convolution entries
    assert multiply(top, top) == top * top


def test_power_equals_python():
    rng = random.Random(7)
    x = rng.getrandbits(4000)
    assert power(x, 150) == x**150
    assert power(0, 3) == 0 and power(1, 10) == 1 and power(5, 0) == 1
