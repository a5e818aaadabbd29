"""The batched engine against E separate plain torch.nn runs, and masks that cannot leak."""

import pytest
import torch
from torch import nn

from fpe_train.engine.batched import BatchedMLP, add_penalty_grads, per_model_loss
from fpe_train.engine.train import Group, LoopSettings, train_epochs

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


def _train_plain(model: nn.Sequential, X, y, epochs: int, seed: int, multiclass: bool) -> None:
    """A3 written plainly: Adam, BCE/CE + l1 |W1|_1 + l2 sum |p|^2, randperm order per epoch."""
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    g = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        order = torch.randperm(len(X), generator=g)
        for start in range(0, len(X), BATCH):
            idx = order[start : start + BATCH]
            opt.zero_grad()
            out = model(X[idx])
            if multiclass:
                loss = nn.functional.cross_entropy(out, y[idx].long())
            else:
                loss = nn.functional.binary_cross_entropy_with_logits(out[:, 0], y[idx])
            loss = loss + L1 * model[0].weight.abs().sum() + L2 * sum((p**2).sum() for p in model.parameters())
            loss.backward()
            opt.step()


@pytest.mark.parametrize("depth,n_out", [(1, 1), (2, 1), (1, 3)])
def test_batched_equals_separate_plain_runs(depth, n_out):
    torch.manual_seed(0)
    X = torch.rand(100, 6) * 3  # 100 = 3 full batches + a partial one
    y = torch.randint(0, max(n_out, 2), (100,)).float()
    sizes = [6] + [5] * depth + [n_out]
    net = BatchedMLP.init(3, sizes, torch.Generator().manual_seed(1), layer_norm=depth > 1)
    plains = [_plain(net, e) for e in range(3)]
    group = Group(net, [("dense", e) for e in range(3)], LR)
    train_epochs([group], X, y, 3, LoopSettings(BATCH, L1, L2, torch.Generator().manual_seed(5)))
    for e, model in enumerate(plains):
        _train_plain(model, X, y, 3, seed=5, multiclass=n_out > 1)
        linears = [m for m in model if isinstance(m, nn.Linear)]
        for j, lin in enumerate(linears):
            torch.testing.assert_close(net.weights[j][e].detach(), lin.weight.detach(), atol=2e-5, rtol=1e-4)
            torch.testing.assert_close(net.biases[j][e].detach(), lin.bias.detach(), atol=2e-5, rtol=1e-4)
        if depth > 1:
            ln = [m for m in model if isinstance(m, nn.LayerNorm)][0]
            torch.testing.assert_close(net.norms[0][0][e].detach(), ln.weight.detach(), atol=2e-5, rtol=1e-4)
    assert not torch.equal(net.weights[0][0], net.weights[0][1])  # the models really differ


def test_masked_weights_grads_and_adam_state_stay_zero():
    g = torch.Generator().manual_seed(0)
    net = BatchedMLP.init(4, [8, 6, 1], g)
    masks = [torch.rand(m.shape, generator=g) < 0.5 for m in net.masks]
    with torch.no_grad():
        for w, m in zip(net.weights, masks, strict=False):
            w.mul_(m)
    net.masks = masks
    group = Group(net, [("x", e) for e in range(4)], 1e-2)
    X, y = torch.rand(64, 8) * 3, (torch.rand(64) < 0.5).float()
    train_epochs([group], X, y, 3, LoopSettings(16, 1e-3, 1e-3, torch.Generator().manual_seed(2)))
    for w, m in zip(net.weights, masks, strict=False):
        assert (w.detach()[~m] == 0).all() and (w.grad[~m] == 0).all()
        state = group.optimizer.state[w]
        assert (state["exp_avg"][~m] == 0).all() and (state["exp_avg_sq"][~m] == 0).all()
        assert (w.detach()[m] != 0).float().mean() > 0.9  # the active weights did train
    assert net.nonzero_params().tolist() == [int(sum(m[e].sum() for m in masks)) for e in range(4)]


def test_penalty_grads_equal_autograd():
    g = torch.Generator().manual_seed(3)
    net = BatchedMLP.init(2, [5, 4, 1], g, layer_norm=False)
    net.masks[0][0, 0, :2] = False
    X, y = torch.rand(10, 5), (torch.rand(10) < 0.5).float()
    per_model_loss(net(X), y).sum().backward()
    add_penalty_grads(net, 0.3, 0.2)
    fused = [p.grad.clone() for p in net.parameters()]
    for p in net.parameters():
        p.grad = None
    ws = net.masked_weights()
    loss = per_model_loss(net(X), y).sum() + 0.3 * ws[0].abs().sum()
    loss = loss + 0.2 * (sum((w**2).sum() for w in ws) + sum((b**2).sum() for b in net.biases))
    loss.backward()
    for a, p in zip(fused, net.parameters(), strict=False):
        torch.testing.assert_close(a, p.grad)


@pytest.mark.parametrize("mode", ["rewire", "resample"])
def test_dynamic_masks_keep_budget_and_zeros(mode):
    g = torch.Generator().manual_seed(4)
    net = BatchedMLP.init(3, [8, 6, 1], g)
    net.masks[0] = torch.rand(net.masks[0].shape, generator=g) < 0.5
    with torch.no_grad():
        net.weights[0].mul_(net.masks[0])
    before = net.masks[0].clone()
    kw = {"rewire_every": 2, "rewire_fraction": 0.25} if mode == "rewire" else {"resample": True}
    group = Group(net, [("x", e) for e in range(3)], 1e-2, dynamic_layers=(0,), **kw)
    X, y = torch.rand(64, 8) * 3, (torch.rand(64) < 0.5).float()
    settings = LoopSettings(16, 0.0, 0.0, torch.Generator().manual_seed(5), torch.Generator().manual_seed(6))
    train_epochs([group], X, y, 2, settings)
    after = net.masks[0]
    assert not torch.equal(after, before)
    if mode == "rewire":  # budget per model; masked weights exactly zero
        assert after.sum(dim=(1, 2)).tolist() == before.sum(dim=(1, 2)).tolist()
        assert (net.weights[0].detach()[~after] == 0).all()
    else:  # resampling keeps every row's count
        assert torch.equal(after.sum(dim=2), before.sum(dim=2))
