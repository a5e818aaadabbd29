"""The fields of a result row, one per (trial, variant) of a run (docs/interfaces.md).

Kept apart from the engine so that reading a store (``fpe_train.sweeps.store``) needs no torch; the result of
a batch and its assembly from rows, shared by the CPU kernel and the torch path, live here for the same reason.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

ROW_FIELDS = (
    "trial",
    "seed",
    "variant",
    "test_accuracy",
    "train_accuracy",
    "nonzero_params",
    "capacity",
    "cosine",
    "abs_cosine",
    "mask_covered",
    "mask_all_covered",
    "mask_collisions",
    "learned_covered",
    "learned_all_covered",
    "learned_collisions",
    "seconds",
    "device",
    "test_curve",
    "dataset",
    "n_train_used",
    "n_test_used",
)


@dataclass(frozen=True)
class BatchResult:
    """What a batch trained, per job of its ``jobs``: ``rows[i]`` maps each trial that finished to its rows,
    ``failed[i]`` each trial whose loss stopped being finite to its one-line message; ``seconds``: the batch's
    wall time. Both training paths (the CPU kernel and torch) return it."""

    rows: list[dict[int, list[dict]]]
    failed: list[dict[int, str]]
    seconds: float


def divergence_message(label, epoch: int) -> str:
    """The one-line message of a model (label ``(..., variant, trial)``) whose loss stopped being finite."""
    variant, trial = label[-2], label[-1]
    return f"loss is not finite: training diverged (variant={variant}, trial={trial}, epoch={epoch}); lower --lr"


def check_budgets(rows: list[dict]) -> None:
    """Every variant of a trial must have the dense model's non-zero weight count (else RuntimeError)."""
    dense = {r["trial"]: r["nonzero_params"] for r in rows if r["variant"] == "dense"}
    for r in rows:
        if r["nonzero_params"] != dense[r["trial"]]:
            raise RuntimeError(
                f"nonzero_params={r['nonzero_params']} of variant={r['variant']} trial={r['trial']}: "
                f"differs from dense={dense[r['trial']]}"
            )


def collect(jobs, rows: dict, curve_of: Callable, diverged: dict, seconds: float) -> BatchResult:
    """Rows keyed ``(job, variant, trial)`` -> a :class:`BatchResult` in ``ROW_FIELDS``, variants in their stored
    order; ``curve_of(job, variant, trial)`` gives a row's test curve, ``diverged[(job, trial)]`` the (label,
    epoch) of a trial that diverged (its rows are dropped, its message kept)."""
    per_row = seconds / max(1, len(rows))
    done, failed = [], []
    for i, (c, trials) in enumerate(jobs):
        order = ("dense", "dense_warmup", "dense_fresh", *c.splits)
        by_trial: dict[int, list[dict]] = {}
        messages: dict[int, str] = {}
        for t in trials:
            if (i, t) in diverged:
                messages[t] = divergence_message(*diverged[(i, t)])
                continue
            got = [
                rows[(i, v, t)] | {"seconds": per_row, "test_curve": curve_of(i, v, t)}
                for v in order
                if (i, v, t) in rows
            ]
            check_budgets(got)
            by_trial[t] = [{f: r[f] for f in ROW_FIELDS} for r in got]
        done.append(by_trial)
        failed.append(messages)
    return BatchResult(done, failed, seconds)
