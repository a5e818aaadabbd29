"""Real datasets of section 3.3, as standardised numpy arrays.

``load_dataset(config) -> (X_train, y_train, X_test, y_test, n_classes)`` for
``config.task`` in ``digits | mnist1d | fashion_mnist | embeddings``:

- ``digits``: scikit-learn's 8x8 digits (1797 images, ships with the package; no download).
  No standard split: a seeded 80/20 split.
- ``mnist1d``: MNIST-1D generated locally by the ``mnist1d`` package with its standard
  arguments (5000 signals of length 40, its own 4000/1000 split; seed 42 of the package,
  so everybody gets the same data). Never downloads.
- ``fashion_mnist``: the standard IDX files (``train-images-idx3-ubyte``,
  ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte``, each
  optionally ``.gz``) in the folder ``config.data_path`` (or its ``raw/`` or
  ``FashionMNIST/raw/``, torchvision's layout). Raw flattened pixels, as the paper.
- ``embeddings``: a file the user computed (e.g. CLIP ViT-B/16 embeddings of CIFAR-100,
  as the paper), ``config.data_path``, in one of three layouts:
  ``.npz`` with ``X_train, y_train, X_test, y_test`` (a given split);
  ``.npz`` with ``features, labels`` (or ``X, y``): one pool, split seeded 80/20;
  ``.npy``: one 2-D array (N, D + 1) whose last column is the integer label, split seeded 80/20.

Then, for every task: ``n_train`` / ``n_test`` of the config cap the sizes (a seeded
subsample when the data hold more; all of it otherwise), labels are encoded 0..K-1 over
the classes of the whole dataset, and features are standardised per column with the mean
and standard deviation of the training set (a constant column is only centred).

Which samples a trial sees: with ``config.data_per_trial`` (the default) and a ``trial`` given, trial t
pools every sample the data hold (training and test parts of a given split together) and re-splits the
pool at random into a test part of the given split's test size (20 % of a single pool) and a training part,
then caps both by seeded subsamples, all from ``SeedSequence([seed, 0xDA7A], spawn_key=(2, t))``: each trial
its own resample, the same for every config of that task and seed. Without (``data_per_trial=False`` or
``trial`` None) the split is the data's own (or the seeded 80/20 of ``config.seed``) and every trial sees
the same data. Returns float32 features and int64 labels.

>>> from fpe_train.engine.config import TrainConfig
>>> Xtr, ytr, Xte, yte, K = load_dataset(TrainConfig(task="digits", n_train=100, n_test=50, splits=("random",)))
>>> Xtr.shape, Xte.shape, K
((100, 64), (50, 64), 10)
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import hashlib
import json
import math
import os
import random
import tempfile
import zipfile
import zlib
from importlib import metadata

import numpy as np

VISION_TASKS = ("digits", "mnist1d", "fashion_mnist", "embeddings")
TEST_FRACTION = 0.2  # pooled data (digits, single-pool embeddings) are split 80/20
IDX_FILES = {
    "X_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "X_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def load_dataset(config, trial: int | None = None):
    """``(X_train, y_train, X_test, y_test, n_classes)`` for a vision ``config``; ``trial``: that trial's own
    resample when ``config.data_per_trial`` (see module doc)."""
    raw = _raw_arrays(config)
    where = config.data_path or config.task
    if trial is None or not getattr(config, "data_per_trial", False):
        return _finish(*raw, n_train=config.n_train, n_test=config.n_test, seed=config.seed, where=where)
    rng = np.random.default_rng(np.random.SeedSequence([int(config.seed), 0xDA7A], spawn_key=(2, int(trial))))
    return _finish(*_resplit(*raw, rng), n_train=config.n_train, n_test=config.n_test, seed=rng, where=where)


def _resplit(X_train, y_train, X_test, y_test, rng):
    """The pooled samples re-split at random: a test part of ``len(y_test)`` samples, the rest for training."""
    X = np.concatenate([np.asarray(X_train), np.asarray(X_test)])  # (N, D)
    y = np.concatenate([np.asarray(y_train).ravel(), np.asarray(y_test).ravel()])  # (N,)
    perm = rng.permutation(len(y))
    test, train = perm[: len(y_test)], perm[len(y_test) :]
    return X[train], y[train], X[test], y[test]


def dataset_name(config) -> str:
    """What a row records as its data: the task for generated and shipped data (``boolean``, ``digits``,
    ``mnist1d``), ``fashion_mnist`` with its folder, and for an embeddings file the dataset, model and
    weights hash that ``fpe-theory embed`` recorded in it (else the file's name)."""
    if config.task in ("boolean", "digits", "mnist1d"):
        return config.task
    path = os.fspath(config.data_path or "")
    if config.task == "fashion_mnist":
        return f"fashion_mnist ({os.path.basename(os.path.normpath(path))})"
    stamp = (os.stat(path).st_mtime_ns, os.stat(path).st_size) if os.path.isfile(path) else None
    return _embeddings_name(path, stamp)


@functools.lru_cache(maxsize=8)
def _embeddings_name(path: str, stamp) -> str:
    name = f"embeddings ({os.path.basename(path)})"
    if stamp is None or not path.endswith(".npz"):
        return name
    try:
        with np.load(path, allow_pickle=False) as f:
            if "meta" not in f.files:
                return name
            meta = json.loads(str(f["meta"][()]))
        model = meta["model"]
        return f"{meta['dataset']} embeddings ({model['name']}, weights sha256 {model['weights_sha256'][:12]})"
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile):
        return name


