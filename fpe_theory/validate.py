"""Argument checks shared by every public function and CLI command.

Each check raises ``ValueError`` with one line that names the parameter, the value
and the rule, e.g. ``alpha=1: must be an integer >= 2``. The CLI turns these into a
one-line ``Error: ...`` and exit code 2.
"""

from __future__ import annotations

import math
import numbers


def check_int(name: str, value, minimum: int | None = None, maximum: int | None = None) -> int:
    """Return ``value`` as an int, or raise ValueError if it is not an integer in range."""
    if isinstance(value, bool):
        raise ValueError(f"{name}={value!r}: must be an integer")
    if not isinstance(value, numbers.Integral):
        if isinstance(value, numbers.Real) and float(value).is_integer():
            value = int(value)
        else:
            raise ValueError(f"{name}={value!r}: must be an integer")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name}={value}: must be an integer >= {minimum}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name}={value}: must be an integer <= {maximum}")
    return value


def check_divides(name: str, value: int, of_name: str, of_value: int) -> None:
    """Raise ValueError unless ``value`` divides ``of_value``."""
    if of_value % value:
        raise ValueError(f"{name}={value}: must divide {of_name}={of_value}")


def check_open_unit(name: str, value) -> float:
    """Return ``value`` as a float strictly inside (0, 1), or raise ValueError."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}={value!r}: must be a number in (0, 1)") from None
    if not (0.0 < x < 1.0) or math.isnan(x):
        raise ValueError(f"{name}={value!r}: must be a number in (0, 1)")
    return x


def check_seconds(name: str, value) -> float:
    """Return ``value`` as a finite number of seconds >= 0, or raise ValueError (NaN and inf included)."""
    if isinstance(value, bool):
        raise ValueError(f"{name}={value!r}: must be a finite number of seconds >= 0")
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}={value!r}: must be a finite number of seconds >= 0") from None
    if not math.isfinite(x) or x < 0:
        raise ValueError(f"{name}={value!r}: must be a finite number of seconds >= 0")
    return x
