"""The compiled CPU kernel against a plain per-model numpy loop and against the torch path; per-trial data;
the on-disk compile cache; a Boolean CPU sweep without torch."""

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fpe_train.engine import cpu, draws, kernel
from fpe_train.engine.config import TrainConfig
from fpe_train.engine.run import run_batch, run_config
from fpe_train.engine.tasks import load_datasets, load_task

ROOT = Path(__file__).parents[3]
LR, L1, L2, BATCH = 1e-2, 1e-3, 1e-3, 32  # large enough that the penalties matter
SCHEDULE = dict(k=4, epochs=4, warmup_epochs=4, n_train=300, n_test=200, batch_size=100, device="cpu")


def _plain(W1, b1, W2, b2, M1, X, y, keys_epochs, lr, l1, l2):
    """One model, A3 written plainly in float64: BCE / CE, Adam (torch's formulas), masks applied to W1."""
    p = [W1.astype(np.float64), b1.astype(np.float64), W2.astype(np.float64), b2.astype(np.float64)]
    masks = [M1.astype(np.float64), 1.0, 1.0, 1.0]
    m, v, t = [np.zeros_like(x) for x in p], [np.zeros_like(x) for x in p], 0
    for key, epoch in keys_epochs:
        order = np.empty(len(X), dtype=np.int64)
        kernel.permutation(np.uint64(key), epoch, order)
        for start in range(0, len(X), BATCH):
            idx = order[start : start + BATCH]
            xb, yb = X[idx].astype(np.float64), y[idx]
            z = xb @ p[0].T + p[1]
            a = np.maximum(z, 0)
            out = a @ p[2].T + p[3]
            if out.shape[1] == 1:
                d = (1 / (1 + np.exp(-out[:, 0])) - yb)[:, None] / len(idx)
            else:
                e = np.exp(out - out.max(axis=1, keepdims=True))
                d = e / e.sum(axis=1, keepdims=True)
                d[np.arange(len(idx)), yb.astype(int)] -= 1
                d /= len(idx)
            dz = (d @ p[2]) * (z > 0)
            grads = [dz.T @ xb, dz.sum(0), d.T @ a, d.sum(0)]
            t += 1
            for j in range(4):
                g = (grads[j] + 2 * l2 * p[j] + (l1 * np.sign(p[j]) if j == 0 else 0)) * masks[j]
                m[j] = 0.9 * m[j] + 0.1 * g
                v[j] = 0.999 * v[j] + 0.001 * g * g
                p[j] = p[j] - lr / (1 - 0.9**t) * m[j] / (np.sqrt(v[j]) / np.sqrt(1 - 0.999**t) + 1e-8)
    return p, m


@pytest.mark.parametrize(
    ("n_out", "ni", "widths"),
    [(1, 6, (5, 9)), (3, 6, (5, 9)), (1, 20, (6, 7)), (1, 3, (5, 4)), (1, 80, (70, 90))],
)
def test_kernel_equals_a_plain_loop_per_model(n_out, ni, widths):
    """A ragged batch (two widths, two trials, a dense and a masked model, a short last minibatch) against plain
    loops; inputs fewer than, not a multiple of, and a multiple of the 16 of a transposed tile; the masked model
    and masked models at 80 inputs have more weights than the hand-written products take (BLAS); an odd
    number of hidden units and fewer than four inputs (the dense products' remainders)."""
    rng = np.random.default_rng(0)
    n = 100  # 3 full minibatches of 32 and one of 4
    X = rng.random((n, ni), dtype=np.float32) * 3
    y = rng.integers(0, max(n_out, 2), n).astype(np.float32)
    blocks = []
    for h, masked in zip(widths, (False, True), strict=True):
        (W1, W2), (b1, b2) = draws.init_layers([ni, h, n_out], rng)
        M1 = rng.random(W1.shape) < 0.5 if masked else np.ones(W1.shape, bool)
        blocks.append((W1 * M1, b1, W2, b2, M1, np.ones(W2.shape, bool)))
    if ni == 80:  # both models above the hand-written products' limits: BLAS
        assert blocks[0][4].sum() > kernel.HAND_MAX_DENSE and blocks[1][4].sum() > kernel.HAND_MAX_MASKED
    configs = [TrainConfig(lr=LR, l1=L1, l2=L2), TrainConfig(lr=LR / 2, l1=L1, l2=L2)]
    models = cpu._Models(blocks, [0, 1], [0, 0], configs)
    keys = np.array([5, 6], dtype=np.uint64)
    data = cpu._Data(
        X.ravel(), np.zeros(1, np.int64), y, X.ravel(), np.zeros(1, np.int64), y, n, n, n_out, [0, 0], [ni, ni]
    )
    trainer = cpu._Trainer(models, data, keys, BATCH, None, kernel)
    trainer.epochs(1, 3, lambda epoch: None)
    hits = cpu.accuracy(models, data.X_test, data.xt_off, data.y_test, n, kernel)
    for e, (W1, b1, W2, b2, M1, _) in enumerate(blocks):
        want, moments = _plain(W1, b1, W2, b2, M1, X, y, [(keys[e], ep) for ep in (1, 2, 3)], configs[e].lr, L1, L2)
        got = models.block(e)
        for a, b in zip(got, want, strict=True):
            np.testing.assert_allclose(a, b, atol=2e-5, rtol=1e-4)
        o = models.p_off[e]
        np.testing.assert_allclose(models.A1[o : o + W1.size].reshape(W1.shape), moments[0], atol=1e-6, rtol=1e-4)
        assert (got[0][~M1] == 0).all() and (models.A1[o : o + W1.size][~M1.ravel()] == 0).all()  # exactly 0
        assert (models.A2[o : o + W1.size][~M1.ravel()] == 0).all()
        out = np.maximum(X @ want[0].T + want[1], 0) @ want[2].T + want[3]
        pred = (out[:, 0] > 0) if n_out == 1 else out.argmax(axis=1)
        assert hits[e] == pytest.approx(np.mean(pred == (y > 0.5 if n_out == 1 else y)), abs=1.5 / n)
    assert models.steps.tolist() == [12, 12]


