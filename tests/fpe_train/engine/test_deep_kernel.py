"""The compiled epoch of deep (LayerNorm) batches (``fpe_train.engine.deep``) against torch autograd on the same
LiveBatch, against itself model by model (padding changes nothing), and end to end through ``run_batch``."""

import numpy as np
import pytest
import torch

from fpe_train.engine import train
from fpe_train.engine.config import TrainConfig
from fpe_train.engine.mlp import BatchedMLP
from fpe_train.engine.torch_batch import _assemble, _Model, run_batch
from fpe_train.engine.train import accuracy, compiled_ok, simple_live_batch, train_epochs

N, BATCH = 70, 32  # two full minibatches and a partial one per epoch


def _model(sizes: list[int], gen: torch.Generator, keep: float = 0.6) -> _Model:
    """One model of real ``sizes``: masked weights (exactly 0 where masked), LayerNorm pairs away from (1, 0)."""
    pairs = list(zip(sizes[:-1], sizes[1:], strict=True))
    masks = [torch.rand(o, i, generator=gen) < keep for i, o in pairs]
    ws = [torch.randn(o, i, generator=gen) / i**0.5 * m for (i, o), m in zip(pairs, masks, strict=True)]
    bs = [0.1 * torch.randn(o, generator=gen) for o in sizes[1:]]
    norms = [(1 + 0.2 * torch.randn(o, generator=gen), 0.2 * torch.randn(o, generator=gen)) for o in sizes[1:-1]]
    return _Model(ws, bs, masks, norms)


def _live(models: list[_Model], lr, l1, l2):
    """A live batch of ``models`` (padded to the largest), one data order per model (keys 0..E-1), per-model
    hyperparameters."""
    live = simple_live_batch(_assemble(models, True, "cpu"), lr=0.0)
    live.shapes = [m.sizes for m in models]
    for name, values in (("lr", lr), ("l1", l1), ("l2", l2)):
        setattr(live, name, torch.tensor(values, dtype=torch.float32))
    live.optimizer = None
    live.__post_init__()  # the optimiser with these per-model hyperparameters
    return live


def _data(n_in: int, n_out: int, gen: torch.Generator, n: int = N):
    X = torch.randn(n, n_in, generator=gen)
    y = (torch.randint(0, max(n_out, 2), (n,), generator=gen)).float()
    return X, y


def _train(live, X, y, epochs: int, compiled: bool, monkeypatch) -> None:
    monkeypatch.setattr(train, "COMPILED_DEEP", compiled)
    assert compiled_ok(live, X.device) == compiled
    train_epochs(live, X, y, len(X), epochs, BATCH)


SHAPES = {
    (2, 1): [[7, 6, 5, 1], [7, 4, 5, 1], [7, 6, 3, 1]],
    (2, 3): [[7, 6, 5, 3], [7, 4, 5, 3], [7, 6, 3, 3]],
    (4, 10): [[9, 12, 6, 12, 6, 10], [9, 6, 6, 6, 6, 10], [9, 12, 6, 12, 5, 10]],
}


@pytest.mark.parametrize("depth,n_out", list(SHAPES))
def test_compiled_epochs_equal_autograd(depth, n_out, monkeypatch):
    """Three epochs (nine Adam steps), a ragged batch (model 1 without masked weights: the dense loops; the
    others masked: the loops over unmasked weights) with per-model lr, l1, l2: weights, biases, LN pairs and
    both moments within 1e-5 of autograd's (relative to each tensor's largest entry); masked entries exactly 0
    in the weights and the moments, padded neurons exactly 0, on both paths."""
    gen = torch.Generator().manual_seed(depth * 10 + n_out)
    models = [_model(s, gen, keep=1.0 if e == 1 else 0.6) for e, s in enumerate(SHAPES[(depth, n_out)])]
    X, y = _data(SHAPES[(depth, n_out)][0][0], n_out, gen)
    hyper = dict(lr=[1e-2, 3e-3, 2e-2], l1=[1e-3, 0.0, 3e-3], l2=[1e-3, 2e-3, 0.0])
    ours, ref = _live(models, **hyper), _live(models, **hyper)
    _train(ours, X, y, 3, True, monkeypatch)
    _train(ref, X, y, 3, False, monkeypatch)
    a, b = ours.optimizer, ref.optimizer
    assert torch.equal(a.steps, b.steps) and a.steps.tolist() == [9.0] * 3
    for name in ("flat", "exp_avg", "exp_avg_sq"):
        for got, want in zip(getattr(a, name).split(a.sizes), getattr(b, name).split(b.sizes), strict=True):
            torch.testing.assert_close(got, want, rtol=0, atol=1e-5 * float(want.abs().max()))
    torch.testing.assert_close(ours.epoch_loss.float(), ref.epoch_loss, rtol=1e-5, atol=0)
    for opt in (a, b):
        off = ~opt.mask  # masked weights and padded weights
        assert off.any()
        for t in (opt.flat, opt.exp_avg, opt.exp_avg_sq):
            assert bool((t[off] == 0).all())
    for live in (ours, ref):  # padded neurons: biases, gamma, beta exactly 0
        net = live.net
        for e, s in enumerate(live.shapes):
            for j in range(depth):
                tensors = [net.biases[j], *net.norms[j]]
                assert all(bool((t[e, s[j + 1] :] == 0).all()) for t in tensors)


