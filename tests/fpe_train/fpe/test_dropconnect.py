"""``expand(model, alpha, "dropconnect")``: layers that redraw their masks every training step, rescaled by 1/q,
and use the full weight at test time (Wan et al. 2013), against the formula written out step by step."""

import torch
import torch.nn.functional as F
from torch import nn

from fpe_train.fpe.api import count_nonzero, expand
from fpe_train.fpe.masked import DropConnectLinear, MaskedLinear
from fpe_train.fpe.splits import resample


def _net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(12, 4), nn.ReLU(), nn.Linear(4, 2))


def test_expand_dropconnect_resamples_and_rescales_while_training():
    net = _net()
    fpe = expand(net, 2, "dropconnect", seed=3)
    layer = fpe[0]
    assert isinstance(layer, DropConnectLinear) and type(fpe[2]) is MaskedLinear
    assert count_nonzero(fpe) == count_nonzero(net)
    x = torch.randn(5, 12)
    mask = layer.mask.clone()
    shadow = torch.Generator()
    shadow.set_state(layer.generator.get_state())
    counts = mask.sum(dim=1)
    for _ in range(4):  # each training forward: a fresh mask, the row counts kept, W * M / q
        mask = resample(mask, shadow)
        q = counts.clamp_min(1).float()[:, None] / 12
        want = F.linear(x, layer.weight * mask / q, layer.bias)
        assert torch.allclose(layer(x), want, atol=1e-6)
        assert torch.equal(layer.mask, mask) and torch.equal(layer.mask.sum(dim=1), counts)
    fpe.eval()
    assert torch.allclose(fpe[0](x), F.linear(x, layer.weight, layer.bias))  # the expectation: the full weight
    assert torch.equal(fpe[0].mask, mask)  # eval draws nothing


def test_a_training_step_moves_only_the_drawn_weights():
    fpe = expand(_net(), 2, "dropconnect", seed=1)
    before = fpe[0].weight.detach().clone()
    opt = torch.optim.SGD(fpe.parameters(), lr=0.1)
    fpe(torch.randn(8, 12)).sum().backward()
    drawn = fpe[0].mask.clone()
    opt.step()
    moved = fpe[0].weight.detach() != before
    assert not (moved & ~drawn).any() and moved.any()
