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


def _trained(graphs: bool, monkeypatch, device: str = "cuda", epochs: int = 5):
    """Six masked one-hidden-layer models, each its own data order, trained on ``device``, eagerly or with
    CUDA graphs (``FPE_CUDA_GRAPHS``); the last minibatch of each epoch is partial (100 rows, batch 32)."""
    from fpe_train.engine import train
    from fpe_train.engine.mlp import BatchedMLP

    monkeypatch.setenv(train.GRAPHS_ENV, "1" if graphs else "0")
    g = torch.Generator().manual_seed(0)
    net = BatchedMLP.init(6, [12, 8, 1], g, device=device)
    net.masks[0].copy_((torch.rand(net.masks[0].shape, generator=g) < 0.6).to(device))
    with torch.no_grad():
        net.weights[0].mul_(net.masks[0])  # masked entries start at 0 (as the engine's expansions do)
    X, y = torch.rand(100, 12, generator=g) * 3, (torch.rand(100, generator=g) < 0.5).float()
    live = train.simple_live_batch(net, 1e-2, 1e-3, 1e-3, seeds=[3, 1, 4, 15, 9, 2])
    steps = train.train_epochs(live, X.to(device), y.to(device), 100, epochs, 32)
    return live, steps


def test_cuda_graphs_train_the_eager_weights(monkeypatch):
    """The graph path replays the eager path's kernels: weights, Adam state and step counts as eager CUDA,
    masked entries exactly 0, the last partial minibatch included (CPU vs CUDA: ``test_cuda_batch_matches_cpu``)."""
    from fpe_train.engine import train

    before = dict(train.GRAPH_STATS)
    graphed, steps = _trained(True, monkeypatch)
    assert {k: train.GRAPH_STATS[k] - before[k] for k in before} == {"captured": 1, "replayed": 3, "failed": 0}
    eager, eager_steps = _trained(False, monkeypatch)
    assert steps == eager_steps == 5 * 4
    torch.testing.assert_close(graphed.optimizer.flat, eager.optimizer.flat, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(graphed.optimizer.exp_avg_sq, eager.optimizer.exp_avg_sq, atol=1e-8, rtol=1e-4)
    torch.testing.assert_close(graphed.optimizer.steps, eager.optimizer.steps, atol=0, rtol=0)
    assert graphed.optimizer.steps.tolist() == [20.0] * 6
    w = graphed.net.weights[0]
    assert (w[~graphed.net.masks[0]] == 0).all() and (w[graphed.net.masks[0]] != 0).float().mean() > 0.9


def test_cuda_graphs_give_the_eager_rows(monkeypatch):
    """FPE_CUDA_GRAPHS=1: the same rows as eager CUDA (the same kernels replayed), epochs really replayed; a
    diverging config is still caught by the once-per-epoch check."""
    from fpe_train.engine import train

    base = dict(k=4, epochs=4, warmup_epochs=3, n_train=300, n_test=200, batch_size=100, trials=2, device="cuda")
    configs = [
        TrainConfig(clauses=2, r=2, splits=("random",), **base),
        TrainConfig(clauses=4, r=4, alpha=4, splits=("random", "clause"), **base),
        TrainConfig(clauses=3, r=3, lr=1e30, **base),
    ]
    got = {}
    for graphs in (False, True):
        monkeypatch.setenv(train.GRAPHS_ENV, "1" if graphs else "0")
        before = dict(train.GRAPH_STATS)
        result = run_batch([(c, range(2)) for c in configs], on_error="record")
        got[graphs] = result
        stats = {k: train.GRAPH_STATS[k] - before[k] for k in before}
        if graphs:
            assert stats == {"captured": 2, "replayed": 1 + 2, "failed": 0}  # warm-up: 3 epochs, fine-tune: 4
        else:
            assert stats == {"captured": 0, "replayed": 0, "failed": 0}
    eager, graphed = got[False], got[True]
    assert eager.failed[2].keys() == graphed.failed[2].keys() == {0, 1}
    for a_by_trial, b_by_trial in zip(eager.rows[:2], graphed.rows[:2], strict=True):
        for t in a_by_trial:
            for a, b in zip(a_by_trial[t], b_by_trial[t], strict=True):
                assert (a["variant"], a["nonzero_params"]) == (b["variant"], b["nonzero_params"])
                assert a["test_accuracy"] == pytest.approx(b["test_accuracy"], abs=0.011)  # 2 of 200 samples
                assert a["capacity"] == pytest.approx(b["capacity"], rel=1e-4, abs=1e-6)