@pytest.mark.parametrize(("h", "ni", "B"), [(1, 3, 7), (5, 6, 33), (8, 32, 500), (7, 13, 100), (2, 4, 1), (6, 9, 17)])
def test_the_dense_products_equal_numpy(h, ni, B):
    """The hand-written dense products against float64 matrix products: the forward product's register tiles
    (four units, then two, an odd last unit; full tiles of 32 samples and a masked partial one; fewer than
    four inputs) and the backward's unit pairs (four inputs per pass, the inputs past a multiple of four)."""
    rng = np.random.default_rng(h * 100 + ni)
    W1 = rng.standard_normal((h, ni)).astype(np.float32)
    xT = rng.standard_normal((ni, B)).astype(np.float32)
    dzT = rng.standard_normal((h, B)).astype(np.float32)
    act = np.tile(np.arange(ni), (h, 1))
    zT, G1 = np.full((h, B), np.nan, np.float32), np.full((h, ni), np.nan, np.float32)
    kernel._forward_dense(W1, xT, zT)
    kernel._backward_dense(dzT, xT, G1, act)
    scale_z = np.abs(W1.astype(np.float64)) @ np.abs(xT.astype(np.float64))
    scale_g = np.abs(dzT.astype(np.float64)) @ np.abs(xT.astype(np.float64)).T
    assert np.all(np.abs(zT - W1.astype(np.float64) @ xT) <= 1e-6 * (scale_z + 1))
    assert np.all(np.abs(G1 - dzT.astype(np.float64) @ xT.T.astype(np.float64)) <= 1e-6 * (scale_g + 1))


def _fma32(a, b, c):
    """float32 fused multiply-add: the product of two float32 is exact in float64; one rounding to float32 after
    the sum (rounded to float64 first: a second rounding that can differ only at an exact float32 tie)."""
    return (a.astype(np.float64) * b.astype(np.float64) + c.astype(np.float64)).astype(np.float32)


@pytest.mark.parametrize(("h", "ni", "B"), [(8, 32, 500), (7, 13, 100), (6, 5, 33), (3, 3, 40), (1, 9, 31), (5, 4, 64)])
def test_the_dense_forward_product_is_one_fused_chain_per_output_in_input_order(h, ni, B):
    """Bit for bit: each output of ``W1 xT`` is one chain of fused multiply-adds over the inputs in order, begun
    with ``w0 x0 + w1 x1`` in one fused step (four or more inputs, a unit of a pair) or from +0 (the last unit
    of an odd count, fewer than four inputs): the order the rows of the shipped results were trained with.
    Inputs with zeros and negative zeros, so that the sign of a zero result is checked too."""
    rng = np.random.default_rng(h * 1000 + ni * 10 + B)
    W1 = rng.standard_normal((h, ni)).astype(np.float32)
    xT = rng.standard_normal((ni, B)).astype(np.float32)
    xT[rng.random(xT.shape) < 0.3] = 0.0
    W1[rng.random(W1.shape) < 0.2] = -0.0
    zT = np.full((h, B), np.nan, np.float32)
    kernel._forward_dense(W1, xT, zT)
    for j in range(h):
        w = W1[j][:, None] * np.ones((1, B), np.float32)
        if ni >= 4 and not (h % 2 and j == h - 1):
            acc, first = _fma32(w[0], xT[0], w[1] * xT[1]), 2
        else:
            acc, first = np.zeros(B, np.float32), 0
        for k in range(first, ni):
            acc = _fma32(w[k], xT[k], acc)
        assert np.array_equal(zT[j], acc) and np.array_equal(np.signbit(zT[j]), np.signbit(acc)), j