@pytest.mark.parametrize("n_out", [1, 10])
def test_ragged_batch_equals_each_model_alone(n_out, monkeypatch):
    """Models of different real shapes (inputs too: model 3 reads the first 7 columns) padded together train
    exactly (bit for bit) as each alone."""
    gen = torch.Generator().manual_seed(n_out)
    shapes = [[9, 12, 6, 12, 6, n_out], [9, 6, 6, 6, 6, n_out], [9, 12, 5, 12, 6, n_out], [7, 6, 6, 6, 6, n_out]]
    models = [_model(s, gen) for s in shapes]
    X, y = _data(9, n_out, gen)
    hyper = dict(lr=[1e-2, 2e-2, 5e-3, 1e-2], l1=[1e-3, 0.0, 2e-3, 1e-3], l2=[1e-3, 1e-3, 0.0, 1e-3])
    batch = _live(models, **hyper)
    _train(batch, X, y, 2, True, monkeypatch)
    for e, m in enumerate(models):
        alone = _live([m], **{k: [v[e]] for k, v in hyper.items()})
        alone.order_keys = np.array([e], dtype=np.uint64)  # model e's data order in the batch
        _train(alone, X, y, 2, True, monkeypatch)
        s = m.sizes
        for j in range(len(s) - 1):
            rows, cols = slice(0, s[j + 1]), slice(0, s[j])
            assert torch.equal(batch.net.weights[j][e, rows, cols], alone.net.weights[j][0])
            assert torch.equal(batch.net.biases[j][e, rows], alone.net.biases[j][0])
            for k, _ in enumerate(alone.optimizer.state_views(j)):
                assert torch.equal(
                    batch.optimizer.state_views(j)[k][e, rows, cols], alone.optimizer.state_views(j)[k][0]
                )
        for j in range(len(s) - 2):
            for t, u in zip(batch.net.norms[j], alone.net.norms[j], strict=True):
                assert torch.equal(t[e, : s[j + 1]], u[0])
        assert float(batch.epoch_loss[e]) == float(alone.epoch_loss[0])


def test_divergent_model_is_reported_and_contained(monkeypatch):
    """A model with a huge lr diverges (``note_divergence`` records it); the others train exactly as without it."""
    gen = torch.Generator().manual_seed(3)
    shapes = [[7, 6, 5, 6, 3]] * 3
    models = [_model(s, gen) for s in shapes]
    X, y = _data(7, 3, gen)
    hyper = dict(lr=[1e-2, 1e36, 1e-2], l1=[0.0] * 3, l2=[1e-3] * 3)
    live = _live(models, **hyper)
    _train(live, X, y, 2, True, monkeypatch)
    assert set(live.diverged) == {1}
    calm = _live(models, lr=[1e-2, 1e-2, 1e-2], l1=[0.0] * 3, l2=[1e-3] * 3)
    _train(calm, X, y, 2, True, monkeypatch)
    assert not calm.diverged
    for w, v in zip(live.net.weights, calm.net.weights, strict=True):
        assert torch.equal(w[[0, 2]], v[[0, 2]])


