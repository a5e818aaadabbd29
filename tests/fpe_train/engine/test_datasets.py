"""Real-data loaders (fpe_train.engine.datasets), each on data made here, against plain numpy references."""

import gzip
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

from fpe_train.engine import datasets
from fpe_train.engine.config import TrainConfig
from fpe_train.engine.datasets import check_dataset, load_dataset, read_idx, write_idx


def cfg(task, **kw):
    return TrainConfig(task=task, splits=("random",), **kw)


def reference_finish(Xtr, Xte):
    """Standardise with the training set's mean/std, the plain way."""
    mean, std = Xtr.mean(0), Xtr.std(0)
    std = np.where(std == 0, 1.0, std)
    return (Xtr - mean) / std, (Xte - mean) / std


def test_digits_split_standardise_and_labels():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    Xtr, ytr, Xte, yte, K = load_dataset(cfg("digits", n_train=100000, n_test=100000, seed=3))
    assert K == 10 and Xtr.dtype == np.float32 and ytr.dtype == np.int64
    assert len(ytr) + len(yte) == len(y) and len(yte) == round(0.2 * len(y))
    assert np.array_equal(np.sort(np.r_[ytr, yte]), np.sort(y))  # every image in exactly one set
    np.testing.assert_allclose(Xtr.mean(0), 0, atol=1e-5)
    stds = Xtr.std(0)
    assert np.all((np.abs(stds - 1) < 1e-4) | (stds == 0))
    assert abs(Xte.mean()) > 1e-4  # the test set is not re-standardised on itself