@pytest.mark.parametrize(("o", "ni", "B"), [(16, 40, 100), (7, 5, 33), (1, 3, 31), (10, 16, 1), (3, 1, 64)])
def test_the_deep_epochs_dense_products_are_fused_chains_in_order(o, ni, B):
    """Bit for bit, the register tiles of the deep epoch: ``W aT + b`` one fused chain from the bias over the
    inputs in order (``BIAS``), ``W^T dzT`` one from +0 over W's rows in order (``TRANSPOSED``), as the loops
    before them summed."""
    rng = np.random.default_rng(o * 1000 + ni * 10 + B)
    W = rng.standard_normal((o, ni)).astype(np.float32)
    b = rng.standard_normal(o).astype(np.float32)
    b[rng.random(o) < 0.3] = -0.0
    aT = rng.standard_normal((ni, B)).astype(np.float32)
    aT[rng.random(aT.shape) < 0.3] = 0.0
    dzT = rng.standard_normal((o, B)).astype(np.float32)
    zT, daT = np.full((o, B), np.nan, np.float32), np.full((ni, B), np.nan, np.float32)
    kernel.tiled(kernel.BIAS, W, aT, zT, b, o)
    kernel.tiled(kernel.TRANSPOSED, W, dzT, daT, daT[0], ni)
    for j in range(o):
        acc = np.full(B, b[j], np.float32)
        for k in range(ni):
            acc = _fma32(np.full(B, W[j, k], np.float32), aT[k], acc)
        assert np.array_equal(zT[j], acc) and np.array_equal(np.signbit(zT[j]), np.signbit(acc)), j
    for k in range(ni):
        acc = np.zeros(B, np.float32)
        for j in range(o):
            acc = _fma32(np.full(B, W[j, k], np.float32), dzT[j], acc)
        assert np.array_equal(daT[k], acc) and np.array_equal(np.signbit(daT[k]), np.signbit(acc)), k


def test_kernel_and_torch_paths_start_alike_and_stay_close():
    """Same masks, counts and (at W = 0, before any rounding can flip a pruning tie) the same FPE models; the
    numbers within a stated tolerance after 10 + 10 epochs (float32 BLAS on both paths, summed differently)."""
    c = TrainConfig(clauses=4, r=4, alpha=2, splits=("random", "clause", "overlap"), trials=2, lr=1e-2, **SCHEDULE)
    for warm in (0, 10):
        cfg = dataclasses.replace(c, warmup_epochs=warm, epochs=20 - warm)
        a, b = run_config(cfg), run_config(cfg, path="torch")
        for x, y in zip(a, b, strict=True):
            assert (x["variant"], x["trial"], x["nonzero_params"]) == (y["variant"], y["trial"], y["nonzero_params"])
            if warm == 0 or x["variant"].startswith("dense"):
                assert {k: x[k] for k in x if k.startswith("mask_")} == {k: y[k] for k in y if k.startswith("mask_")}
                assert x["test_accuracy"] == pytest.approx(y["test_accuracy"], abs=0.011)
                assert x["capacity"] == pytest.approx(y["capacity"], abs=1e-3)
    assert a[0]["device"] == "cpu"


def test_kernel_weights_match_the_torch_loop_after_20_epochs():
    """The kernel's weights against the torch engine's on the same start and data order: within 1e-4."""
    import torch

    from fpe_train.engine.mlp import BatchedMLP
    from fpe_train.engine.train import simple_live_batch, train_epochs

    rng = np.random.default_rng(3)
    X = rng.random((200, 8), dtype=np.float32) * 3
    y = (rng.random(200) < 0.5).astype(np.float32)
    (W1, W2), (b1, b2) = draws.init_layers([8, 6, 1], rng)
    M1 = rng.random(W1.shape) < 0.5
    net = BatchedMLP(
        [torch.from_numpy(W1 * M1)[None], torch.from_numpy(W2)[None]],
        [torch.from_numpy(b1)[None], torch.from_numpy(b2)[None]],
        [torch.from_numpy(M1)[None], torch.ones(1, 1, 6, dtype=torch.bool)],
    ).requires_grad_()
    train_epochs(
        simple_live_batch(net, LR, L1, L2, seeds=[11]), torch.from_numpy(X), torch.from_numpy(y), 200, 20, BATCH
    )
    models = cpu._Models(
        [(W1 * M1, b1, W2, b2, M1, np.ones(W2.shape, bool))], [0], [0], [TrainConfig(lr=LR, l1=L1, l2=L2)]
    )
    data = cpu._Data(X.ravel(), np.zeros(1, np.int64), y, X.ravel(), np.zeros(1, np.int64), y, 200, 200, 1, [0], [8])
    cpu._Trainer(models, data, np.array([11], np.uint64), BATCH, None, kernel).epochs(1, 20, lambda epoch: None)
    got = models.block(0)
    for a, t in zip(got, (net.weights[0][0], net.biases[0][0], net.weights[1][0], net.biases[1][0]), strict=True):
        np.testing.assert_allclose(a, t.detach().numpy(), atol=1e-4)


