"""Split strategies: partitions are disjoint and covering, controls have the right sizes, bad input refused."""

import pytest
import torch

from fpe_train.fpe.splits import PARTITION_SPLITS, SPLITS, gram_clusters, resample, split_masks

CLAUSES = [list(range(4 * j, 4 * j + 4)) for j in range(4)]  # 16 inputs, C = 4, k = 4


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def children(masks, alpha):
    """Plain-list view: per parent, per child, the set of inputs kept."""
    rows = masks.tolist()
    return [
        [{x for x, on in enumerate(rows[i * alpha + c]) if on} for c in range(alpha)] for i in range(len(rows) // alpha)
    ]


@pytest.mark.parametrize(
    "name, alpha", [(n, a) for n in PARTITION_SPLITS for a in (2, 4) if not (n == "structured_2_4" and a == 4)]
)
def test_partition_children_disjoint_and_covering(name, alpha):
    w = torch.randn(5, 16, generator=gen(1))
    masks = split_masks(name, w, alpha, clauses=CLAUSES, generator=gen(2))
    assert masks.shape == (5 * alpha, 16) and masks.dtype == torch.bool
    for parent in children(masks, alpha):
        union = set().union(*parent)
        assert union == set(range(16))
        assert sum(len(s) for s in parent) == 16  # disjoint: sizes add up to the union's
        assert all(parent_child for parent_child in parent)  # no empty child


def test_random_blocks_balanced_and_fair():
    masks = split_masks("random", torch.zeros(300, 10), 3, generator=gen(0))
    for parent in children(masks, 3):
        assert sorted(len(s) for s in parent) == [3, 3, 4]
    # each input lands in each child with probability 1/3 (binomial, 300 parents): within 5 sigma
    freq = masks.view(300, 3, 10).float().mean(0)  # (alpha, n_in)
    sigma = (1 / 3 * 2 / 3 / 300) ** 0.5
    assert ((freq - 1 / 3).abs() < 5 * sigma).all()


def test_clause_split_keeps_clauses_whole_and_balanced():
    masks = split_masks("clause", torch.zeros(20, 16), 2, clauses=CLAUSES, generator=gen(0))
    patterns = set()
    for parent in children(masks, 2):
        per_child = [sum(set(c) <= s for c in CLAUSES) for s in parent]
        assert per_child == [2, 2]  # every clause whole in one child, 4 clauses dealt 2/2
        patterns.add(frozenset(frozenset(s) for s in parent))
    assert len(patterns) > 1  # dealt at random: parents differ


def test_clause_split_deals_free_inputs_and_unequal_clauses():
    clauses = [[0, 1, 2], [3, 4], [5]]  # inputs 6, 7 in no clause
    masks = split_masks("clause", torch.zeros(10, 8), 2, clauses=clauses, generator=gen(3))
    for parent in children(masks, 2):
        assert sorted(len(s) for s in parent) == [4, 4]  # greedy largest-first into the emptiest child
        assert all(any(set(c) <= s for s in parent) for c in clauses)


def test_gram_split_recovers_planted_groups():
    g = gen(5)
    a, b = torch.randn(6, generator=g), torch.randn(6, generator=g)
    b = b - (a @ b) / (a @ a) * a  # orthogonal to a
    w = torch.cat([a[:, None].repeat(1, 4), b[:, None].repeat(1, 4)], 1)  # (6, 8): two planted groups
    w = w + 0.01 * torch.randn(6, 8, generator=g)
    assert sorted(map(sorted, gram_clusters(w, 2))) == [[0, 1, 2, 3], [4, 5, 6, 7]]
    masks = split_masks("gram", w, 2, generator=gen(0), n_clusters=2)
    for parent in children(masks, 2):
        assert sorted(map(sorted, parent)) == [[0, 1, 2, 3], [4, 5, 6, 7]]


def test_gram_split_with_one_cluster_leaves_no_child_empty():
    w = torch.ones(3, 8)  # identical columns: one cluster, halved until alpha groups
    masks = split_masks("gram", w, 4, generator=gen(0))
    for parent in children(masks, 4):
        assert sorted(len(s) for s in parent) == [2, 2, 2, 2] and set().union(*parent) == set(range(8))


def test_structured_2_4_every_group_split_2_2():
    masks = split_masks("structured_2_4", torch.zeros(7, 12), 2, generator=gen(0))
    for c0, c1 in children(masks, 2):
        for group in range(3):
            quad = set(range(4 * group, 4 * group + 4))
            assert len(c0 & quad) == 2 and len(c1 & quad) == 2


def test_overlap_sizes_and_overlaps():
    masks = split_masks("overlap", torch.zeros(50, 10), 2, generator=gen(0))
    assert masks.sum(1).tolist() == [5] * 100
    assert int(masks.sum()) == 50 * 10  # same number of ones as a partition
    assert any(c0 & c1 for c0, c1 in children(masks, 2))  # not a partition
    assert any(c0 | c1 != set(range(10)) for c0, c1 in children(masks, 2))  # inputs left uncovered


def test_dropconnect_first_draw_and_resample():
    masks = split_masks("dropconnect", torch.zeros(4, 10), 2, generator=gen(0))
    assert masks.sum(1).tolist() == [5] * 8
    batch = torch.stack([masks, masks[:, :10] & (torch.arange(10) < 3)])  # (E=2, 8, 10), unequal row counts
    new = resample(batch, gen(1))
    assert new.shape == batch.shape and new.dtype == torch.bool
    assert torch.equal(new.sum(-1), batch.sum(-1))
    assert not torch.equal(new, batch)
    assert torch.equal(new, resample(batch, gen(1)))


@pytest.mark.parametrize("name", list(SPLITS))
def test_same_seed_same_masks(name):
    w = torch.randn(4, 16, generator=gen(9))
    first = split_masks(name, w, 2, clauses=CLAUSES, generator=gen(7))
    assert torch.equal(first, split_masks(name, w, 2, clauses=CLAUSES, generator=gen(7)))
    if name != "gram":  # gram with many equal clusters may coincide; random splits must differ
        assert not torch.equal(first, split_masks(name, w, 2, clauses=CLAUSES, generator=gen(8)))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(name="nope", alpha=2), "split='nope': unknown split; valid names: random, clause"),
        (dict(name="random", alpha=1), "alpha=1: must be an integer >= 2"),
        (dict(name="structured_2_4", alpha=4), "alpha=4: structured_2_4 needs alpha=2"),
        (dict(name="clause", alpha=2), "clauses=None: the clause split needs a clause list"),
        (dict(name="random", alpha=20), "alpha=20: must be <= n_in=16"),
    ],
)
def test_bad_input_one_line_value_error(kwargs, message):
    with pytest.raises(ValueError) as err:
        split_masks(kwargs["name"], torch.zeros(2, 16), kwargs["alpha"], generator=gen())
    assert str(err.value).startswith(message) and "\n" not in str(err.value)


