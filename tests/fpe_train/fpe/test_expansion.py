"""Algorithm A1 (expand_pair) against a plain-loop reference, known answers, the alternating rule of A.7."""

import doctest

import pytest
import torch

import fpe_train.fpe.api
import fpe_train.fpe.expansion
import fpe_train.fpe.masked
import fpe_train.fpe.rewire
import fpe_train.fpe.splits
from fpe_train.fpe.expansion import expand_mlp, expand_pair, expanded_layers, widen_layernorm
from fpe_train.fpe.splits import split_masks


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def reference_expand_pair(W1, b1, W2, M1, alpha):
    """Algorithm A1 with Python lists and loops: duplicate, mask, duplicate W2 columns, prune jointly."""
    h, n_in = len(W1), len(W1[0])
    n_out = len(W2)
    w1 = [[W1[r // alpha][x] if M1[r][x] else 0.0 for x in range(n_in)] for r in range(alpha * h)]
    m1 = [list(row) for row in M1]
    w2 = [[W2[o][c // alpha] for c in range(alpha * h)] for o in range(n_out)]
    m2 = [[True] * (alpha * h) for _ in range(n_out)]
    active = [(abs(w1[r][x]), 0, r, x) for r in range(alpha * h) for x in range(n_in) if m1[r][x]]
    active += [(abs(w2[o][c]), 1, o, c) for o in range(n_out) for c in range(alpha * h)]
    excess = len(active) - (h * n_in + n_out * h)
    for _, which, a, b in sorted(active)[:excess]:  # ties: W1 before W2, then row-major
        if which == 0:
            w1[a][b], m1[a][b] = 0.0, False
        else:
            w2[a][b], m2[a][b] = 0.0, False
    b1x = None if b1 is None else [b1[r // alpha] for r in range(alpha * h)]
    return w1, b1x, w2, m1, m2


@pytest.mark.parametrize("split, alpha", [("random", 2), ("random", 3), ("overlap", 2), ("structured_2_4", 2)])
def test_expand_pair_matches_plain_loop(split, alpha):
    g = gen(alpha)
    W1, b1, W2 = torch.randn(4, 12, generator=g), torch.randn(4, generator=g), torch.randn(3, 4, generator=g)
    W2[0, 1] = W1[2, 5]  # a tie across the two matrices
    M1 = split_masks(split, W1, alpha, generator=gen(1))
    pair = expand_pair(W1, b1, W2, M1, alpha)
    w1, b1x, w2, m1, m2 = reference_expand_pair(W1.tolist(), b1.tolist(), W2.tolist(), M1.tolist(), alpha)
    assert pair.W1.tolist() == w1 and pair.W2.tolist() == w2
    assert pair.M1.tolist() == m1 and pair.M2.tolist() == m2 and pair.b1.tolist() == b1x
    assert int(pair.M1.sum() + pair.M2.sum()) == 4 * 12 + 3 * 4
    assert (pair.W1[~pair.M1] == 0).all() and (pair.W2[~pair.M2] == 0).all()


def test_expand_pair_known_answer_with_ties():
    W1 = torch.tensor([[0.5, 2.0, 3.0, 4.0]])
    W2 = torch.tensor([[10.0], [0.5]])
    M1 = torch.tensor([[True, True, False, False], [False, False, True, True]])
    pair = expand_pair(W1, torch.tensor([7.0]), W2, M1, 2)
    # budget 4 + 2 = 6, count 4 + 4 = 8: prune two weights of magnitude 0.5; W1's comes first, then W2[1, 0]
    assert pair.M1.tolist() == [[False, True, False, False], [False, False, True, True]]
    assert pair.M2.tolist() == [[True, True], [False, True]]
    assert pair.W1.tolist() == [[0.0, 2.0, 0.0, 0.0], [0.0, 0.0, 3.0, 4.0]]
    assert pair.W2.tolist() == [[10.0, 10.0], [0.0, 0.5]]
    assert pair.b1.tolist() == [7.0, 7.0]


def test_keep_budget_false_keeps_all_of_w2():
    W1, W2 = torch.randn(3, 8, generator=gen()), torch.randn(5, 3, generator=gen(1))
    pair = expand_pair(W1, None, W2, split_masks("random", W1, 4, generator=gen()), 4, keep_budget=False)
    assert pair.M2.all() and int(pair.M1.sum() + pair.M2.sum()) == 3 * 8 + 5 * 3 + (4 - 1) * 3 * 5
    assert pair.b1 is None


def test_expand_pair_refuses_bad_input():
    W1, W2 = torch.randn(2, 4), torch.randn(3, 2)
    with pytest.raises(ValueError, match=r"masks1 ones=0: budget h\*n_in \+ n_out\*h = 14 cannot be met"):
        expand_pair(W1, None, W2, torch.zeros(4, 4, dtype=torch.bool), 2)
    with pytest.raises(ValueError, match=r"W2 shape=\(3, 5\): must be \(n_out, h=2\)"):
        expand_pair(W1, None, torch.randn(3, 5), torch.ones(4, 4, dtype=torch.bool), 2)
    with pytest.raises(ValueError, match=r"masks1 shape=\(2, 4\)"):
        expand_pair(W1, None, W2, torch.ones(2, 4, dtype=torch.bool), 2)
    with pytest.raises(ValueError, match="alpha=1: must be an integer >= 2"):
        expand_pair(W1, None, W2, torch.ones(2, 4, dtype=torch.bool), 1)


@pytest.mark.parametrize("n_layers, expected", [(2, (0,)), (3, (0,)), (4, (0, 2)), (5, (0, 2)), (6, (0, 2, 4))])
def test_alternating_rule_layers(n_layers, expected):
    assert expanded_layers(n_layers) == expected


def test_expand_mlp_deep_alternating_budget_per_pair():
    g = gen(3)
    shapes = [(6, 8), (6, 6), (6, 6), (6, 6), (3, 6)]  # 4 hidden layers + head
    ws = [torch.randn(*s, generator=g) for s in shapes]
    bs = [torch.randn(s[0], generator=g) for s in shapes]
    w, b, m = expand_mlp(ws, bs, 2, "random", generator=gen(4))
    assert [tuple(x.shape) for x in w] == [(12, 8), (6, 12), (12, 6), (6, 12), (3, 6)]
    assert [x is None for x in m] == [False, False, False, False, True]
    for j in (0, 2):
        assert int(m[j].sum() + m[j + 1].sum()) == ws[j].numel() + ws[j + 1].numel()
    assert torch.equal(w[4], ws[4]) and torch.equal(b[4], bs[4])  # head untouched
    assert torch.equal(b[0], bs[0].repeat_interleave(2)) and torch.equal(b[1], bs[1])  # next layer keeps its bias


def _algorithm_a1_by_loops(W1, W2, masks, alpha):
    """Algorithm A1 in plain Python: children copy the parent's row under their mask and its outgoing column,
    then the smallest-magnitude active weights of both layers are pruned to the dense budget h*n_in + n_out*h."""
    h, n_in, n_out = len(W1), len(W1[0]), len(W2)
    w1 = [[W1[i // alpha][j] if masks[i][j] else 0.0 for j in range(n_in)] for i in range(alpha * h)]
    w2 = [[W2[o][i // alpha] for i in range(alpha * h)] for o in range(n_out)]
    active = [(abs(w1[i][j]), 1, i, j) for i in range(alpha * h) for j in range(n_in) if masks[i][j]]
    active += [(abs(w2[o][i]), 2, o, i) for o in range(n_out) for i in range(alpha * h)]
    # ties (copied columns of W2) by position, W1 before W2, row-major, as prune_jointly documents
    for _, layer, a, b in sorted(active)[: len(active) - (h * n_in + n_out * h)]:
        (w1 if layer == 1 else w2)[a][b] = 0.0
    return w1, w2


def test_expand_mlp_equals_algorithm_a1_written_as_loops():
    ws = [torch.randn(4, 8, generator=gen(1)), torch.randn(3, 4, generator=gen(2))]
    w, _, m = expand_mlp(ws, [None, None], 2, "random", generator=gen(11))
    masks = split_masks("random", ws[0], 2, generator=gen(11))  # the same draw: the masks are A1's input
    w1, w2 = _algorithm_a1_by_loops(ws[0].tolist(), ws[1].tolist(), masks.tolist(), 2)
    assert w[0].tolist() == w1 and w[1].tolist() == w2
    assert int(m[0].sum() + m[1].sum()) == 4 * 8 + 3 * 4
    assert torch.equal(m[0], (w[0] != 0)) and torch.equal(m[1], (w[1] != 0))


def test_expand_mlp_clause_on_first_layer_only():
    clauses = [[0, 1], [2, 3], [4, 5], [6, 7]]
    ws = [torch.randn(4, 8), torch.randn(4, 4), torch.randn(4, 4), torch.randn(2, 4)]
    _, _, m = expand_mlp(ws, [None] * 4, 2, "clause", clauses=clauses, generator=gen(), keep_budget=False)
    first = m[0].view(4, 2, 8)
    for c in clauses:  # every clause whole inside one child of every parent
        assert (first[:, :, c].all(-1) | ~first[:, :, c].any(-1)).all()
    assert m[2].view(4, 2, 4).sum(1).eq(1).all()  # deeper layer: a random partition


def test_expand_mlp_refuses_bad_layers():
    ws = [torch.randn(4, 8), torch.randn(4, 4), torch.randn(2, 4)]
    with pytest.raises(ValueError, match="must not be adjacent"):
        expand_mlp(ws, [None] * 3, 2, "random", layers=[0, 1])
    with pytest.raises(ValueError, match="never the head"):
        expand_mlp(ws, [None] * 3, 2, "random", layers=[2])
    with pytest.raises(ValueError, match=r"weights\[1\] shape=\(4, 5\): input must be 4"):
        expand_mlp([ws[0], torch.randn(4, 5)], [None] * 2, 2, "random")


def test_widen_layernorm_duplicates_per_child():
    w, b = widen_layernorm(torch.tensor([1.0, 2.0, 3.0]), torch.tensor([0.1, 0.2, 0.3]), 3)
    assert w.tolist() == [1.0] * 3 + [2.0] * 3 + [3.0] * 3
    assert b.tolist() == pytest.approx([0.1] * 3 + [0.2] * 3 + [0.3] * 3)
    assert widen_layernorm(None, None, 2) == (None, None)


@pytest.mark.parametrize(
    "module",
    [fpe_train.fpe.splits, fpe_train.fpe.expansion, fpe_train.fpe.rewire, fpe_train.fpe.masked, fpe_train.fpe.api],
)
def test_docstring_examples(module):
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0