@pytest.mark.parametrize("n_out", [1, 10])
def test_compiled_accuracy_equals_torch_forward(n_out, monkeypatch):
    """Hits of every model of a ragged batch on its own rows of a stacked set: the compiled forward pass counts
    exactly what the torch forward pass does (with and without the real shapes given)."""
    gen = torch.Generator().manual_seed(10 + n_out)
    shapes = [[9, 12, 6, 12, n_out], [9, 6, 6, 6, n_out], [9, 12, 5, 12, n_out]]
    live = _live([_model(s, gen) for s in shapes], lr=[0.0] * 3, l1=[0.0] * 3, l2=[0.0] * 3)
    n = 1500
    X, y = _data(9, n_out, gen, n=2 * n)
    if n_out == 1:  # labels model 0 gets right but for one in ten: counts away from 0, n / 2 and n
        flip = torch.rand(2 * n, generator=gen) < 0.1
        y = ((live.net(X)[0, :, 0] > 0) ^ flip).float()
    rows = torch.tensor([0, n, n])
    monkeypatch.setattr(train, "COMPILED_DEEP", False)
    want = accuracy(live.net, X, y, rows, n)
    monkeypatch.setattr(train, "COMPILED_DEEP", True)
    assert torch.equal(accuracy(live.net, X, y, rows, n, shapes=live.shapes), want)
    assert torch.equal(accuracy(live.net, X, y, rows, n), want)
    assert 0 < float(want.min()) and float(want.max()) < 1


def test_dynamic_masks_and_one_hidden_layer_keep_their_paths():
    """Rewiring or resampling, DropConnect rescaling, a net without LayerNorm, CUDA: not the compiled epoch."""
    gen = torch.Generator().manual_seed(0)
    live = _live([_model([5, 4, 4, 2], gen)], lr=[1e-2], l1=[0.0], l2=[0.0])
    cpu = torch.device("cpu")
    assert compiled_ok(live, cpu) and not compiled_ok(live, torch.device("cuda"))
    live.rewire = [(0, 2, 0.1)]
    assert not compiled_ok(live, cpu)
    live.rewire, live.resample = [], [0]
    assert not compiled_ok(live, cpu)
    live.resample, live.optimizer.lr_scale = [], torch.ones_like(live.optimizer.flat)
    assert not compiled_ok(live, cpu)
    for sizes in ([5, 4, 2], [5, 4, 4, 2]):  # without LayerNorm: the fused step, or autograd
        plain = simple_live_batch(BatchedMLP.init(2, sizes, gen), lr=1e-2)
        assert not compiled_ok(plain, cpu)


def test_run_batch_rows_equal_the_autograd_path(monkeypatch):
    """A small Table A3 config (depth 4, random split, 3 trials, 3 + 3 epochs) through ``run_batch``: the
    compiled epoch's rows equal the autograd path's (accuracies within 0.02, the same masks and counts)."""
    config = TrainConfig(
        task="digits",
        depth=4,
        r=6,
        alpha=2,
        splits=("random",),
        batch_size=50,
        lr=0.01,
        trials=3,
        warmup_epochs=3,
        epochs=3,
        n_train=300,
        n_test=200,
        device="cpu",
    )
    got = {}
    for compiled in (True, False):
        monkeypatch.setattr(train, "COMPILED_DEEP", compiled)
        got[compiled] = run_batch([(config, range(3))]).rows[0]
    for t in range(3):
        for a, b in zip(got[True][t], got[False][t], strict=True):
            assert (a["variant"], a["nonzero_params"]) == (b["variant"], b["nonzero_params"])
            for key in ("test_accuracy", "train_accuracy"):
                assert abs(a[key] - b[key]) <= 0.02, (t, a["variant"], key, a[key], b[key])


def test_threads_over_models_change_nothing(monkeypatch):
    """Two threads over the models (each its share) give the bits of one thread."""
    gen = torch.Generator().manual_seed(7)
    models = [_model(s, gen) for s in SHAPES[(4, 10)] * 2]
    X, y = _data(9, 10, gen)
    hyper = dict(lr=[1e-2] * 6, l1=[1e-3] * 6, l2=[1e-3] * 6)
    runs = []
    before = torch.get_num_threads()
    try:
        for threads in (1, 2):
            torch.set_num_threads(threads)
            live = _live(models, **hyper)
            _train(live, X, y, 2, True, monkeypatch)
            runs.append(live.optimizer)
    finally:
        torch.set_num_threads(before)
    for name in ("flat", "exp_avg", "exp_avg_sq"):
        assert torch.equal(getattr(runs[0], name), getattr(runs[1], name))
