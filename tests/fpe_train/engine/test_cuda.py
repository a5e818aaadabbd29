"""The CUDA path: the same code as on the CPU gives the same counts and close accuracies (skipped without a GPU)."""

import dataclasses

import pytest
import torch

from fpe_train.engine.config import TrainConfig
from fpe_train.engine.run import run_batch

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")


def test_cuda_batch_matches_cpu():
    base = dict(k=4, epochs=2, warmup_epochs=2, n_train=300, n_test=200, batch_size=100, trials=2)
    configs = [
        TrainConfig(clauses=2, r=2, splits=("random",), **base),
        TrainConfig(clauses=4, r=4, alpha=4, splits=("random", "clause", "dropconnect"), **base),
    ]
    got = {}
    for device in ("cpu", "cuda"):
        jobs = [(dataclasses.replace(c, device=device), range(2)) for c in configs]
        got[device] = [r for by_trial in run_batch(jobs).rows for t in sorted(by_trial) for r in by_trial[t]]
    for a, b in zip(got["cpu"], got["cuda"], strict=True):
        assert (a["variant"], a["trial"], a["nonzero_params"]) == (b["variant"], b["trial"], b["nonzero_params"])
        assert b["device"] == "cuda"
        assert a["test_accuracy"] == pytest.approx(b["test_accuracy"], abs=0.05)
