"""Given masks: hand-built answers, validation, and numba == numpy == fpe_theory.measure_supports."""

from __future__ import annotations

import numpy as np
import pytest

from fpe_theory.definitions import MaskMeasurement, measure_supports
from simulations import measure_masks


def _masks(rows):
    return np.array([[c == "1" for c in row] for row in rows], bool)


@pytest.mark.parametrize("engine", ["numba", "numpy"])
def test_hand_built_masks(engine):
    # neuron 0 covers clauses 0,1; neuron 1 covers clauses 1,2; neuron 2 covers nothing
    masks = _masks(["111100", "001111", "100001"])
    got = measure_masks(masks, [[0, 1], [2, 3], [4, 5]], engine=engine)
    assert got == MaskMeasurement(True, 3, 2, 2, 2)


@pytest.mark.parametrize("engine", ["numba", "numpy"])
def test_unequal_sizes_and_permuted_literals(engine):
    clauses = [[5], [3, 0, 4], [2, 1]]  # sizes 1, 3, 2; literals out of order
    masks = _masks(["000001", "100110", "111111", "011000"])
    # n0: {5} -> 1 ; n1: {0,3,4} -> clause 1 ; n2: all 3 -> 3 collisions ; n3: {1,2} -> clause 2
    got = measure_masks(masks, clauses, engine=engine)
    assert got == MaskMeasurement(True, 3, 3, 4, 1)
    missing = measure_masks(masks[[0, 3]], clauses, engine=engine)
    assert missing == MaskMeasurement(False, 2, 0, 2, 0)


def test_no_neurons_and_inputs_beyond_the_clauses():
    assert measure_masks(np.zeros((0, 4), bool), [[0, 1]]) == MaskMeasurement(False, 0, 0, 0, 0)
    masks = _masks(["11000000"])  # 8 inputs, clauses use only the first 4
    assert measure_masks(masks, [[0, 1], [2, 3]]) == MaskMeasurement(False, 1, 0, 1, 0)


def test_numba_numpy_and_definitions_agree_on_random_masks():
    rng = np.random.default_rng(0)
    for _ in range(300):
        neurons, inputs = int(rng.integers(1, 7)), int(rng.integers(3, 14))
        masks = rng.random((neurons, inputs)) < rng.random()
        clauses = [
            rng.choice(inputs, size=int(rng.integers(1, 4)), replace=False).tolist()
            for _ in range(int(rng.integers(1, 6)))
        ]
        ref = measure_supports([np.flatnonzero(row).tolist() for row in masks], clauses)
        assert measure_masks(masks, clauses) == ref
        assert measure_masks(masks, clauses, engine="numpy") == ref


@pytest.mark.parametrize(
    "masks,clauses,needle",
    [
        (np.ones((2, 4), np.int64), [[0, 1]], "dtype=int64"),
        (np.ones(4, bool), [[0, 1]], "shape=(4,)"),
        (np.ones((1, 2, 4), bool), [[0, 1]], "shape=(1, 2, 4)"),
        (np.ones((2, 4), bool), [[0, 4]], "clauses[0]=[0, 4]"),
        (np.ones((2, 4), bool), [[0, 1], []], "clauses[1]=[]"),
        (np.ones((2, 4), bool), [[-1, 1]], "clauses[0]=[-1, 1]"),
        (np.ones((2, 4), bool), [[0.5, 1]], "clauses[0]=[0.5, 1]"),
        (np.ones((2, 4), bool), [], "clauses=[]"),
    ],
)
def test_bad_input_is_a_one_line_value_error(masks, clauses, needle):
    with pytest.raises(ValueError) as err:
        measure_masks(masks, clauses)
    assert needle in str(err.value) and "\n" not in str(err.value)


def test_unknown_engine():
    with pytest.raises(ValueError, match="engine='gpu'"):
        measure_masks(np.ones((1, 2), bool), [[0, 1]], engine="gpu")