def check_dataset(config) -> None:
    """Validate a config's data before anything runs: every rule ``load_dataset`` applies, one line each.

    Headers first (missing files, labels vs features), then the contents: numeric 2-D features, all
    finite; integer class labels (no NaN, no fractions); at least 2 classes in the data and in the
    training subsample of ``n_train``; a truncated or corrupt gzip, IDX or npz file is named with
    what is wrong. Raises a one-line ``ValueError``; built-in tasks (digits, mnist1d) are checked too.
    """
    task = _check_task(config)
    if task == "fashion_mnist":
        paths = _idx_paths(config.data_path)
        n = {key: _idx_header(p)[0] for key, p in paths.items()}
        for part in ("train", "test"):
            _check_lengths(n[f"X_{part}"], n[f"y_{part}"], paths[f"y_{part}"])
    elif task == "embeddings":
        shapes = _embedding_shapes(_existing(config.data_path))
        for xs, ys in shapes:
            _check_shapes(xs, ys, config.data_path)
    load_dataset(config)


# ---------------------------------------------------------------- per task: raw arrays


def _check_task(config) -> str:
    task = config.task
    if task not in VISION_TASKS:
        raise ValueError(f"task={task!r}: not a dataset task; must be one of {', '.join(VISION_TASKS)}")
    if task in ("digits", "mnist1d") and config.data_path is not None:
        raise ValueError(
            f"data_path={config.data_path!r}: task={task!r} is built in; data_path is for fashion_mnist and embeddings"
        )
    if task in ("fashion_mnist", "embeddings") and not config.data_path:
        raise ValueError(f"data_path=None: task={task!r} needs data_path (a user-supplied file or folder)")
    return task


def _raw_arrays(config):
    task = _check_task(config)
    if task == "digits":
        X, y = _digits()
        return _pooled_split(X, y, config.seed)
    if task == "mnist1d":
        return _mnist1d()
    path = os.fspath(config.data_path)
    stamp = (os.stat(path).st_mtime_ns, os.stat(path).st_size) if os.path.exists(path) else None
    return _cached_file(task, path, stamp, config.seed if task == "embeddings" else 0)  # IDX files: no split


@functools.lru_cache(maxsize=2)
def _cached_file(task: str, path: str, stamp, seed: int):
    """A user file's raw arrays, read once per (file, modification) while a sweep checks its configs."""
    if task == "fashion_mnist":
        return load_fashion_mnist(path)
    return load_embeddings(path, seed)


@functools.lru_cache(maxsize=1)
def _digits():
    """scikit-learn's digits, kept in the data cache after the first read (importing scikit-learn takes 1-4 s
    in every process that reads them; the cached copy needs numpy alone)."""

    def read():
        from sklearn.datasets import load_digits

        return load_digits(return_X_y=True)  # (1797, 64), pixel values 0..16

    return _kept("digits", {"sklearn": _version("scikit-learn"), "numpy": np.__version__}, ("X", "y"), read)