def test_a_ragged_kernel_batch_equals_each_config_alone():
    configs = [
        TrainConfig(clauses=2, r=2, alpha=2, splits=("random",), trials=2, **SCHEDULE),
        TrainConfig(clauses=4, r=4, alpha=4, splits=("random", "clause"), trials=3, lr=2e-3, l1=1e-3, **SCHEDULE),
    ]
    assert cpu.supports(configs)
    together = run_batch([(c, range(c.trials)) for c in configs]).rows
    for c, by_trial in zip(configs, together, strict=True):
        alone = run_config(c)
        got = [r for t in sorted(by_trial) for r in by_trial[t]]
        assert [{k: v for k, v in r.items() if k != "seconds"} for r in got] == [
            {k: v for k, v in r.items() if k != "seconds"} for r in alone
        ]


def test_per_trial_data():
    c = TrainConfig(clauses=2, r=2, splits=("random",), trials=3, **SCHEDULE)
    X0, X1 = load_task(c, 0)[0], load_task(c, 1)[0]
    assert X0.shape == X1.shape and not np.array_equal(X0, X1)  # two trials, two samples of the task law
    one = dataclasses.replace(c, data_per_trial=False)
    assert np.array_equal(load_task(one, 0)[0], load_task(one, 2)[0])  # the paper's protocol: one dataset
    tasks, index = load_datasets([(c, 2), (dataclasses.replace(c, r=4), 2), (c, 0)])
    assert index == [0, 0, 1] and np.array_equal(tasks[0][0], load_task(c, 2)[0])  # same trial, same sample
    rows_alone = run_batch([(c, (1,))]).rows[0][1]
    rows_in_batch = run_batch([(c, (0, 1, 2)), (dataclasses.replace(c, r=4), (1,))]).rows[0][1]
    assert [r["test_accuracy"] for r in rows_alone] == [r["test_accuracy"] for r in rows_in_batch]
    assert len({r["test_accuracy"] for t, rows in run_batch([(c, (0, 1, 2))]).rows[0].items() for r in rows[:1]}) > 1


def test_per_trial_vision_data_is_a_resample():
    pytest.importorskip("sklearn")
    c = TrainConfig(task="digits", r=4, splits=("random",), trials=2, n_train=200, n_test=100, device="cpu")
    a, b = load_task(c, 0), load_task(c, 1)
    assert a[0].shape == (200, 64) and a[2].shape == (100, 64)
    assert not np.array_equal(a[0], b[0]) and np.array_equal(a[0], load_task(c, 0)[0])
    one = dataclasses.replace(c, data_per_trial=False)
    assert np.array_equal(load_task(one, 0)[0], load_task(one, 1)[0])


def _fresh(code: str) -> str:
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    ).stdout


def test_a_second_process_reuses_the_compiled_kernel():
    code = (
        "from fpe_train.engine import kernel\n"
        "from fpe_train.engine.config import TrainConfig\n"
        "from fpe_train.engine.cpu import run_batch\n"
        "from fpe_train.engine.threads import set_kernel_threads\n"
        "set_kernel_threads(2)\n"  # numba's JIT (one thread may take the prebuilt extension, engine/aot.py)
        "run_batch([(TrainConfig(clauses=2, k=2, r=2, splits=('random',), trials=1, epochs=1, warmup_epochs=1,"
        " n_train=64, n_test=32, batch_size=32, device='cpu'), (0,))])\n"
        "s = kernel.train_epoch.stats\n"
        "print(sum(s.cache_hits.values()), sum(s.cache_misses.values()))\n"
    )
    _fresh(code)  # compiles (or finds) the kernel and writes the cache
    hits, misses = map(int, _fresh(code).split())
    assert hits >= 1 and misses == 0


