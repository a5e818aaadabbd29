"""Stored rows and Monte Carlo results checked before a report or an export uses them.

Rows (``ResultsStore.frame()`` of a store, or an export read back) are refused in one line naming the
source, the column and the first bad row when:

- a column the long format needs is missing, or appears twice;
- a metric is not a number, not finite, or out of its range (accuracies and ``abs_cosine`` in [0, 1],
  ``cosine`` in [-1, 1], counts and seconds >= 0);
- a (config_hash, trial, variant) key repeats (an identical copy included), or the config columns of
  one ``config_hash`` disagree;
- a config does not pass ``TrainConfig``'s own checks (the same ones, and the same ceilings, as the
  command line's). Its ``config_hash`` is not recomputed: rows written under an older ``HASH_VERSION``
  keep the hashes they were stored under.

Monte Carlo results (a store's ``mc_results`` or an export's ``monte_carlo`` line) are refused when an
estimate is not finite, a probability lies outside [0, 1], an expectation or a standard error is
negative, an interval is reversed, or a case's fields are out of range.

>>> import pandas as pd
>>> check_rows(pd.DataFrame({"config_hash": ["h"], "trial": [0], "variant": ["dense"],
...                          "test_accuracy": [1.5]}), "from='x.csv'", configs=False)
Traceback (most recent call last):
...
ValueError: from='x.csv': column test_accuracy, row 1: 1.5 is out of range [0, 1]
"""

from __future__ import annotations

import dataclasses
import json
import math

from fpe_train.engine.config import TrainConfig

REQUIRED = ("config_hash", "trial", "variant", "test_accuracy")
KEY = ("config_hash", "trial", "variant")
RANGES = {  # column -> (low, high); None: unbounded on that side
    "test_accuracy": (0.0, 1.0),
    "train_accuracy": (0.0, 1.0),
    "abs_cosine": (0.0, 1.0),
    "cosine": (-1.0, 1.0),
    "capacity": (0.0, None),
    "nonzero_params": (0.0, None),
    "mask_covered": (0.0, None),
    "learned_covered": (0.0, None),
    "mask_collisions": (0.0, None),
    "learned_collisions": (0.0, None),
    "mask_all_covered": (0.0, 1.0),
    "learned_all_covered": (0.0, 1.0),
    "seconds": (0.0, None),
    "trial": (0.0, None),
}
SLACK = 1e-9  # float noise allowed at a range's ends
MC_PROBABILITIES = ("p_all_covered",)
MC_FIELDS = {"m": 1, "k": 1, "alpha": 2, "r": 1, "trials": 1, "seed": 0}  # field -> minimum


def _fail(where: str, message: str) -> ValueError:
    return ValueError(f"{where}: {message}")


def check_columns(names, where: str) -> None:
    """The header of a table: no empty or repeated name, every column of the long format present."""
    seen = set()
    for name in names:
        if name in seen:
            raise _fail(where, f"column {name!r} appears twice")
        seen.add(name)
    missing = [c for c in REQUIRED if c not in seen]
    if missing:
        raise _fail(where, f"missing column(s) {', '.join(missing)} (not a long-format results table)")


def check_rows(frame, where: str, configs: bool = True):
    """Refuse (one-line ValueError) a long-format frame that is malformed or tampered; return it."""
    import numpy as np
    import pandas as pd

    check_columns(list(frame.columns), where)
    if frame.columns.duplicated().any():
        raise _fail(where, f"column {frame.columns[frame.columns.duplicated()][0]!r} appears twice")
    done = frame["variant"].notna()
    for col, (lo, hi) in RANGES.items():
        if col not in frame.columns:
            continue
        raw = frame[col]
        values = pd.to_numeric(raw.map(lambda v: float(v) if isinstance(v, bool | np.bool_) else v), errors="coerce")
        bad = raw.notna() & values.isna()
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise _fail(where, f"column {col}, row {i + 1}: {_show(raw.iloc[i])} is not a number")
        v = values.to_numpy(dtype=float)
        out = ~np.isfinite(v) & ~np.isnan(v)
        if lo is not None:
            out |= v < lo - SLACK
        if hi is not None:
            out |= v > hi + SLACK
        if col == "test_accuracy":
            out |= done.to_numpy() & np.isnan(v) & _no_error(frame)
        if out.any():
            i = int(np.flatnonzero(out)[0])
            rule = f"[{'-inf' if lo is None else f'{lo:g}'}, {'inf' if hi is None else f'{hi:g}'}]"
            raise _fail(where, f"column {col}, row {i + 1}: {_show(raw.iloc[i])} is out of range {rule}")
    trial = pd.to_numeric(frame["trial"], errors="coerce")
    if (trial != trial.round()).any():
        i = int(np.flatnonzero((trial != trial.round()).to_numpy())[0])
        raise _fail(where, f"column trial, row {i + 1}: {_show(frame['trial'].iloc[i])} is not a whole number")
    keys = frame[list(KEY)].astype(str)
    dup = keys.duplicated(keep="first")
    if dup.any():
        i = int(np.flatnonzero(dup.to_numpy())[0])
        first = int(np.flatnonzero((keys == keys.iloc[i]).all(axis=1).to_numpy())[0])
        key = ", ".join(f"{k}={_show(frame[k].iloc[i])}" for k in KEY)
        raise _fail(where, f"rows {first + 1} and {i + 1} hold the same ({key}); each key must appear once")
    if configs:
        _check_configs(frame, where)
    return frame