@functools.lru_cache(maxsize=1)
def _mnist1d(num_samples: int | None = None):
    """MNIST-1D, generated locally with the package's standard arguments (no download).

    Generating it takes 3-6 s, in every process that trains or checks it (the report's checks, each worker of a
    sweep), so the arrays are kept between processes in the data cache (:func:`cache_dir`), under a name made
    of the generator's arguments and the versions of mnist1d and numpy that drew them.

    ``num_samples`` other than the standard 5000 is for tests only (a different, smaller dataset).
    """
    from mnist1d.data import get_dataset_args, make_dataset

    args = get_dataset_args()
    if num_samples is not None:
        args.num_samples = num_samples
    names = ("x", "y", "x_test", "y_test")

    def draw():
        np_state, py_state = np.random.get_state(), random.getstate()
        try:  # make_dataset seeds the global generators; put them back afterwards
            data = make_dataset(args)
        finally:
            np.random.set_state(np_state)
            random.setstate(py_state)
        return tuple(data[n] for n in names)  # (4000, 40), (4000,), (1000, 40), (1000,)

    return _kept("mnist1d", {"args": vars(args), "mnist1d": _version("mnist1d"), "numpy": np.__version__}, names, draw)


CACHE_ENV = "FPE_THEORY_CACHE"  # the data cache's folder; empty: no cache


def cache_dir() -> str | None:
    """The folder where generated datasets are kept between processes: ``$FPE_THEORY_CACHE`` when set (empty:
    none), else ``fpe-theory`` in ``$XDG_CACHE_HOME`` (default ``~/.cache``)."""
    if CACHE_ENV in os.environ:
        return os.environ[CACHE_ENV] or None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "fpe-theory")


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "unknown"


def _kept(name: str, key: dict, names: tuple[str, ...], make) -> tuple[np.ndarray, ...]:
    """The arrays ``names`` that ``make()`` returns, read from the data cache when a file of ``name`` and ``key``
    (what they were made from) is there and intact, else made and written there."""
    folder = cache_dir()
    digest = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:16]
    path = os.path.join(folder, f"{name}-{digest}.npz") if folder else None
    kept = _read_cached(path, names)
    if kept is not None:
        return kept
    arrays = tuple(np.asarray(a) for a in make())
    _write_cached(path, dict(zip(names, arrays, strict=True)))
    return arrays


def _digest(arrays) -> str:
    h = hashlib.sha256()
    for a in arrays:
        h.update(str((a.dtype.str, a.shape)).encode())
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def _read_cached(path: str | None, names: tuple[str, ...]):
    """The arrays ``names`` of a cache file, or None when it is missing, unreadable, cut, or its content does not
    match the digest stored with it (then it is drawn again and the file replaced)."""
    if path is None or not os.path.isfile(path):
        return None
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = tuple(np.array(f[n]) for n in names)
            stored = str(f["sha256"][()])
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, zlib.error):
        return None
    return arrays if stored == _digest(arrays) else None


def _write_cached(path: str | None, arrays: dict) -> None:
    """Write ``arrays`` (and their digest) to ``path`` through a temporary file renamed into place, so a reader
    never sees half a file; nothing when the folder cannot be made or written (the data are then drawn again
    by the next process)."""
    if path is None:
        return
    tmp = None
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".npz", dir=os.path.dirname(path))
        with os.fdopen(fd, "wb") as f:
            np.savez(f, sha256=np.array(_digest(arrays.values())), **arrays)
        os.replace(tmp, path)
        tmp = None
    except OSError:
        pass
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def load_fashion_mnist(folder):
    """The four standard IDX files in ``folder`` -> (X_train, y_train, X_test, y_test), pixels flattened."""
    paths = _idx_paths(folder)
    arrays = {key: read_idx(p) for key, p in paths.items()}
    out = []
    for part in ("train", "test"):
        X, y = arrays[f"X_{part}"], arrays[f"y_{part}"]
        if X.ndim < 2:
            raise ValueError(f"{paths[f'X_{part}']}: images: IDX shape {X.shape} must be (samples, rows, ...)")
        X = X.reshape(len(X), -1)  # (N, 784)
        _check_shapes(X.shape, y.shape, paths[f"y_{part}"])
        _check_contents(X, y, paths[f"X_{part}"], paths[f"y_{part}"])
        out += [X, y]
    return tuple(out)


