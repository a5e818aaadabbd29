"""Exact products of very large non-negative integers via a float FFT (numpy), for big powers.

CPython multiplies big integers with Karatsuba (~n^1.58); the exact all-covered
probabilities need hundreds of powers of 10^5..10^6-bit integers, where an FFT is much
faster. Integers are cut into 8-bit limbs; their convolution has entries below
n * 255^2 < 2^39 (n < 2^23 limbs), far inside float64's exact range, and the rounding error
of the FFT is ~1e-16 * 2^39 * log n << 1/2, so rounding recovers the exact convolution.
As a guard, a result whose float entries are not within 0.05 of integers falls back to
CPython's exact product (tests compare both on random inputs).

>>> power(3, 5) == 3**5
True
"""

from __future__ import annotations

FFT_MIN_BITS = 200_000  # operand size below which CPython's multiplication is as fast or faster
MAX_LIMBS = 1 << 23  # convolution entries < 2^23 * 255^2 < 2^39: exact in float64, 5 byte planes


def _limbs(x: int, nbytes: int):
    import numpy as np

    return np.frombuffer(x.to_bytes(nbytes, "little"), dtype=np.uint8).astype(np.float64)


def multiply(a: int, b: int) -> int:
    """Exact a * b for non-negative ints (FFT for large balanced operands)."""
    la, lb = (a.bit_length() + 7) // 8, (b.bit_length() + 7) // 8
    if min(la, lb) * 8 < FFT_MIN_BITS or la + lb > MAX_LIMBS:
        return a * b
    import numpy as np  # lazily: the CLI's small cases never need it

    n = la + lb
    size = 1 << (n - 1).bit_length()
    fa = np.fft.rfft(_limbs(a, la), size)
    fb = fa if a is b else np.fft.rfft(_limbs(b, lb), size)
    conv = np.fft.irfft(fa * fb, size)[:n]  # (n,) float convolution of the limbs
    exact = np.rint(conv)
    if np.max(np.abs(conv - exact)) > 0.05:  # never expected; stay exact regardless
        return a * b
    values = exact.astype(np.int64)  # (n,) each < 2^39
    total = 0
    for shift in range(0, 40, 8):  # carry propagation: add the byte planes as integers
        plane = ((values >> shift) & 0xFF).astype(np.uint8)
        total += int.from_bytes(plane.tobytes(), "little") << shift
    return total


def power(x: int, n: int) -> int:
    """Exact x ** n (x >= 0, n >= 0) by left-to-right squaring with ``multiply``."""
    if n == 0:
        return 1
    if x < 2:
        return x
    result = x
    for bit in bin(n)[3:]:
        result = multiply(result, result)
        if bit == "1":
            result = result * x if x.bit_length() < FFT_MIN_BITS else multiply(result, x)
    return result
