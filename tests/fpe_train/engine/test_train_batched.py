"""The batched engine against E separate plain torch.nn runs, masks that cannot leak, padding that changes nothing."""

import numpy as np
import pytest
import torch
from torch import nn

from fpe_train.engine.kernel import permutation
from fpe_train.engine.mlp import BatchedMLP, add_penalty_grads, per_model_loss
from fpe_train.engine.train import BatchedAdam, simple_live_batch, train_epochs

L1, L2, LR, BATCH = 1e-3, 1e-3, 1e-2, 32  # large enough that the penalties matter


def _plain(net: BatchedMLP, e: int) -> nn.Sequential:
    """Model e of ``net`` as a plain torch.nn.Sequential (Linear [LayerNorm] ReLU ... Linear)."""
    layers = []
    for j, (w, b) in enumerate(zip(net.weights, net.biases, strict=False)):
        lin = nn.Linear(w.shape[2], w.shape[1])
        with torch.no_grad():
            lin.weight.copy_(w[e])
            lin.bias.copy_(b[e])
        layers.append(lin)
        if j < len(net.weights) - 1:
            if net.norms:
                ln = nn.LayerNorm(w.shape[1])
                with torch.no_grad():
                    ln.weight.copy_(net.norms[j][0][e])
                    ln.bias.copy_(net.norms[j][1][e])
                layers.append(ln)
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def _train_plain(model: nn.Sequential, X, y, epochs: int, seed: int, multiclass: bool, lr=LR, l1=L1, l2=L2) -> None:
    """A3 written plainly: torch.optim.Adam, BCE/CE + l1 |W1|_1 + l2 sum |p|^2, randperm order per epoch."""
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    for epoch in range(1, epochs + 1):
        order = np.empty(len(X), dtype=np.int64)
        permutation(np.uint64(seed), epoch, order)  # the engine's data order: stream key ``seed``, this epoch
        order = torch.from_numpy(order)
        for start in range(0, len(X), BATCH):
            idx = order[start : start + BATCH]
            opt.zero_grad()
            out = model(X[idx])
            if multiclass:
                loss = nn.functional.cross_entropy(out, y[idx].long())
            else:
                loss = nn.functional.binary_cross_entropy_with_logits(out[:, 0], y[idx])
            loss = loss + l1 * model[0].weight.abs().sum() + l2 * sum((p**2).sum() for p in model.parameters())
            loss.backward()
            opt.step()


@pytest.mark.parametrize("depth,n_out", [(1, 1), (2, 1), (1, 3)])
def test_batched_equals_separate_plain_runs(depth, n_out):
    """Each model its own data order (seed 5 + e) and its own lr: the batch equals E plain loops."""
    torch.manual_seed(0)
    X = torch.rand(100, 6) * 3  # 100 = 3 full batches + a partial one
    y = torch.randint(0, max(n_out, 2), (100,)).float()
    sizes = [6] + [5] * depth + [n_out]
    net = BatchedMLP.init(3, sizes, torch.Generator().manual_seed(1), layer_norm=depth > 1)
    plains = [_plain(net, e) for e in range(3)]
    lrs = [LR, 2 * LR, LR / 2]
    live = simple_live_batch(net, LR, L1, L2, seeds=[5, 6, 7])
    live.optimizer.lr.copy_(torch.tensor(lrs))
    train_epochs(live, X, y, len(X), 3, BATCH)
    for e, model in enumerate(plains):
        _train_plain(model, X, y, 3, seed=5 + e, multiclass=n_out > 1, lr=lrs[e])
        linears = [m for m in model if isinstance(m, nn.Linear)]
        for j, lin in enumerate(linears):
            torch.testing.assert_close(net.weights[j][e].detach(), lin.weight.detach(), atol=2e-5, rtol=1e-4)
            torch.testing.assert_close(net.biases[j][e].detach(), lin.bias.detach(), atol=2e-5, rtol=1e-4)
        if depth > 1:
            ln = [m for m in model if isinstance(m, nn.LayerNorm)][0]
            torch.testing.assert_close(net.norms[0][0][e].detach(), ln.weight.detach(), atol=2e-5, rtol=1e-4)
    assert not torch.equal(net.weights[0][0], net.weights[0][1])  # the models really differ


def test_masked_weights_and_adam_state_stay_zero():
    g = torch.Generator().manual_seed(0)
    net = BatchedMLP.init(4, [8, 6, 1], g)
    masks = [torch.rand(m.shape, generator=g) < 0.5 for m in net.masks]
    with torch.no_grad():
        for w, m in zip(net.weights, masks, strict=False):
            w.mul_(m)
    net.masks = masks
    live = simple_live_batch(net, 1e-2, 1e-3, 1e-3)
    X, y = torch.rand(64, 8) * 3, (torch.rand(64) < 0.5).float()
    train_epochs(live, X, y, 64, 3, 16)
    for j, m in enumerate(masks):
        w = live.net.weights[j].detach()
        exp_avg, exp_avg_sq = live.optimizer.state_views(j)
        assert (w[~m] == 0).all() and (exp_avg[~m] == 0).all() and (exp_avg_sq[~m] == 0).all()
        assert (w[m] != 0).float().mean() > 0.9  # the active weights did train
    assert live.net.nonzero_params().tolist() == [int(sum(m[e].sum() for m in masks)) for e in range(4)]


