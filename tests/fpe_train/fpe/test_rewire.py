"""Dynamic rewiring: conservation on hand-built masks, regrown weights and optimizer state at zero."""

import pytest
import torch

from fpe_train.fpe.masked import MaskedLinear
from fpe_train.fpe.rewire import Rewirer, rewire_


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def test_known_answer_prunes_smallest_and_regrows_elsewhere():
    for seed in range(20):
        w = torch.nn.Parameter(torch.tensor([[5.0, -1.0, 3.0, 0.0, 0.0, 0.0]]))
        m = torch.tensor([[True, True, True, False, False, False]])
        n = rewire_(w, m, None, 1 / 3, gen(seed))
        assert int(n) == 1 and int(m.sum()) == 3
        assert m[0, :3].tolist() == [True, False, True]  # |-1| pruned
        assert int(m[0, 3:].sum()) == 1  # one regrown among the previously inactive 3..5
        assert w.tolist()[0][:3] == [5.0, 0.0, 3.0] and (w[0, 3:] == 0).all()


def test_ties_prune_lowest_position_first():
    w = torch.nn.Parameter(torch.tensor([[2.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0]]))
    m = torch.tensor([[True] * 4 + [False] * 4])
    rewire_(w, m, None, 0.5, gen())
    assert m[0, :4].tolist() == [True, False, False, True]


def test_conservation_per_leading_index_and_not_the_just_pruned():
    g = gen(1)
    w = torch.nn.Parameter(torch.randn(3, 5, 8, generator=g))  # (E, out, in)
    m = torch.rand(3, 5, 8, generator=g) < torch.tensor([0.2, 0.5, 0.8])[:, None, None]
    with torch.no_grad():
        w.mul_(m)
    before_m, before_w = m.clone(), w.detach().clone()
    n = rewire_(w, m, None, 0.3, gen(2))
    active = before_m.sum((1, 2)).tolist()
    expected = [min(round(0.3 * a), 40 - a) for a in active]  # Python's round, capped by inactive count
    assert n.tolist() == expected
    assert m.sum((1, 2)).tolist() == active  # budget per model unchanged
    pruned, grown = before_m & ~m, ~before_m & m
    assert pruned.sum((1, 2)).tolist() == expected == grown.sum((1, 2)).tolist()
    for e in range(3):  # pruned = the n smallest active magnitudes (plain sort)
        mags = sorted(before_w[e][before_m[e]].abs().tolist())
        assert max(before_w[e][pruned[e]].abs().tolist(), default=0) <= mags[expected[e]]
    assert (w[~m] == 0).all() and (w[grown] == 0).all()
    assert torch.equal(w[m & before_m], before_w[m & before_m])


def test_full_mask_and_zero_fraction_change_nothing():
    w = torch.nn.Parameter(torch.randn(2, 3))
    m = torch.ones(2, 3, dtype=torch.bool)
    assert int(rewire_(w, m, None, 0.5, gen())) == 0 and m.all()
    m2 = torch.eye(3, dtype=torch.bool)
    assert int(rewire_(torch.nn.Parameter(torch.randn(3, 3)), m2, None, 0.0, gen())) == 0
    assert torch.equal(m2, torch.eye(3, dtype=torch.bool))


@pytest.mark.parametrize(
    "make",
    [
        lambda p: torch.optim.Adam(p, lr=0.1),
        lambda p: torch.optim.AdamW(p, lr=0.1, weight_decay=0.1, amsgrad=True),
        lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, weight_decay=0.01),
    ],
)
def test_rewired_positions_start_at_zero_with_zero_state(make):
    g = gen(3)
    layer = MaskedLinear(10, 6, mask=torch.rand(6, 10, generator=g) < 0.4)
    opt = make(layer.parameters())
    x, y = torch.randn(32, 10, generator=g), torch.randn(32, 6, generator=g)
    for _ in range(3):
        opt.zero_grad()
        torch.nn.functional.mse_loss(layer(x), y).backward()
        opt.step()
    before = layer.mask.clone()
    rewire_(layer.weight, layer.mask, opt, 0.25, gen(4))
    changed = before ^ layer.mask
    assert changed.any()
    state = [v for v in opt.state[layer.weight].values() if torch.is_tensor(v) and v.shape == layer.weight.shape]
    assert state and all((v[changed | ~layer.mask] == 0).all() for v in state)
    assert (layer.weight[~before & layer.mask] == 0).all()
    assert int(layer.mask.sum()) == int(before.sum())


def test_rewirer_every_t_steps_all_masked_layers():
    net = torch.nn.Sequential(
        MaskedLinear(8, 6, mask=torch.rand(6, 8, generator=gen(5)) < 0.5),
        torch.nn.ReLU(),
        MaskedLinear(6, 2, mask=torch.rand(2, 6, generator=gen(6)) < 0.5),
    )
    for layer in (net[0], net[2]):
        with torch.no_grad():
            layer.weight.copy_(torch.randn(layer.weight.shape, generator=gen(7)) * layer.mask)
    masks = [net[0].mask.clone(), net[2].mask.clone()]
    r = Rewirer(net, every=3, fraction=0.5, seed=1)
    assert [r.step() for _ in range(3)] == [False, False, True]
    assert not torch.equal(net[0].mask, masks[0]) and not torch.equal(net[2].mask, masks[1])
    assert int(net[0].mask.sum()) == int(masks[0].sum()) and int(net[2].mask.sum()) == int(masks[1].sum())
    assert [r.step() for _ in range(3)] == [False, False, True] and r.steps == 6


def test_same_seed_same_rewiring():
    def run(seed):
        w = torch.nn.Parameter(torch.randn(4, 9, generator=gen(0)))
        m = torch.rand(4, 9, generator=gen(1)) < 0.5
        rewire_(w, m, None, 0.5, gen(seed))
        return m

    assert torch.equal(run(3), run(3)) and not torch.equal(run(3), run(4))


def test_bad_input():
    w = torch.nn.Parameter(torch.randn(2, 3))
    with pytest.raises(ValueError, match=r"fraction=1.5: must be in \[0, 1\]"):
        rewire_(w, torch.ones(2, 3, dtype=torch.bool), None, 1.5)
    with pytest.raises(ValueError, match="must be bool"):
        rewire_(w, torch.ones(2, 3), None, 0.5)
    with pytest.raises(ValueError, match="every=0: must be an integer >= 1"):
        Rewirer(torch.nn.Sequential(MaskedLinear(2, 2)), every=0, fraction=0.1)
    with pytest.raises(ValueError, match="has no MaskedLinear layer"):
        Rewirer(torch.nn.Linear(2, 2), every=1, fraction=0.1)