def test_registry_lookup_of_unknown_name_is_value_error():
    assert SPLITS["random"] is not None
    with pytest.raises(ValueError, match="split='nope': unknown split; valid names: random, clause, gram"):
        SPLITS["nope"]


def test_bad_clauses_and_inputs():
    with pytest.raises(ValueError, match="n_in=6: structured_2_4 needs a multiple of 4"):
        split_masks("structured_2_4", torch.zeros(2, 6), 2)
    with pytest.raises(ValueError, match="must be disjoint"):
        split_masks("clause", torch.zeros(2, 8), 2, clauses=[[0, 1], [1, 2]])
    with pytest.raises(ValueError, match=r"literals must lie in 0\.\.7"):
        split_masks("clause", torch.zeros(2, 8), 2, clauses=[[0, 9]])
    with pytest.raises(ValueError, match="clauses: 1 groups of inputs cannot fill alpha=2 children whole"):
        split_masks("clause", torch.zeros(2, 4), 2, clauses=[[0, 1, 2, 3]])
    with pytest.raises(ValueError, match=r"options=\['n_clusters'\]: only the gram split takes options"):
        split_masks("random", torch.zeros(2, 4), 2, n_clusters=2)
    with pytest.raises(ValueError, match=r"weight shape=\(8,\): must be 2-D"):
        split_masks("random", torch.zeros(8), 2)


@pytest.mark.parametrize("split, family", [("random", "random"), ("overlap", "overlap")])
def test_random_masks_agree_with_exact_theory(split, family):
    """Our torch splits are the theory's mask families: mean coverage/collisions match fpe_theory.exact."""
    from fpe_theory import Problem
    from fpe_theory.exact import family_exact

    trials, r, alpha, m, k = 3000, 3, 2, 8, 2  # expected collisions ~0.5 per trial: a sharp check
    clauses = [list(range(k * j, k * j + k)) for j in range(m // k)]
    masks = split_masks(split, torch.zeros(trials * r, m), alpha, generator=gen(12)).view(trials, r * alpha, m)
    cover = torch.stack([masks[:, :, c].all(-1) for c in clauses], dim=-1)  # (trials, children, clauses)
    per_child = cover.sum(-1)  # (trials, children)
    covered = cover.any(1).sum(-1).double()  # (trials,)
    collisions = (per_child * (per_child - 1) // 2).sum(-1).double()  # (trials,)
    exact = family_exact(Problem(m, k, alpha), family, r)
    assert float(exact.expected_collisions) > 0.3
    for sample, expected in ((covered, exact.expected_covered), (collisions, exact.expected_collisions)):
        stderr = sample.std().item() / trials**0.5
        assert abs(sample.mean().item() - float(expected)) < 5 * stderr