def _show(value) -> str:
    """A cell for a message: plain Python repr (no numpy type names), a long hash cut to 12 characters."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, str) and len(value) == 64:
        return repr(value[:12] + "...")
    return _short(value)


def _no_error(frame):
    import numpy as np

    if "error" not in frame.columns:
        return np.ones(len(frame), dtype=bool)
    err = frame["error"]
    return (err.isna() | (err.astype(str) == "")).to_numpy()


def _config_columns(frame) -> list[str]:

    return [f.name for f in dataclasses.fields(TrainConfig) if f.name in frame.columns]


def _check_configs(frame, where: str) -> None:
    """Per config_hash: one set of config values, valid for ``TrainConfig``."""
    cols = [c for c in _config_columns(frame) if c != "device"]  # a row's device is where it ran ("auto": cpu)
    if not cols:
        return
    for h, group in frame.groupby(frame["config_hash"].astype(str), sort=False):
        first = group[cols].iloc[0]
        if len(group) > 1:
            differs = [c for c in cols if not all(_same(v, first[c]) for v in group[c])]
            if differs:
                raise _fail(where, f"config_hash={_show(h)}: rows disagree on {differs[0]} (conflicting rows)")
        settings = {c: _plain(first[c]) for c in cols}
        try:
            config = TrainConfig.from_dict(settings)
        except (ValueError, TypeError) as exc:
            raise _fail(where, f"config_hash={_show(h)}: {' '.join(str(exc).split())}") from None
        del config  # valid; its hash is not compared: a store or export of an older HASH_VERSION keeps its hashes


def _same(a, b) -> bool:
    na = a is None or (isinstance(a, float) and math.isnan(a))
    nb = b is None or (isinstance(b, float) and math.isnan(b))
    return (na and nb) or (not na and not nb and a == b)


def _plain(v):
    """A cell as the plain value ``TrainConfig`` takes (JSON lists read back, numpy scalars, NaN -> None)."""
    import numpy as np

    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and math.isnan(v):
        return None
    if isinstance(v, str) and v[:1] in "[{":
        try:
            return json.loads(v)
        except ValueError:
            return v
    if isinstance(v, float) and v.is_integer() and abs(v) < 2**53:
        return v  # TrainConfig turns whole floats of integer fields into ints (and refuses 1.5)
    return v


def check_monte_carlo(records, where: str, fields: dict | None = None) -> dict:
    """Refuse (one-line ValueError) Monte Carlo results that cannot be estimates; return them.

    ``records``: key -> result (``reports.montecarlo.to_record``); ``fields``: key -> the case's fields
    (m, k, alpha, family, r, trials, seed), where the source stores them (a store's ``mc_results``).
    """
    if not isinstance(records, dict):
        raise _fail(where, "monte_carlo: must be a JSON object of results")
    for key, rec in records.items():
        at = f"monte_carlo[{str(key)[:16]!r}]"
        if not isinstance(rec, dict):
            raise _fail(where, f"{at}: must be an object")
        for q in ("p_all_covered", "expected_covered", "expected_collisions", "neurons_cover_ge1", "neurons_cover_ge2"):
            _check_estimate(rec.get(q), q, q in MC_PROBABILITIES, where, at)
        hist = rec.get("collision_histogram", [])
        if not isinstance(hist, list) or not all(
            isinstance(x, int) and not isinstance(x, bool) and x >= 0 for x in hist
        ):
            raise _fail(where, f"{at}.collision_histogram: must be a list of counts >= 0")
        for name in fields.get(key, {}) if fields else ():
            value = fields[key][name]
            if name in MC_FIELDS and not (isinstance(value, int) and value >= MC_FIELDS[name]):
                raise _fail(where, f"{at}.{name}={value!r}: must be an integer >= {MC_FIELDS[name]}")
    return records


def _check_estimate(est, name: str, probability: bool, where: str, at: str) -> None:
    ok = isinstance(est, list) and len(est) == 4 and all(_real(x) for x in est)
    if not ok:
        raise _fail(where, f"{at}.{name}={_short(est)}: must be [estimate, stderr, ci_low, ci_high], finite numbers")
    value, stderr, low, high = (float(x) for x in est)
    if probability and not (0.0 <= value <= 1.0 and 0.0 <= low <= high <= 1.0):
        raise _fail(where, f"{at}.{name}={_short(est)}: a probability and its interval must lie in [0, 1]")
    if not probability and value < 0:
        raise _fail(where, f"{at}.{name}={_short(est)}: an expectation of a count must be >= 0")
    if stderr < 0 or low > high:
        raise _fail(where, f"{at}.{name}={_short(est)}: stderr must be >= 0 and ci_low <= ci_high")


def _real(x) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def _short(x) -> str:
    text = repr(x)
    return text if len(text) <= 80 else text[:77] + "..."