def load_embeddings(path, seed: int):
    """A user embedding file (three layouts, see module doc) -> (X_train, y_train, X_test, y_test)."""
    path = _existing(path)
    if path.endswith(".npy"):
        with _reading(path, ".npy file"):
            _check_magic(path, b"\x93NUMPY", ".npy file")
            table = np.load(path, allow_pickle=False)
        if table.ndim != 2 or table.shape[1] < 2:
            raise ValueError(f"data_path={path!r}: a .npy file must be 2-D (N, D + 1) with labels in the last column")
        _check_numeric(table, f"{path}: the table")
        X, y = table[:, :-1], _int_labels(table[:, -1], path)
        _check_contents(X, y, path, path)
        return _pooled_split(X, y, seed)
    with _reading(path, ".npz file"):
        _check_magic(path, b"PK", ".npz file (a zip archive)")
        with np.load(path, allow_pickle=False) as f:
            layout = _npz_layout(f.files, path)
            arrays = [f[name] for name in layout]
    pairs = [(arrays[0], arrays[1])] if len(arrays) == 2 else [(arrays[0], arrays[1]), (arrays[2], arrays[3])]
    for (X, y), names in zip(pairs, (layout[:2], layout[2:]), strict=False):
        _check_shapes(X.shape, y.shape, path)
        _check_contents(X, y, f"{path} ({names[0]})", f"{path} ({names[1]})")
    if len(arrays) == 2:
        return _pooled_split(arrays[0], arrays[1], seed)
    return tuple(arrays)


# ---------------------------------------------------------------- common finishing


def _pooled_split(X, y, seed: int):
    """Seeded split of one pool: TEST_FRACTION of the samples (rounded) go to the test set."""
    _check_shapes(np.shape(X), np.shape(y), "data")
    perm = np.random.default_rng([seed, 1]).permutation(len(y))
    n_test = max(1, round(TEST_FRACTION * len(y)))
    test, train = perm[:n_test], perm[n_test:]
    return X[train], y[train], X[test], y[test]


def _finish(X_train, y_train, X_test, y_test, *, n_train: int, n_test: int, seed, where="data"):
    """Encode labels over all classes, cap sizes by seeded subsamples (``seed`` an int or a Generator),
    standardise on train."""
    classes = np.unique(np.concatenate([np.asarray(y_train).ravel(), np.asarray(y_test).ravel()]))
    if len(classes) < 2:
        raise ValueError(f"labels in {where!s}: {len(classes)} class(es); a classification task needs at least 2")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng([seed, 2])
    keep_train = _subsample(len(y_train), n_train, rng)
    keep_test = _subsample(len(y_test), n_test, rng)
    if len(keep_train) < 2 or len(keep_test) < 1:
        raise ValueError(
            f"data in {where!s}: {len(keep_train)} training and {len(keep_test)} test samples; need >= 2 and >= 1"
        )
    if len(np.unique(np.asarray(y_train)[keep_train])) < 2:
        raise ValueError(f"labels in {where!s}: the n_train={n_train} training samples hold one class; need at least 2")
    X_train = np.asarray(X_train, dtype=np.float64)[keep_train]  # (n_train, D)
    X_test = np.asarray(X_test, dtype=np.float64)[keep_test]  # (n_test, D)
    if not (np.isfinite(X_train).all() and np.isfinite(X_test).all()):
        raise ValueError("features: must be finite (found NaN or inf)")
    mean = X_train.mean(axis=0)  # (D,)
    std = X_train.std(axis=0)  # (D,)
    std[std == 0] = 1.0
    X_train, X_test = (X_train - mean) / std, (X_test - mean) / std
    y_train = np.searchsorted(classes, np.asarray(y_train)[keep_train]).astype(np.int64)
    y_test = np.searchsorted(classes, np.asarray(y_test)[keep_test]).astype(np.int64)
    return X_train.astype(np.float32), y_train, X_test.astype(np.float32), y_test, len(classes)


def _subsample(n: int, cap: int, rng) -> np.ndarray:
    """All indices when n <= cap, else a seeded sorted subsample of size cap."""
    if n <= cap:
        return np.arange(n)
    return np.sort(rng.choice(n, size=cap, replace=False))