def test_penalty_grads_equal_autograd():
    g = torch.Generator().manual_seed(3)
    net = BatchedMLP.init(2, [5, 4, 1], g, layer_norm=False)
    net.masks[0][0, 0, :2] = False
    X, y = torch.rand(10, 5), (torch.rand(10) < 0.5).float()
    l1, l2 = torch.tensor([0.3, 0.1]), torch.tensor([0.2, 0.05])  # per model
    per_model_loss(net(X), y).sum().backward()
    add_penalty_grads(net, l1, l2)
    fused = [p.grad.clone() for p in net.parameters()]
    for p in net.parameters():
        p.grad = None
    ws = net.masked_weights()
    loss = per_model_loss(net(X), y).sum() + (l1 * ws[0].abs().sum(dim=(1, 2))).sum()
    loss = loss + (l2 * (sum((w**2).sum(dim=(1, 2)) for w in ws) + sum((b**2).sum(dim=1) for b in net.biases))).sum()
    loss.backward()
    for a, p in zip(fused, net.parameters(), strict=False):
        torch.testing.assert_close(a, p.grad)


def test_adam_fresh_models_start_at_step_zero():
    """After ``reset`` model 1 takes a fresh torch.optim.Adam step while model 0 continues its Adam."""
    net = BatchedMLP.init(2, [3, 2, 1], torch.Generator().manual_seed(0))
    g = torch.Generator().manual_seed(1)
    g1 = [torch.randn(p.shape, generator=g) for p in net.parameters()]
    g2 = [torch.randn(p.shape, generator=g) for p in net.parameters()]
    start = [p.detach().clone() for p in net.parameters()]
    opt = BatchedAdam(net, torch.tensor([0.1, 0.05]), torch.zeros(2), torch.zeros(2))
    opt.step(g1)
    mid = [p.detach().clone() for p in net.parameters()]
    opt.reset(torch.tensor([False, True]))
    opt.step(g2)

    def torch_adam(init, grads_list, lr):
        ps = [t.clone().requires_grad_() for t in init]
        o = torch.optim.Adam(ps, lr=lr)
        for grads in grads_list:
            for p, gr in zip(ps, grads, strict=True):
                p.grad = gr.clone()
            o.step()
        return [p.detach() for p in ps]

    cont = torch_adam([t[0] for t in start], [[x[0] for x in g1], [x[0] for x in g2]], 0.1)
    fresh = torch_adam([t[1] for t in mid], [[x[1] for x in g2]], 0.05)
    for p, a, b in zip(net.parameters(), cont, fresh, strict=True):
        torch.testing.assert_close(p.detach()[0], a)
        torch.testing.assert_close(p.detach()[1], b)


@pytest.mark.parametrize("mode", ["rewire", "resample"])
def test_dynamic_masks_keep_budget_and_zeros(mode):
    g = torch.Generator().manual_seed(4)
    net = BatchedMLP.init(3, [8, 6, 1], g)
    net.masks[0] = torch.rand(net.masks[0].shape, generator=g) < 0.5
    with torch.no_grad():
        net.weights[0].mul_(net.masks[0])
    before = net.masks[0].clone()
    gens = [torch.Generator().manual_seed(10 + e) for e in range(3)]
    kw = {"rewire": [(e, 2, 0.25) for e in range(3)]} if mode == "rewire" else {"resample": [0, 1, 2]}
    live = simple_live_batch(net, 1e-2, dynamic_layers=(0,), mask_gens=gens, **kw)
    X, y = torch.rand(64, 8) * 3, (torch.rand(64) < 0.5).float()
    train_epochs(live, X, y, 64, 2, 16)
    after = live.net.masks[0]
    assert not torch.equal(after, before)
    if mode == "rewire":  # budget per model; masked weights exactly zero
        assert after.sum(dim=(1, 2)).tolist() == before.sum(dim=(1, 2)).tolist()
        assert (live.net.weights[0].detach()[~after] == 0).all()
    else:  # resampling keeps every row's count
        assert torch.equal(after.sum(dim=2), before.sum(dim=2))


@pytest.mark.parametrize("depth", [1, 2])
def test_padding_changes_nothing(depth):
    """A model padded with masked-off inputs and neurons beside a bigger model trains as it does alone."""
    X = torch.rand(64, 6) * 3
    y = (torch.rand(64) < 0.5).float()
    small = BatchedMLP.init(1, [4] + [3] * depth + [1], torch.Generator().manual_seed(1), layer_norm=depth > 1)
    big = BatchedMLP.init(1, [6] + [5] * depth + [1], torch.Generator().manual_seed(2), layer_norm=depth > 1)
    from fpe_train.engine.torch_batch import _assemble, _unpad

    alone_sizes = [4] + [3] * depth + [1]
    pair = _assemble([_unpad(small, 0, alone_sizes), _unpad(big, 0, [6] + [5] * depth + [1])], depth > 1, "cpu")
    g_pair = simple_live_batch(pair, 1e-2, 1e-3, 1e-3, seeds=[9, 3])
    g_pair.shapes = [alone_sizes, g_pair.shapes[1]]
    g_alone = simple_live_batch(small, 1e-2, 1e-3, 1e-3, seeds=[9])
    train_epochs(g_pair, X, y, 64, 3, 16)
    train_epochs(g_alone, X[:, :4], y, 64, 3, 16)
    for j in range(depth + 1):
        rows, cols = alone_sizes[j + 1], alone_sizes[j]
        w = g_pair.net.weights[j].detach()[0]
        torch.testing.assert_close(w[:rows, :cols], g_alone.net.weights[j].detach()[0], atol=1e-6, rtol=1e-5)
        assert (w[rows:] == 0).all() and (w[:, cols:] == 0).all()  # padding stays exactly zero
        assert (g_pair.net.biases[j].detach()[0, rows:] == 0).all()
    assert g_pair.net.nonzero_params().tolist()[0] == g_alone.net.nonzero_params().item()
