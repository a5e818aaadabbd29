"""run_config end to end with tiny budgets: rows, budgets, seeds, the shared warm-up and the fork."""

import numbers

import pytest
import torch

from fpe_train.engine import draws, run  # noqa: F401
from fpe_train.engine.config import SPLIT_NAMES, TrainConfig
from fpe_train.engine.mlp import BatchedMLP
from fpe_train.engine.run import ROW_FIELDS, run_config
from fpe_train.engine.torch_batch import expand_batch


@pytest.fixture(scope="module")
def tiny(tiny_train):
    """The tiny run on the Boolean problem of 4 clauses of 4 literals, 4 neurons, alpha = 2."""
    return dict(clauses=4, k=4, r=4, alpha=2, **tiny_train)


def _plain_types(row):
    return all(v is None or isinstance(v, (bool, numbers.Integral, float, str)) for v in row.values())


@pytest.mark.parametrize("split", SPLIT_NAMES)
def test_end_to_end_per_split(tiny, split):
    rows = run_config(TrainConfig(**tiny, splits=(split,)))
    variants = ["dense", "dense_warmup", split]
    assert [(r["trial"], r["variant"]) for r in rows] == [(t, v) for t in (0, 1) for v in variants]
    for r in rows:
        assert tuple(r) == ROW_FIELDS and _plain_types(r)
        assert 0.0 <= r["test_accuracy"] <= 1.0 and 0.0 <= r["train_accuracy"] <= 1.0
        assert r["nonzero_params"] == 16 * 4 + 4  # dense budget r*m + n_out*r, equal for every variant
        assert r["mask_covered"] is not None and r["device"] == "cpu"
    dense = rows[0]
    assert dense["mask_covered"] == 4 and dense["mask_collisions"] == 4 * 6  # all-True masks: r * C(C, 2)


def test_same_seed_same_rows_and_configs_differing_in_alpha_get_their_own_trials(tiny):
    strip = lambda rows: [{k: v for k, v in r.items() if k != "seconds"} for r in rows]  # noqa: E731
    a = run_config(TrainConfig(**tiny, splits=("random", "dropconnect"), seed=3))
    b = run_config(TrainConfig(**tiny, splits=("random", "dropconnect"), seed=3))
    assert strip(a) == strip(b)
    dense = lambda rows: [r for r in strip(rows) if r["variant"] == "dense"]  # noqa: E731
    c = run_config(TrainConfig(**{**tiny, "alpha": 4}, splits=("random", "dropconnect"), seed=3))
    assert all(x["capacity"] != y["capacity"] for x, y in zip(dense(a), dense(c), strict=True))
    d = run_config(TrainConfig(**tiny, splits=("random",), seed=4))
    assert strip(d) != strip(a)


@pytest.mark.parametrize("split", ["random", "clause", "gram", "structured_2_4"])
def test_fork_children_copy_parent_on_disjoint_masks(split):
    g = torch.Generator().manual_seed(0)
    warm = BatchedMLP.init(2, [16, 3, 1], g)
    clauses = [list(range(4 * j, 4 * j + 4)) for j in range(4)]
    fpe = expand_batch(warm, split, 2, clauses, torch.Generator().manual_seed(1))
    assert fpe.weights[0].shape == (2, 6, 16) and fpe.weights[1].shape == (2, 1, 6)
    M1 = fpe.masks[0].view(2, 3, 2, 16)  # (E, parents, children, inputs)
    assert not (M1[:, :, 0] & M1[:, :, 1]).any()  # children of one parent are disjoint
    missing = 3 * 16 - M1.any(dim=2).sum(dim=(1, 2))  # (E,) inputs a parent lost to pruning
    pruned_w2 = 6 - fpe.masks[1].sum(dim=(1, 2))  # (E,)
    assert ((missing + pruned_w2) == (2 - 1) * 3 * 1).all()  # Delta = (alpha-1) h n_out, nothing else lost
    assert fpe.nonzero_params().tolist() == [3 * 16 + 3] * 2
    W_children = fpe.weights[0].detach().view(2, 3, 2, 16)
    parent = warm.weights[0].detach()[:, :, None, :].expand_as(W_children)
    assert torch.equal(W_children[M1], parent[M1]) and (W_children[~M1] == 0).all()
    assert torch.equal(fpe.biases[0].detach(), warm.biases[0].detach().repeat_interleave(2, dim=1))


