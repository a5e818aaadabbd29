"""The prebuilt kernel (``fpe_train.engine.aot``) against numba's JIT of the same functions: the same bits; which
one a process uses; a serial Boolean sweep on it without numba (a fresh interpreter, checked via sys.modules)."""

import fcntl
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

from fpe_train.engine import aot, cpu, draws, kernel
from fpe_train.engine.config import TrainConfig

ROOT = Path(__file__).parents[3]


@pytest.fixture(scope="module")
def built():
    """The extension, built here if the checkout has none (or a stale one); one builder at a time."""
    if os.environ.get(aot.JIT_ENV) == "1":
        pytest.skip(f"{aot.JIT_ENV}=1: the prebuilt kernel is switched off")
    with open(os.path.join(tempfile.gettempdir(), f"fpe-aot-{os.getuid()}.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        aot._loaded.clear()
        if aot.load() is None:
            if aot.stamp() is None:
                pytest.skip("no /proc/cpuinfo: the prebuilt kernel is not used here")
            try:
                aot.build()
            except ImportError as exc:  # a numba without pycc (pending deprecation): the JIT serves
                pytest.skip(f"cannot build the prebuilt kernel: {exc}")
        module = aot.load()
    assert module is not None
    return module


def _train(k, n_out: int, ni: int, widths, masked_first: bool):
    """Two models (a dense and a masked one, or the other way round) of two trials, 3 epochs on ``k``."""
    rng = np.random.default_rng(ni * 10 + n_out)
    n = 100  # minibatches of 32: the last one short
    X = rng.random((n, ni), dtype=np.float32) * 3
    y = rng.integers(0, max(n_out, 2), n).astype(np.float32)
    blocks = []
    for h, masked in zip(widths, (masked_first, not masked_first), strict=True):
        (W1, W2), (b1, b2) = draws.init_layers([ni, h, n_out], rng)
        M1 = rng.random(W1.shape) < 0.5 if masked else np.ones(W1.shape, bool)
        blocks.append((W1 * M1, b1, W2, b2, M1, np.ones(W2.shape, bool)))
    configs = [TrainConfig(lr=1e-2, l1=1e-3, l2=1e-3), TrainConfig(lr=5e-3, l1=1e-3, l2=1e-3)]
    models = cpu._Models(blocks, [0, 1], [0, 0], configs)
    data = cpu._Data(
        X.ravel(), np.zeros(1, np.int64), y, X.ravel(), np.zeros(1, np.int64), y, n, n, n_out, [0, 0], [ni, ni]
    )
    cpu._Trainer(models, data, np.array([5, 6], np.uint64), 32, None, k).epochs(1, 3, lambda epoch: None)
    hits = cpu.accuracy(models, data.X_test, data.xt_off, data.y_test, n, k)
    return models, hits


@pytest.mark.parametrize(
    ("n_out", "ni", "widths", "masked_first"),
    [(1, 6, (5, 9), False), (3, 6, (5, 9), True), (1, 20, (6, 7), False), (1, 80, (70, 90), True)],
)
def test_the_prebuilt_kernel_trains_the_bits_of_the_jit(built, n_out, ni, widths, masked_first):
    """Binary and softmax outputs, hand-written products (dense, masked) and BLAS (80 inputs, 70-90 units)."""
    want, want_hits = _train(kernel, n_out, ni, widths, masked_first)
    got, got_hits = _train(built, n_out, ni, widths, masked_first)
    for name in ("P", "A1", "A2", "steps", "sums"):
        np.testing.assert_array_equal(getattr(got, name), getattr(want, name), err_msg=name)
    np.testing.assert_array_equal(got_hits, want_hits)
    assert np.isfinite(want.P).all() and (want.steps == 12).all()  # 3 epochs of 4 minibatches each


def test_one_thread_takes_the_prebuilt_kernel_and_more_threads_the_jit(built):
    assert cpu.compiled(1) is built
    assert cpu.compiled(2) is kernel


def test_a_stamp_that_does_not_match_falls_back_to_the_jit(built, monkeypatch):
    real = aot.stamp
    for change in ({"source": "edited"}, {"cpu": "another"}, {"numba": "0.1 0.1"}, {"numpy": "0"}):
        monkeypatch.setattr(aot, "stamp", lambda change=change: {**real(), **change})
        aot._loaded.clear()
        assert aot.load() is None and cpu.compiled(1) is kernel
    monkeypatch.setattr(aot, "stamp", real)
    monkeypatch.setenv(aot.JIT_ENV, "1")  # asked for
    aot._loaded.clear()
    assert aot.load() is None
    monkeypatch.delenv(aot.JIT_ENV)
    monkeypatch.setattr(aot, "_cpu", lambda: None)  # no CPU to check against
    aot._loaded.clear()
    assert aot.load() is None
    monkeypatch.undo()
    aot._loaded.clear()
    assert aot.load() is built


def test_a_serial_sweep_on_the_prebuilt_kernel_never_imports_numba_or_torch(built, tmp_path, tiny_sweep_file):
    sweep = tiny_sweep_file(trials=2, warmup_epochs=2, epochs=2, n_train=64, n_test=32, batch_size=32, device="cpu")
    code = (
        "import sys\nfrom cli import main\n"
        f"try:\n    main(['sweep', 'run', {str(sweep)!r}, '--store', {str(tmp_path / 'r.db')!r}, '--no-progress',"
        " '--executor', 'serial', '--threads', '1'])\n"
        "except SystemExit as exc:\n    assert not exc.code, exc.code\n"
        "print(sorted(m for m in ('numba', 'llvmlite', 'torch') if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True, env={**os.environ}
    ).stdout
    assert out.strip().splitlines()[-1] == "[]"
