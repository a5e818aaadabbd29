"""Whatever a user types: exit 2, one ``Error:`` line naming the parameter, no traceback, within seconds,
and no store created when a sweep is refused.

Dataset files (truncated, corrupt, one class, ...) are in tests/fpe_train/engine/test_datasets_validation.py,
the theory's bounded time in tests/fpe_theory/test_theory_bounded.py and the Monte Carlo's in
tests/simulations/test_sim_bounded.py.
"""

import dataclasses
import math

import pytest
from helpers import assert_one_line_error

from fpe_train.engine.config import TrainConfig
from fpe_train.engine.summary import format_table, summarize

# ---------------------------------------------------------------- 1. bounded time: a sweep plans nothing huge


def test_sweep_trials_1e12_refused_before_the_store(invoke, tiny_sweep_file, tmp_path):
    store = tmp_path / "r.db"
    args = ["sweep", "run", tiny_sweep_file(), "--store", store, "--executor", "serial", "--set", "trials=1e12"]
    assert_one_line_error(invoke(*args), "trials=1000000000000", "<= 100000")
    assert not store.exists()


def test_sweep_total_trials_refused_before_the_store(invoke, tiny_sweep_file, tmp_path):
    p = tiny_sweep_file(file="many.toml", r=None, grid={"r": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]})
    store = tmp_path / "r.db"
    args = ["sweep", "run", p, "--store", store, "--executor", "serial", "--set", "trials=100000"]
    assert_one_line_error(invoke(*args), "trials: 11 configs hold 1100000 trials", "1000000")
    assert not store.exists()


def test_grid_too_large_refused(invoke, tmp_path):
    p = tmp_path / "big.toml"
    axes = "\n".join(
        f"{name} = [{', '.join(str(v) for v in values)}]"
        for name, values in [("r", range(1, 101)), ("seed", range(100)), ("trials", range(1, 12))]
    )
    p.write_text('[base]\ntask = "boolean"\nsplits = ["random"]\n[grid]\n' + axes + "\n")
    store = tmp_path / "r.db"
    line = assert_one_line_error(
        invoke("sweep", "run", p, "--store", store, "--executor", "serial"), "110000 configs", "100000"
    )
    assert "grid" in line and not store.exists()


# ---------------------------------------------------------------- 2. huge sizes refused before allocating


@pytest.mark.parametrize(
    "flag, name",
    [("--trials", "trials"), ("--n-train", "n_train"), ("--neurons", "r"), ("--n-test", "n_test")],
)
def test_train_huge_sizes_refused(invoke, flag, name):
    assert_one_line_error(invoke("train", flag, 10**12, "--epochs", 1, "--warmup-epochs", 1), f"{name}=1000000000000")


def test_memory_estimate_refused_naming_sizes(invoke):
    line = assert_one_line_error(
        invoke("train", "--neurons", 2**19, "--clauses", 2**12, "--epochs", 1, "--warmup-epochs", 1), "GiB"
    )
    assert "r=524288" in line and "the limit is 256 GiB" in line


def test_memory_estimate_is_what_the_shapes_say():
    """bytes = 4 datasets (n_train + n_test) m + models (20 weights + 4 B h depth): checked by hand for one config
    (one dataset per trial by default, one in all with data_per_trial=False)."""
    c = TrainConfig(clauses=8, k=4, r=8, alpha=2, splits=("random",), trials=3, n_train=100, n_test=50, batch_size=10)
    m, h = 32, 16
    weights = h * m + h * 2 + 8 * m  # expanded first layer, head (2 classes), dense first layer
    models = 3 * 2
    assert c.cost_estimate[0] == 4 * 3 * 150 * m + models * (20 * weights + 4 * 10 * h)
    one = dataclasses.replace(c, data_per_trial=False)
    assert one.cost_estimate[0] == 4 * 150 * m + models * (20 * weights + 4 * 10 * h)


# ---------------------------------------------------------------- 3. 0 % dense accuracy