def test_dense_continuation_equals_uninterrupted_dense_run(tiny, monkeypatch):
    """The fork changes nothing for the dense models: split at epoch 1 or 3, same dense rows (same streams)."""
    monkeypatch.setattr(draws, "seed_entropy", lambda config: 12345)
    base = {**tiny, "splits": ("random",)}
    a = run_config(TrainConfig(**{**base, "warmup_epochs": 1, "epochs": 3}))
    b = run_config(TrainConfig(**{**base, "warmup_epochs": 3, "epochs": 1}))
    pick = lambda rows: [r[k] for r in rows if r["variant"] == "dense" for k in ("test_accuracy", "capacity")]  # noqa: E731
    assert pick(a) == pytest.approx(pick(b))


def test_depth_rewire_and_vision_task(tiny):
    rows = run_config(TrainConfig(**{**tiny, "depth": 3}, splits=("random",), rewire_every=2, rewire_fraction=0.2))
    assert len({r["nonzero_params"] for r in rows}) == 1
    pytest.importorskip("sklearn")
    rows = run_config(
        TrainConfig(
            task="digits",
            r=4,
            alpha=2,
            splits=("random", "gram"),
            trials=1,
            epochs=1,
            warmup_epochs=1,
            n_train=300,
            n_test=100,
            batch_size=100,
            device="cpu",
        )
    )
    assert [r["variant"] for r in rows] == ["dense", "dense_warmup", "random", "gram"]
    assert all(r["mask_covered"] is None and r["capacity"] is not None for r in rows)
    assert rows[0]["nonzero_params"] == rows[1]["nonzero_params"] == 64 * 4 + 10 * 4


def test_bad_inputs(tiny):
    with pytest.raises(ValueError, match="loss is not finite.*variant=dense, trial=0, epoch=1"):
        run_config(TrainConfig(**{**tiny, "trials": 1}, lr=1e30))
    if not torch.cuda.is_available():  # a GPU machine cannot check this
        with pytest.raises(ValueError, match="device='cuda': no CUDA GPU"):
            run_config(TrainConfig(**{**tiny, "device": "cuda"}))
    with pytest.raises(ValueError, match="unknown TrainConfig field"):
        TrainConfig.from_dict({"neuronz": 3})
    with pytest.raises(ValueError, match="split='clause' with task='digits'"):
        TrainConfig(task="digits", splits=("clause",))


def test_record_warmup_rows_equal_a_dense_only_run_of_warmup_epochs(tiny, monkeypatch):
    """dense_warmup rows are the dense models at the split: a run with epochs=0 gives the same numbers."""
    monkeypatch.setattr(draws, "seed_entropy", lambda config: 12345)
    a = run_config(TrainConfig(**{**tiny, "warmup_epochs": 2, "epochs": 2}, splits=("random",), record_warmup=True))
    assert [r["variant"] for r in a] == ["dense", "dense_warmup", "random"] * 2
    b = run_config(TrainConfig(**{**tiny, "warmup_epochs": 2, "epochs": 0}, splits=("random",)))
    key = lambda rows, v: [(r["test_accuracy"], r["train_accuracy"]) for r in rows if r["variant"] == v]  # noqa: E731
    assert key(a, "dense_warmup") == key(b, "dense")


def test_training_curves_share_the_warmup_and_end_at_the_final_accuracy():
    base = dict(
        clauses=3,
        k=2,
        r=2,
        splits=("random", "clause"),
        trials=2,
        warmup_epochs=4,
        epochs=4,
        n_train=64,
        n_test=32,
        batch_size=32,
        device="cpu",
    )
    plain = run_config(TrainConfig(**base))
    curved = run_config(TrainConfig(**base, curve_every=2))
    assert all(r["test_curve"] is None for r in plain)
    curved = [r for r in curved if r["variant"] != "dense_warmup"]
    plain = [r for r in plain if r["variant"] != "dense_warmup"]
    strip = lambda rows: [{k: v for k, v in r.items() if k not in ("seconds", "test_curve")} for r in rows]  # noqa: E731
    assert strip(plain) == strip(curved)  # recording curves changes no training
    dense = {r["trial"]: r["test_curve"] for r in curved if r["variant"] == "dense"}
    for r in curved:
        assert len(r["test_curve"]) == (4 + 4) // 2
        assert r["test_curve"][-1] == r["test_accuracy"]  # the last point is the final evaluation
        assert r["test_curve"][:2] == dense[r["trial"]][:2]  # before the split every variant is its dense model