def _check_shapes(x_shape, y_shape, where) -> None:
    if len(x_shape) != 2:
        raise ValueError(f"features in {where!s}: shape {tuple(x_shape)} must be 2-D (samples, features)")
    if len(y_shape) != 1:
        raise ValueError(f"labels in {where!s}: shape {tuple(y_shape)} must be 1-D (samples,)")
    _check_lengths(x_shape[0], y_shape[0], where)


def _check_lengths(n_x: int, n_y: int, where) -> None:
    if n_x != n_y:
        raise ValueError(f"labels in {where!s}: {n_y} labels do not match {n_x} feature rows")
    if n_x < 1:
        raise ValueError(f"data in {where!s}: no samples")


def _int_labels(column, where) -> np.ndarray:
    if not np.all(np.isfinite(column)) or not np.all(column == np.round(column)):
        raise ValueError(f"labels in {where!s}: the last column must hold integer class labels")
    return column.astype(np.int64)


def _check_numeric(a: np.ndarray, what: str) -> None:
    if a.dtype.kind not in "biuf":
        raise ValueError(f"{what}: dtype {a.dtype} must be numeric (bool, integer or float)")


def _check_contents(X, y, x_where, y_where) -> None:
    """Numeric finite features; integer class labels (integer dtype, or floats with integer values)."""
    X, y = np.asarray(X), np.asarray(y)
    _check_numeric(X, f"features in {x_where!s}")
    if X.dtype.kind == "f" and not np.isfinite(X).all():
        raise ValueError(f"features in {x_where!s}: must be finite (found NaN or inf)")
    if y.dtype.kind not in "biuf":
        raise ValueError(f"labels in {y_where!s}: dtype {y.dtype} must hold integer class labels")
    if y.dtype.kind == "f":
        if not np.isfinite(y).all():
            raise ValueError(f"labels in {y_where!s}: must be integer class labels (found NaN or inf)")
        if not (y == np.round(y)).all():
            raise ValueError(f"labels in {y_where!s}: must be integer class labels (found fractions)")


def _check_magic(path: str, magic: bytes, what: str) -> None:
    with open(path, "rb") as f:
        head = f.read(len(magic))
    if head != magic:
        raise ValueError(f"data_path={path!r}: not a valid {what}: its first bytes are not {magic!r}")


@contextlib.contextmanager
def _reading(path, what: str):
    """Turn what a damaged file raises (truncated, bad CRC, bad zip, bad header) into one line naming it."""
    try:
        yield
    except ValueError as exc:
        if str(path) in str(exc):
            raise
        raise ValueError(f"{path}: not a readable {what} ({' '.join(str(exc).split())})") from None
    except EOFError:
        raise ValueError(f"{path}: truncated {what} (the file ends early)") from None
    except gzip.BadGzipFile as exc:
        raise ValueError(f"{path}: corrupt gzip file ({exc})") from None
    except (zlib.error, zipfile.BadZipFile, OSError) as exc:
        reason = getattr(exc, "strerror", None) or " ".join(str(exc).split())
        raise ValueError(f"{path}: corrupt {what} ({reason})") from None


def _existing(path) -> str:
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ValueError(f"data_path={path!r}: no such file")
    if not path.endswith((".npy", ".npz")):
        raise ValueError(f"data_path={path!r}: embeddings must be a .npy or .npz file")
    return path


def _npz_layout(files, path) -> tuple[str, ...]:
    for names in (("X_train", "y_train", "X_test", "y_test"), ("features", "labels"), ("X", "y")):
        if set(names) <= set(files):
            return names
    raise ValueError(
        f"data_path={path!r}: arrays {sorted(files)}; need X_train, y_train, X_test, y_test or features, labels"
    )


def _embedding_shapes(path):
    """[(X shape, y shape), ...] from the file headers, without reading the data."""
    if path.endswith(".npy"):
        shape = np.load(path, mmap_mode="r").shape
        if len(shape) != 2 or shape[1] < 2:
            raise ValueError(f"data_path={path!r}: a .npy file must be 2-D (N, D + 1) with labels in the last column")
        return [((shape[0], shape[1] - 1), (shape[0],))]
    try:
        with zipfile.ZipFile(path) as z:
            layout = _npz_layout([n.removesuffix(".npy") for n in z.namelist()], path)
            shapes = [_npy_shape(z, name + ".npy") for name in layout]
    except (zipfile.BadZipFile, OSError, EOFError, zlib.error, ValueError) as exc:
        if isinstance(exc, ValueError) and path in str(exc):
            raise
        raise ValueError(f"data_path={path!r}: not a valid .npz file ({' '.join(str(exc).split())})") from None
    return list(zip(shapes[0::2], shapes[1::2], strict=True))


