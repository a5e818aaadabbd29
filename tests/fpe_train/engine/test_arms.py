"""The dense arms and the DropConnect control against a plain loop: ``torch.optim.Adam`` on ``nn.functional``
layers, one model at a time, fed the engine's own seed streams (initial weights, batch order, masks).

- ``dense``: the warm-up Adam continues through the split; ``dense_fresh``: a new Adam at the split.
- ``dropconnect`` (Wan et al. 2013): a fresh mask every step, ``(M * W) / q`` while training (q: the row's keep
  fraction), the full ``W`` at test time.
"""

import dataclasses

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from fpe_train.engine import draws
from fpe_train.engine.config import SPLIT_NAMES, TrainConfig
from fpe_train.engine.draws import STREAM_INIT, STREAM_MASK, STREAM_SPLIT, order_key, seed_entropy, trial_rng
from fpe_train.engine.kernel import permutation
from fpe_train.engine.run import run_config
from fpe_train.engine.tasks import load_task
from fpe_train.engine.torch_batch import trial_generator
from fpe_train.fpe.splits import resample

BASE = dict(
    clauses=3,
    k=3,
    r=4,
    alpha=2,
    trials=2,
    warmup_epochs=3,
    epochs=4,
    n_train=400,
    n_test=300,
    batch_size=50,
    lr=1e-2,
    l1=0.0,
    l2=0.0,
    device="cpu",
)


def _accuracy(logit: torch.Tensor, y: torch.Tensor) -> float:
    return float(((logit[:, 0] > 0).float() == y).float().mean())


def plain_loop(c: TrainConfig, trial: int, variant: str) -> tuple[float, float]:
    """(test, train) accuracy of one model of ``variant``, trained step by step with torch.optim.Adam."""
    X_tr, y_tr, X_te, y_te, _, clauses = load_task(c, trial)
    X, y = torch.tensor(X_tr, dtype=torch.float32), torch.tensor(y_tr, dtype=torch.float32)
    Xt, yt = torch.tensor(X_te, dtype=torch.float32), torch.tensor(y_te, dtype=torch.float32)
    ent = seed_entropy(c)
    (W1, W2), (b1, b2) = draws.init_layers([c.m, c.r, 1], trial_rng(c, trial, STREAM_INIT, 0, ent))
    params = [torch.from_numpy(t).clone().requires_grad_() for t in (W1, b1, W2, b2)]
    key, epoch = np.uint64(order_key(c, trial, ent)), [0]

    def train(params, epochs, opt, forward):
        for _ in range(epochs):
            epoch[0] += 1
            perm = np.empty(c.n_train, dtype=np.int64)
            permutation(key, epoch[0], perm)  # the trial's data order of this epoch
            perm = torch.from_numpy(perm)
            for start in range(0, c.n_train, c.batch_size):
                idx = perm[start : start + c.batch_size]
                loss = F.binary_cross_entropy_with_logits(forward(X[idx])[:, 0], y[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()

    def dense(x):
        W1, b1, W2, b2 = params
        return F.linear(torch.relu(F.linear(x, W1, b1)), W2, b2)

    opt = torch.optim.Adam(params, lr=c.lr)
    train(params, c.warmup_epochs, opt, dense)
    if variant in ("dense", "dense_fresh"):
        train(params, c.epochs, opt if variant == "dense" else torch.optim.Adam(params, lr=c.lr), dense)
        with torch.no_grad():
            return _accuracy(dense(Xt), yt), _accuracy(dense(X), y)
    assert variant == "dropconnect"
    sub = SPLIT_NAMES.index("dropconnect")
    with torch.no_grad():
        ws, bs = (
            [params[0].detach().numpy(), params[2].detach().numpy()],
            [params[1].detach().numpy(), params[3].detach().numpy()],
        )
        rng = trial_rng(c, trial, STREAM_SPLIT, sub, ent)
        w, b, (M1, M2) = draws.expand_model(ws, [x.copy() for x in bs], c.alpha, "dropconnect", clauses, rng)
    M1, M2 = torch.from_numpy(M1), torch.from_numpy(M2)
    fpe = [torch.from_numpy(t).clone().requires_grad_() for t in (w[0], b[0], w[1], b[1])]
    q = M1.sum(dim=1, keepdim=True).float() / c.m  # (h, 1) keep fraction of each row
    masks = trial_generator(c, trial, STREAM_MASK, sub, ent)
    state = {"M1": M1}

    def training(x):
        state["M1"] = resample(state["M1"], masks)  # a fresh mask every step
        W1, b1, W2, b2 = fpe
        return F.linear(torch.relu(F.linear(x, W1 * state["M1"] / q, b1)), W2 * M2, b2)

    def expectation(x):
        W1, b1, W2, b2 = fpe
        return F.linear(torch.relu(F.linear(x, W1, b1)), W2 * M2, b2)

    train(fpe, c.epochs, torch.optim.Adam(fpe, lr=c.lr), training)
    with torch.no_grad():
        return _accuracy(expectation(Xt), yt), _accuracy(expectation(X), y)


@pytest.mark.parametrize("variant", ["dense", "dense_fresh", "dropconnect"])
def test_arm_equals_a_plain_loop(variant):
    c = TrainConfig(splits=("dropconnect",), dense_fresh=True, **BASE)
    rows = {(r["trial"], r["variant"]): r for r in run_config(c)}
    for t in range(c.trials):
        test, train = plain_loop(c, t, variant)
        row = rows[(t, variant)]
        assert row["test_accuracy"] == pytest.approx(test, abs=1.5 / c.n_test)
        assert row["train_accuracy"] == pytest.approx(train, abs=1.5 / c.n_train)


def test_dense_fresh_leaves_every_other_row_unchanged():
    """Adding the arm draws no seed of the others: same rows, and it keeps the dense budget."""
    c = TrainConfig(splits=("random", "dropconnect"), **BASE)
    without = run_config(c)
    with_fresh = run_config(dataclasses.replace(c, dense_fresh=True))
    others = [r for r in with_fresh if r["variant"] != "dense_fresh"]
    exact = ("trial", "variant", "nonzero_params", "mask_covered", "mask_collisions")
    assert [{k: r[k] for k in exact} for r in without] == [{k: r[k] for k in exact} for r in others]
    for a, b in zip(without, others, strict=True):  # a batch of other size: the same models up to float rounding
        for k in ("test_accuracy", "train_accuracy", "capacity", "cosine"):
            assert a[k] == pytest.approx(b[k], abs=1e-6), (k, a["variant"])
    fresh = [r for r in with_fresh if r["variant"] == "dense_fresh"]
    dense = [r for r in with_fresh if r["variant"] == "dense"]
    assert len(fresh) == c.trials and all(
        f["nonzero_params"] == d["nonzero_params"] for f, d in zip(fresh, dense, strict=True)
    )
    assert [r["variant"] for r in with_fresh[:5]] == ["dense", "dense_warmup", "dense_fresh", "random", "dropconnect"]


def test_dense_fresh_without_warm_up_is_the_dense_model():
    """With no warm-up the carried Adam state is a fresh one: both dense arms are the same model."""
    c = TrainConfig(splits=("random",), dense_fresh=True, **{**BASE, "warmup_epochs": 0})
    rows = run_config(c)
    for t in range(c.trials):
        a, b = (next(r for r in rows if r["trial"] == t and r["variant"] == v) for v in ("dense", "dense_fresh"))
        assert a["test_accuracy"] == b["test_accuracy"] and a["capacity"] == pytest.approx(b["capacity"], abs=1e-6)
