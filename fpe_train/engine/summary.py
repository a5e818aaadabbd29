"""Per-variant summary of run rows: mean ± SEM over trials, best trial, relative improvement (paper 3.2).

Relative improvement of a split = FPE test accuracy / dense test accuracy of the same trial, then mean ± SEM
over trials (the paper's definition, Figure 3). Over a dense accuracy of 0 it is undefined: that trial's value
is None, ``relative_improvement_undefined`` counts such trials, and the table says "undefined (dense 0 %)".
SEM = sample standard deviation (ddof=1) / sqrt(n); None for one trial.

>>> stat([0.5, 0.7])["mean"]
0.6
"""

from __future__ import annotations

import math


def stat(values: list) -> dict:
    """``{mean, sem, values}`` of the non-None values (mean/sem None when there are none)."""
    xs = [float(v) for v in values if v is not None]
    n = len(xs)
    mean = sum(xs) / n if n else None
    sem = math.sqrt(sum((x - mean) ** 2 for x in xs) / (n - 1) / n) if n > 1 else None
    return {"mean": mean, "sem": sem, "values": list(values)}


def relative_improvement(accuracy, dense_accuracy):
    """FPE accuracy / dense accuracy of the same trial; None (undefined) when the dense accuracy is 0 or missing."""
    if accuracy is None or not dense_accuracy:
        return None
    return float(accuracy) / float(dense_accuracy)


def summarize(rows: list[dict], variants) -> dict:
    """``variant -> metrics`` for JSON (see docs/training.md for the keys)."""
    dense = {r["trial"]: r["test_accuracy"] for r in rows if r["variant"] == "dense"}
    out = {}
    for v in variants:
        rs = [r for r in rows if r["variant"] == v]
        nonzero = sorted({r["nonzero_params"] for r in rs})
        col = lambda key, rs=rs: [r[key] for r in rs]  # noqa: E731
        out[v] = {
            "test_accuracy": stat(col("test_accuracy")),
            "train_accuracy": stat(col("train_accuracy")),
            "best_test_accuracy": max(col("test_accuracy")),
            "relative_improvement": stat([relative_improvement(r["test_accuracy"], dense.get(r["trial"])) for r in rs]),
            "relative_improvement_undefined": sum(not dense.get(r["trial"]) for r in rs),
            "nonzero_params": nonzero[0] if len(nonzero) == 1 else col("nonzero_params"),
            "capacity": stat(col("capacity")),
            "cosine": stat(col("cosine")),
            "abs_cosine": stat(col("abs_cosine")),
            "covered": {"mask": stat(col("mask_covered")), "learned": stat(col("learned_covered"))},
            "all_covered": {"mask": stat(col("mask_all_covered")), "learned": stat(col("learned_all_covered"))},
            "collisions": {"mask": stat(col("mask_collisions")), "learned": stat(col("learned_collisions"))},
        }
    return out


def _pm(s: dict, digits: int = 3, scale: float = 1.0, undefined: int = 0) -> str:
    if s["mean"] is None and undefined:
        return "undefined (dense 0 %)"
    if s["mean"] is None:
        return "-"
    sem = "" if s["sem"] is None else f" ± {s['sem'] * scale:.{digits}f}"
    note = f" ({undefined} undefined: dense 0 %)" if undefined else ""
    return f"{s['mean'] * scale:.{digits}f}{sem}{note}"


def format_table(summary: dict) -> str:
    """A plain-text table, one line per variant (accuracies in %)."""
    head = (
        "variant",
        "test acc %",
        "best %",
        "train acc %",
        "rel. impr.",
        "capacity",
        "cosine",
        "mask cov",
        "mask coll",
        "learned cov",
        "learned coll",
        "nonzero",
    )
    lines = []
    for v, s in summary.items():
        lines.append(
            (
                v,
                _pm(s["test_accuracy"], 1, 100),
                f"{100 * s['best_test_accuracy']:.1f}",
                _pm(s["train_accuracy"], 1, 100),
                _pm(s["relative_improvement"], 3, undefined=s.get("relative_improvement_undefined", 0)),
                _pm(s["capacity"], 2),
                _pm(s["cosine"], 3),
                _pm(s["covered"]["mask"], 1),
                _pm(s["collisions"]["mask"], 1),
                _pm(s["covered"]["learned"], 1),
                _pm(s["collisions"]["learned"], 1),
                str(s["nonzero_params"]),
            )
        )
    widths = [max(len(str(x)) for x in col) for col in zip(head, *lines, strict=False)]
    fmt = lambda row: "  ".join(str(x).ljust(w) for x, w in zip(row, widths, strict=False))  # noqa: E731
    return "\n".join([fmt(head), *map(fmt, lines)])