def _npy_shape(z: zipfile.ZipFile, member: str) -> tuple:
    with z.open(member) as f:
        version = np.lib.format.read_magic(f)
        read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, _, _ = read(f)
    return shape


# ---------------------------------------------------------------- IDX files


def _idx_paths(folder) -> dict[str, str]:
    folder = os.fspath(folder)
    if not os.path.isdir(folder):
        raise ValueError(f"data_path={folder!r}: no such folder (expected the FashionMNIST IDX files)")
    best, best_where = {}, folder
    for where in (folder, os.path.join(folder, "raw"), os.path.join(folder, "FashionMNIST", "raw")):
        found = {}
        for key, name in IDX_FILES.items():
            for candidate in (name, name + ".gz"):
                if os.path.isfile(os.path.join(where, candidate)):
                    found[key] = os.path.join(where, candidate)
                    break
        if len(found) == len(IDX_FILES):
            return found
        if len(found) > len(best):
            best, best_where = found, where
    missing = [IDX_FILES[k] for k in IDX_FILES if k not in best]
    raise ValueError(f"data_path={best_where!r}: missing IDX file(s) {', '.join(missing)} (optionally .gz)")


def _open(path):
    with open(path, "rb") as f:
        gz = f.read(2) == b"\x1f\x8b"
    return gzip.open(path, "rb") if gz else open(path, "rb")


def _idx_header(path) -> tuple:
    with _reading(path, "IDX file"), _open(path) as f:
        return _read_idx_header(f, path)[0]


def _read_idx_header(f, path):
    magic = f.read(4)
    if len(magic) < 4 or magic[:2] != b"\x00\x00" or magic[2] not in _IDX_DTYPES or magic[3] < 1:
        raise ValueError(f"{path}: not an IDX file (bad magic number)")
    raw = f.read(4 * magic[3])
    if len(raw) != 4 * magic[3]:
        raise ValueError(
            f"{path}: truncated IDX header ({magic[3]} dimensions announced, {len(raw)} of {4 * magic[3]} bytes)"
        )
    dims = tuple(int(d) for d in np.frombuffer(raw, dtype=">i4"))
    if min(dims) < 0:
        raise ValueError(f"{path}: IDX header has a negative dimension {dims}")
    return dims, np.dtype(_IDX_DTYPES[magic[2]])


def read_idx(path) -> np.ndarray:
    """Read an IDX file (gzipped or not): magic 00 00 <dtype> <ndim>, big-endian int32 dims, data."""
    with _reading(path, "IDX file"), _open(path) as f:
        shape, dtype = _read_idx_header(f, path)
        n = math.prod(shape) * dtype.itemsize
        data = f.read(n + 1)  # one byte more than announced: a longer file is refused, never read whole
    if len(data) > n:
        raise ValueError(f"{path}: IDX data is longer than the {n} bytes its header says")
    if len(data) < n:
        raise ValueError(f"{path}: truncated IDX data: holds {len(data)} bytes, header says {n}")
    return np.frombuffer(data, dtype=dtype).reshape(shape)


def write_idx(path, array, compress: bool | None = None) -> None:
    """Write ``array`` (uint8, int8, int16, int32, float32 or float64) as an IDX file; gzip if path ends .gz."""
    array = np.asarray(array)
    codes = {
        np.dtype(v).newbyteorder(">").str if np.dtype(v).itemsize > 1 else np.dtype(v).str: k
        for k, v in _IDX_DTYPES.items()
    }
    big = array.astype(array.dtype.newbyteorder(">")) if array.dtype.itemsize > 1 else array
    code = codes.get(big.dtype.str)
    if code is None:
        raise ValueError(f"dtype={array.dtype}: IDX holds uint8, int8, int16, int32, float32 or float64")
    header = bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, dtype=">i4").tobytes()
    compress = str(path).endswith(".gz") if compress is None else compress
    with gzip.open(path, "wb") if compress else open(path, "wb") as f:
        f.write(header + big.tobytes())