def test_a_boolean_cpu_sweep_never_imports_torch(tmp_path, tiny_sweep_file):
    sweep = tiny_sweep_file(trials=2, warmup_epochs=2, epochs=2, n_train=64, n_test=32, batch_size=32, device="auto")
    code = (
        "import sys\nfrom cli import main\n"
        f"try:\n    main(['sweep', 'run', {str(sweep)!r}, '--store', {str(tmp_path / 'r.db')!r}, '--no-progress'])\n"
        "except SystemExit as exc:\n    assert not exc.code, exc.code\n"
        "print('torch' in sys.modules)\n"
    )
    if cpu.cuda_present():
        pytest.skip("device auto resolves to CUDA here")
    assert _fresh(code).strip().splitlines()[-1] == "False"


def test_the_gpu_script_passes_its_dry_run_without_a_gpu(tmp_path):
    """benchmarks/gpu.sh with DRY=1: valid bash, every sweep it would time (grid, preset) loads, and the graphs
    step's code runs on the CPU (eager both times: the same rows)."""
    env = {**os.environ, "DRY": "1", "PY": sys.executable, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        ["bash", "benchmarks/gpu.sh", str(tmp_path)], cwd=ROOT, capture_output=True, text=True, env=env
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "grid fig3c (paper, cuda): 36 configs" in done.stdout and "gpu.sh (dry): all steps passed" in done.stdout
    assert "graphs fig3c (quick, 1 + 1 epochs, cpu), 108 rows" in done.stdout and "|diff| max 0.00e+00" in done.stdout


def test_weights_a1_prunes_in_the_second_layer_stay_exactly_zero():
    """A1 prunes W1 and W2 jointly: small output weights are pruned, and stay 0 (weights and Adam state)."""
    rng = np.random.default_rng(1)
    (W1, W2), (b1, b2) = draws.init_layers([8, 4, 1], rng)
    W2[0, :2] = 1e-6  # the smallest magnitudes: A1 prunes their copies in W2'
    ws, bs, (K1, K2) = draws.expand_model([W1, W2], [b1, b2], 2, "random", None, rng)
    assert not K2.all() and int(K1.sum() + K2.sum()) == 8 * 4 + 4  # the dense budget, some of it taken from W2
    X = rng.random((64, 8), dtype=np.float32) * 3
    y = (rng.random(64) < 0.5).astype(np.float32)
    models = cpu._Models([(ws[0], bs[0], ws[1], bs[1], K1, K2)], [0], [0], [TrainConfig(lr=LR, l1=L1, l2=L2)])
    data = cpu._Data(X.ravel(), np.zeros(1, np.int64), y, X.ravel(), np.zeros(1, np.int64), y, 64, 64, 1, [0], [8])
    cpu._Trainer(models, data, np.array([3], np.uint64), BATCH, None, kernel).epochs(1, 5, lambda epoch: None)
    W2_after = models.block(0)[2]
    o = models.p_off[0] + K1.size + K1.shape[0]
    assert (W2_after[~K2] == 0).all() and (models.A2[o : o + K2.size][~K2.ravel()] == 0).all()
    assert (W2_after[K2] != ws[1][K2]).all()  # the others trained


def test_dense_fresh_on_the_kernel():
    """The dense arm with a fresh Adam at the split: the other rows unchanged, close to the torch path's arm."""
    c = TrainConfig(clauses=3, r=4, alpha=2, splits=("random",), trials=2, lr=1e-2, **SCHEDULE)
    without, with_fresh = run_config(c), run_config(dataclasses.replace(c, dense_fresh=True))
    others = [r for r in with_fresh if r["variant"] != "dense_fresh"]
    drop = ("seconds",)
    assert [{k: v for k, v in r.items() if k not in drop} for r in without] == [
        {k: v for k, v in r.items() if k not in drop} for r in others
    ]
    torch_rows = run_config(dataclasses.replace(c, dense_fresh=True), path="torch")
    fresh = [(r["test_accuracy"], r["nonzero_params"]) for r in with_fresh if r["variant"] == "dense_fresh"]
    want = [(r["test_accuracy"], r["nonzero_params"]) for r in torch_rows if r["variant"] == "dense_fresh"]
    assert len(fresh) == 2 and [n for _, n in fresh] == [n for _, n in want]
    assert all(a == pytest.approx(b, abs=0.011) for (a, _), (b, _) in zip(fresh, want, strict=True))
    dense = [r["test_accuracy"] for r in with_fresh if r["variant"] == "dense"]
    assert [a for a, _ in fresh] != dense  # a fresh Adam really changes the continuation
