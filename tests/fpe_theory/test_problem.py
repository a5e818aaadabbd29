"""Problem, argument checks and the cover/collision definitions."""

import itertools

import pytest

from fpe_theory import Problem, covers, measure_supports
from fpe_theory.validate import check_int, check_open_unit


def test_problem_derived_values():
    p = Problem(m=128, k=4, alpha=4)
    assert (p.clauses, p.d) == (32, 32)
    assert p.clause_list()[1] == (4, 5, 6, 7)


def test_problem_permutation_reorders_clauses():
    perm = (3, 0, 2, 1)
    p = Problem(m=4, k=2, alpha=2, permutation=perm)
    assert p.clause_list() == [(3, 0), (2, 1)]


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"m": 10, "k": 4, "alpha": 2}, "k=4: must divide m=10"),
        ({"m": 12, "k": 4, "alpha": 5}, "alpha=5: must divide m=12"),
        ({"m": 12, "k": 4, "alpha": 1}, "alpha=1: must be an integer >= 2"),
        ({"m": 12, "k": 0, "alpha": 2}, "k=0: must be an integer >= 1"),
        ({"m": 12.5, "k": 4, "alpha": 2}, "m=12.5: must be an integer"),
        ({"m": 4, "k": 2, "alpha": 2, "permutation": (0, 0, 1, 2)}, "permutation="),
    ],
)
def test_problem_rejects_bad_input_with_one_line(kwargs, fragment):
    with pytest.raises(ValueError) as info:
        Problem(**kwargs)
    assert fragment in str(info.value)
    assert "\n" not in str(info.value)


def test_checks():
    assert check_int("r", 3.0) == 3
    with pytest.raises(ValueError, match="r=True: must be an integer"):
        check_int("r", True)
    assert check_open_unit("eps", "0.5") == 0.5
    for bad in (0, 1, -0.1, float("nan"), "x"):
        with pytest.raises(ValueError, match="eps="):
            check_open_unit("eps", bad)


def _brute_collisions(supports, clauses):
    # independent reference: count (neuron, pair) with both clauses inside the support
    return sum(
        1 for s in supports for a, b in itertools.combinations(clauses, 2) if set(a) <= set(s) and set(b) <= set(s)
    )


def test_measure_supports_hand_built():
    clauses = [(0, 1), (2, 3), (4, 5)]
    supports = [range(6), (0, 1, 2), (2, 3, 4, 5), ()]
    got = measure_supports(supports, clauses)
    assert got.all_covered and got.covered == 3
    assert got.collisions == 3 + 0 + 1 == _brute_collisions([list(s) for s in supports], clauses)
    assert (got.neurons_cover_ge1, got.neurons_cover_ge2) == (3, 2)
    assert covers((5, 4), (4, 5)) and not covers((4,), (4, 5))