def rows(dense_acc, fpe_acc):
    base = {
        "nonzero_params": 10,
        "train_accuracy": 0.5,
        "capacity": 1.0,
        "cosine": 0.1,
        "abs_cosine": 0.1,
        "mask_covered": None,
        "learned_covered": None,
        "mask_all_covered": None,
        "learned_all_covered": None,
        "mask_collisions": None,
        "learned_collisions": None,
    }
    out = []
    for t, (d, f) in enumerate(zip(dense_acc, fpe_acc, strict=True)):
        out += [
            {**base, "trial": t, "variant": "dense", "test_accuracy": d},
            {**base, "trial": t, "variant": "random", "test_accuracy": f},
        ]
    return out


def test_zero_dense_accuracy_is_undefined_never_divided():
    s = summarize(rows([0.0, 0.0], [0.25, 0.5]), ["dense", "random"])
    assert s["random"]["relative_improvement"]["mean"] is None
    assert s["random"]["relative_improvement_undefined"] == 2
    assert "undefined (dense 0 %)" in format_table(s)


def test_partly_zero_dense_accuracy_uses_the_defined_trials():
    s = summarize(rows([0.0, 0.5, 0.25], [0.25, 0.75, 0.5]), ["dense", "random"])
    ri = s["random"]["relative_improvement"]
    assert ri["mean"] == pytest.approx((0.75 / 0.5 + 0.5 / 0.25) / 2) and ri["values"][0] is None
    assert s["random"]["relative_improvement_undefined"] == 1 and "(1 undefined: dense 0 %)" in format_table(s)


# ---------------------------------------------------------------- 5. --set and config values


@pytest.mark.parametrize(
    "setting, names",
    [
        ("lr=true", ["lr=True", "must be a number"]),
        ("lr=abc", ["lr='abc'", "must be a number"]),
        ("lr=nan", ["lr=nan", "finite"]),
        ("l1=inf", ["l1=inf", "finite"]),
        ("splits=5", ["splits=5"]),
        ("data_path=5", ["data_path='5'", "task='boolean'"]),
        ("alpha=8", ["alpha=8", "m=4"]),
        ("record_warmup=1", ["record_warmup=1", "true or false"]),
        ("seed=true", ["seed=True"]),
        ("trials=2.5", ["trials=2.5", "integer"]),
        ("device=5", ["device=5", "string"]),
    ],
)
def test_set_values_refused_naming_the_field(invoke, tiny_sweep_file, tmp_path, setting, names):
    store = tmp_path / "r.db"
    assert_one_line_error(
        invoke("sweep", "run", tiny_sweep_file(), "--store", store, "--executor", "serial", "--set", setting), *names
    )
    assert not store.exists()


def test_data_path_taken_as_written(invoke, tiny_sweep_file, tmp_path):
    args = [
        "sweep",
        "run",
        tiny_sweep_file(),
        "--store",
        tmp_path / "r.db",
        "--set",
        "task=embeddings",
        "--set",
        "data_path=5",
    ]
    assert_one_line_error(invoke(*args), "data_path='5'", "no such file")


def test_size_on_a_file_without_sizes_refused(invoke, tiny_sweep_file, tmp_path):
    store = tmp_path / "r.db"
    assert_one_line_error(
        invoke("sweep", "run", tiny_sweep_file(), "--store", store, "--size", "paepr"), "size='paepr'", "no [sizes]"
    )
    assert not store.exists()


@pytest.mark.parametrize(
    "field, value",
    [("lr", True), ("r", True), ("lr", math.inf), ("tau", math.nan), ("data_path", 5), ("task", 3), ("splits", [1])],
)
def test_config_fields_are_type_checked(field, value):
    with pytest.raises(ValueError, match=f"^{field}="):
        TrainConfig(**{field: value, **({} if field == "splits" else {"splits": ("random",)})})


# ---------------------------------------------------------------- 14. minor


def test_empty_split_list_refused(invoke):
    assert_one_line_error(invoke("train", "--split", "", "--epochs", 1, "--warmup-epochs", 1), "split")
    with pytest.raises(ValueError, match=r"^splits=\(\): name at least one split"):
        TrainConfig(splits=())


def test_serial_with_workers_refused(invoke, tiny_sweep_file, tmp_path):
    store = tmp_path / "r.db"
    assert_one_line_error(
        invoke("sweep", "run", tiny_sweep_file(), "--store", store, "--executor", "serial", "--workers", 4),
        "workers=4",
        alone=False,
    )
    assert not store.exists()