def test_digits_matches_plain_reference_and_is_seeded():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    a = load_dataset(cfg("digits", n_train=200, n_test=50, seed=7))
    b = load_dataset(cfg("digits", n_train=200, n_test=50, seed=7))
    c = load_dataset(cfg("digits", n_train=200, n_test=50, seed=8))
    for u, v in zip(a[:4], b[:4], strict=True):
        np.testing.assert_array_equal(u, v)
    assert not np.array_equal(a[0], c[0])
    # reference: the same seeded permutation and subsample written out by hand
    perm = np.random.default_rng([7, 1]).permutation(len(y))
    n_test = round(0.2 * len(y))  # 359 of 1797
    test, train = perm[:n_test], perm[n_test:]
    rng = np.random.default_rng([7, 2])
    keep_tr = np.sort(rng.choice(len(train), 200, replace=False))
    keep_te = np.sort(rng.choice(len(test), 50, replace=False))
    Xtr, Xte = reference_finish(X[train][keep_tr], X[test][keep_te])
    np.testing.assert_allclose(a[0], Xtr, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(a[2], Xte, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(a[1], y[train][keep_tr])
    np.testing.assert_array_equal(a[3], y[test][keep_te])


def test_mnist1d_generated_locally_without_network(monkeypatch):
    from mnist1d.data import get_dataset_args, make_dataset

    def no_network(*a, **k):
        raise AssertionError("tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    state = np.random.get_state()
    small = datasets._mnist1d.__wrapped__(500)  # the standard generator, 500 signals (the real one: 5000)
    assert np.array_equal(np.random.get_state()[1], state[1])  # global generator left as it was
    args = get_dataset_args()
    args.num_samples = 500
    ref = make_dataset(args)  # the package's own generation
    for got, key in zip(small, ("x", "y", "x_test", "y_test"), strict=True):
        np.testing.assert_array_equal(got, ref[key])
    assert small[0].shape == (400, 40) and small[2].shape == (100, 40)
    monkeypatch.setattr(datasets, "_mnist1d", lambda: small)
    Xtr, ytr, Xte, yte, K = load_dataset(cfg("mnist1d", n_train=300, n_test=1000))
    assert (Xtr.shape, Xte.shape, K) == ((300, 40), (100, 40), 10)
    ref_tr, ref_te = reference_finish(
        small[0][np.sort(np.random.default_rng([0, 2]).choice(400, 300, replace=False))], small[2]
    )
    np.testing.assert_allclose(Xtr, ref_tr, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(Xte, ref_te, rtol=1e-5, atol=1e-5)


def _generated(n):
    from mnist1d.data import get_dataset_args, make_dataset

    args = get_dataset_args()
    args.num_samples = n
    ref = make_dataset(args)  # the package's own generation
    return tuple(ref[k] for k in ("x", "y", "x_test", "y_test"))


def _assert_same(got, ref):
    for a, b in zip(got, ref, strict=True):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)


def _second_process(code: str, cache) -> list[str]:
    """The words ``code`` prints in a fresh interpreter whose data cache is ``cache``."""
    env = {**os.environ, "FPE_THEORY_CACHE": str(cache)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout.split()


def test_mnist1d_is_kept_between_processes_and_redrawn_when_the_file_is_bad(tmp_path, monkeypatch):
    """The first process draws MNIST-1D and keeps it in the data cache; a second process reads it back without
    drawing (its generator would fail there); a cut or altered file is drawn again and replaced."""
    monkeypatch.setenv("FPE_THEORY_CACHE", str(tmp_path / "cache"))
    first = datasets._mnist1d.__wrapped__(300)
    _assert_same(first, _generated(300))
    (kept,) = list((tmp_path / "cache").iterdir())
    assert kept.name.startswith("mnist1d-") and kept.suffix == ".npz"
    code = (
        "import mnist1d.data, numpy as np\n"
        "def refuse(args): raise SystemExit('drew the data again')\n"
        "mnist1d.data.make_dataset = refuse\n"
        "from fpe_train.engine import datasets\n"
        "x, y, xt, yt = datasets._mnist1d.__wrapped__(300)\n"
        "print(x.shape, yt.shape, float(x.sum()))\n"
    )
    assert _second_process(code, tmp_path / "cache") == ["(240,", "40)", "(60,)", str(float(first[0].sum()))]
    for spoil in (lambda b: b[: len(b) // 2], lambda b: b[:-200] + bytes(200)):  # cut; its last bytes zeroed
        kept.write_bytes(spoil(kept.read_bytes()))
        _assert_same(datasets._mnist1d.__wrapped__(300), first)
        _assert_same(datasets._read_cached(str(kept), ("x", "y", "x_test", "y_test")), first)  # replaced
    with np.load(kept) as f:  # same shapes, another content: the stored digest no longer matches
        altered = {k: f[k] for k in f.files}
    altered["x"] = altered["x"] + 1.0
    np.savez(kept, **altered)
    assert datasets._read_cached(str(kept), ("x", "y", "x_test", "y_test")) is None
    _assert_same(datasets._mnist1d.__wrapped__(300), first)


def test_digits_are_scikit_learns_and_a_second_process_reads_them_without_importing_it(tmp_path, monkeypatch):
    from sklearn.datasets import load_digits

    monkeypatch.setenv("FPE_THEORY_CACHE", str(tmp_path / "cache"))
    X, y = datasets._digits.__wrapped__()
    _assert_same((X, y), load_digits(return_X_y=True))
    code = (
        "import sys\n"
        "from fpe_train.engine import datasets\n"
        "X, y = datasets._digits()\n"
        "print(X.shape, int(y.sum()), 'sklearn' in sys.modules)\n"
    )
    assert _second_process(code, tmp_path / "cache") == ["(1797,", "64)", str(int(y.sum())), "False"]


def test_mnist1d_without_a_usable_cache_is_drawn_and_nothing_is_written(tmp_path, monkeypatch):
    monkeypatch.setenv("FPE_THEORY_CACHE", "")  # switched off
    assert datasets.cache_dir() is None
    _assert_same(datasets._mnist1d.__wrapped__(200), _generated(200))
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("FPE_THEORY_CACHE", str(blocker / "cache"))  # a folder that cannot be made
    _assert_same(datasets._mnist1d.__wrapped__(200), _generated(200))
    assert blocker.read_text() == "not a folder" and sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]
    monkeypatch.delenv("FPE_THEORY_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert datasets.cache_dir() == str(tmp_path / "xdg" / "fpe-theory")


def fashion_files(tmp_path, gz: bool, n_train=30, n_test=10, bad_labels=False):
    rng = np.random.default_rng(0)
    suffix = ".gz" if gz else ""
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": rng.integers(0, 10, n_train + bad_labels, dtype=np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    for name, a in arrays.items():
        write_idx(tmp_path / (name + suffix), a)
    return arrays


def idx_bytes_by_hand(a: np.ndarray) -> bytes:
    """IDX as the format describes it (uint8 data), written without write_idx."""
    header = bytes([0, 0, 0x08, a.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in a.shape)
    return header + a.astype(np.uint8).tobytes()


@pytest.mark.parametrize("gz", [False, True])
def test_fashion_mnist_idx(tmp_path, gz):
    arrays = fashion_files(tmp_path, gz)
    raw = (tmp_path / ("train-images-idx3-ubyte" + (".gz" if gz else ""))).read_bytes()
    expected = idx_bytes_by_hand(arrays["train-images-idx3-ubyte"])
    assert (gzip.decompress(raw) if gz else raw) == expected
    config = cfg("fashion_mnist", data_path=str(tmp_path))
    check_dataset(config)
    Xtr, ytr, Xte, yte, K = load_dataset(config)
    assert Xtr.shape == (30, 784) and Xte.shape == (10, 784)
    np.testing.assert_array_equal(
        ytr,
        np.searchsorted(
            np.unique(np.r_[arrays["train-labels-idx1-ubyte"], arrays["t10k-labels-idx1-ubyte"]]),
            arrays["train-labels-idx1-ubyte"],
        ),
    )
    ref_tr, _ = reference_finish(
        arrays["train-images-idx3-ubyte"].reshape(30, -1).astype(float),
        arrays["t10k-images-idx3-ubyte"].reshape(10, -1).astype(float),
    )
    np.testing.assert_allclose(Xtr, ref_tr, rtol=1e-5, atol=1e-5)


def test_fashion_mnist_torchvision_layout_and_errors(tmp_path):
    raw = tmp_path / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    fashion_files(raw, gz=False)
    assert load_dataset(cfg("fashion_mnist", data_path=str(tmp_path)))[0].shape == (30, 784)
    with pytest.raises(ValueError, match="no such folder"):
        load_dataset(cfg("fashion_mnist", data_path=str(tmp_path / "nope")))
    bad = tmp_path / "bad"
    bad.mkdir()
    fashion_files(bad, gz=True, bad_labels=True)
    with pytest.raises(ValueError, match="31 labels do not match 30 feature rows"):
        check_dataset(cfg("fashion_mnist", data_path=str(bad)))
    (bad / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(ValueError, match="missing IDX file"):
        check_dataset(cfg("fashion_mnist", data_path=str(bad)))


def test_read_idx_rejects_garbage(tmp_path):
    p = tmp_path / "x"
    p.write_bytes(b"hello world, not idx")
    with pytest.raises(ValueError, match="not an IDX file"):
        read_idx(p)
    write_idx(p, np.arange(12, dtype=np.int32).reshape(3, 4))
    np.testing.assert_array_equal(read_idx(p), np.arange(12).reshape(3, 4))
    p.write_bytes(p.read_bytes()[:-4])
    with pytest.raises(ValueError, match="header says"):
        read_idx(p)


def embeddings(n=50, d=6, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)) * 3 + 1, rng.integers(0, 4, n) * 10  # labels 0, 10, 20, 30


def test_embeddings_given_split(tmp_path):
    X, y = embeddings()
    p = tmp_path / "e.npz"
    np.savez(p, X_train=X[:40], y_train=y[:40], X_test=X[40:], y_test=y[40:])
    config = cfg("embeddings", data_path=str(p), seed=5)
    check_dataset(config)
    Xtr, ytr, Xte, yte, K = load_dataset(config)
    ref_tr, ref_te = reference_finish(X[:40], X[40:])
    np.testing.assert_allclose(Xtr, ref_tr, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(Xte, ref_te, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(ytr, y[:40] // 10)
    assert K == len(np.unique(y))


@pytest.mark.parametrize("layout", ["features", "Xy", "npy"])
def test_embeddings_pooled_layouts(tmp_path, layout):
    X, y = embeddings()
    if layout == "npy":
        p = tmp_path / "e.npy"
        np.save(p, np.c_[X, y])
    else:
        p = tmp_path / "e.npz"
        np.savez(p, **({"features": X, "labels": y} if layout == "features" else {"X": X, "y": y}))
    config = cfg("embeddings", data_path=str(p), seed=2)
    check_dataset(config)
    Xtr, ytr, Xte, yte, K = load_dataset(config)
    assert (len(ytr), len(yte)) == (40, 10)
    perm = np.random.default_rng([2, 1]).permutation(50)
    ref_tr, _ = reference_finish(X[perm[10:]], X[perm[:10]])
    np.testing.assert_allclose(Xtr, ref_tr, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(yte, y[perm[:10]] // 10)


def test_embedding_errors(tmp_path):
    X, y = embeddings()
    with pytest.raises(ValueError, match="no such file"):
        check_dataset(cfg("embeddings", data_path=str(tmp_path / "missing.npz")))
    with pytest.raises(ValueError, match="needs data_path"):
        load_dataset(cfg("embeddings"))
    p = tmp_path / "short.npz"
    np.savez(p, features=X, labels=y[:-3])
    with pytest.raises(ValueError, match="47 labels do not match 50 feature rows"):
        check_dataset(cfg("embeddings", data_path=str(p)))
    with pytest.raises(ValueError, match="47 labels do not match 50 feature rows"):
        load_dataset(cfg("embeddings", data_path=str(p)))
    p = tmp_path / "keys.npz"
    np.savez(p, a=X, b=y)
    with pytest.raises(ValueError, match="need X_train, y_train, X_test, y_test or features, labels"):
        check_dataset(cfg("embeddings", data_path=str(p)))
    p = tmp_path / "frac.npy"
    np.save(p, np.c_[X, y + 0.5])
    with pytest.raises(ValueError, match="integer class labels"):
        load_dataset(cfg("embeddings", data_path=str(p)))
    p = tmp_path / "nan.npz"
    np.savez(p, features=np.where(X > 0, np.nan, X), labels=y)
    with pytest.raises(ValueError, match="finite"):
        load_dataset(cfg("embeddings", data_path=str(p)))
    with pytest.raises(ValueError, match="built in"):
        load_dataset(cfg("digits", data_path=str(p)))
    with pytest.raises(ValueError, match="not a dataset task"):
        load_dataset(cfg("boolean"))
