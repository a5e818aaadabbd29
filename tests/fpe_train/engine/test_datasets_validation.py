"""Data handed over by a user is validated before anything runs: one line naming the file and the rule.

Every file is made here (truncated gzip, bad CRC, short IDX header, random bytes, one class, NaN or
fractional labels, infinite features); each case is checked through the library (``check_dataset``)
and through the CLI (exit 2, one ``Error:`` line, no traceback, no store created by ``sweep run``).
"""

import gzip
import os

import numpy as np
import pytest
from helpers import assert_one_line_error

from fpe_train.engine.config import TrainConfig
from fpe_train.engine.datasets import check_dataset, load_dataset, write_idx

IDX = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def fashion(folder, gz=True):
    """Four small IDX files (30 + 10 images of 28 x 28, 3 classes)."""
    folder.mkdir()
    rng = np.random.default_rng(0)
    ext = ".gz" if gz else ""
    write_idx(folder / (IDX[0] + ext), rng.integers(0, 256, (30, 28, 28)).astype(np.uint8))
    write_idx(folder / (IDX[1] + ext), (np.arange(30) % 3).astype(np.uint8))
    write_idx(folder / (IDX[2] + ext), rng.integers(0, 256, (10, 28, 28)).astype(np.uint8))
    write_idx(folder / (IDX[3] + ext), (np.arange(10) % 3).astype(np.uint8))
    return folder


def truncated_gz(tmp):
    d = fashion(tmp / "d")
    p = d / (IDX[0] + ".gz")
    p.write_bytes(p.read_bytes()[:200])
    return d, p.name, "truncated IDX file"


def bad_crc(tmp):
    d = fashion(tmp / "d")
    p = d / (IDX[1] + ".gz")
    raw = bytearray(p.read_bytes())
    raw[-6] ^= 0xFF  # inside the CRC32 trailer: the data inflate fine, the check fails
    p.write_bytes(bytes(raw))
    with pytest.raises(gzip.BadGzipFile):  # what the standard library raises, without the file's name
        gzip.decompress(p.read_bytes())
    return d, p.name, "corrupt gzip file"


def short_header(tmp):
    d = fashion(tmp / "d", gz=False)
    (d / IDX[0]).write_bytes(bytes([0, 0, 8, 3, 0, 0]))  # 3 dimensions announced, 2 bytes follow
    return d, IDX[0], "truncated IDX header"


def one_missing(tmp):
    d = fashion(tmp / "d", gz=False)
    os.remove(d / IDX[3])
    return d, IDX[3], "missing IDX file(s) t10k-labels-idx1-ubyte (optionally .gz)"


def npz(tmp, name, **arrays):
    p = tmp / name
    np.savez(p, **arrays)
    return p


X = np.random.default_rng(1).normal(size=(50, 4))


def one_class(tmp):
    return npz(tmp, "one.npz", features=X, labels=np.zeros(50, int)), "one.npz", "1 class(es)"


def nan_labels(tmp):
    y = np.r_[np.nan, np.arange(49) % 3]
    return npz(tmp, "nan.npz", features=X, labels=y), "nan.npz", "integer class labels (found NaN"


def fractional_labels(tmp):
    y = np.arange(50) % 3 + 0.5
    return npz(tmp, "frac.npz", features=X, labels=y), "frac.npz", "integer class labels (found fractions)"


def string_labels(tmp):
    y = np.array(["cat", "dog"] * 25)
    return npz(tmp, "str.npz", features=X, labels=y), "str.npz", "must hold integer class labels"


def infinite_features(tmp):
    Xi = X.copy()
    Xi[3, 1] = np.inf
    return npz(tmp, "inf.npz", features=Xi, labels=np.arange(50) % 3), "inf.npz", "must be finite"


def random_bytes(tmp):
    p = tmp / "rand.npz"
    p.write_bytes(np.random.default_rng(2).bytes(1000))
    return p, "rand.npz", "not a valid .npz file"


def truncated_npz(tmp):
    p = npz(tmp, "t.npz", features=X, labels=np.arange(50) % 3)
    p.write_bytes(p.read_bytes()[:300])
    return p, "t.npz", "not a valid .npz file"


FASHION_CASES = [truncated_gz, bad_crc, short_header, one_missing]
EMBEDDING_CASES = [
    one_class,
    nan_labels,
    fractional_labels,
    string_labels,
    infinite_features,
    random_bytes,
    truncated_npz,
]


def config_for(case, tmp_path):
    if case in FASHION_CASES:
        path, name, rule = case(tmp_path)
        return TrainConfig(task="fashion_mnist", data_path=str(path), splits=("random",)), name, rule
    path, name, rule = case(tmp_path)
    return TrainConfig(task="embeddings", data_path=str(path), splits=("random",)), name, rule


@pytest.mark.parametrize("case", FASHION_CASES + EMBEDDING_CASES, ids=lambda c: c.__name__)
def test_check_dataset_names_the_file_and_the_rule(tmp_path, case):
    config, name, rule = config_for(case, tmp_path)
    with pytest.raises(ValueError) as info:
        check_dataset(config)
    message = str(info.value)
    assert name in message and rule in message and "\n" not in message
    with pytest.raises(ValueError) as info:
        load_dataset(config)  # the loader applies the same rules
    assert name in str(info.value)


def test_the_training_set_must_hold_two_classes(tmp_path):
    # two classes in the file, but the given training split holds only class 0
    p = npz(tmp_path, "split.npz", X_train=X[:40], y_train=np.zeros(40, int), X_test=X[40:], y_test=np.arange(10) % 2)
    with pytest.raises(ValueError, match=r"split.npz: the n_train=10000 training samples hold one class"):
        check_dataset(TrainConfig(task="embeddings", data_path=str(p), splits=("random",)))


@pytest.mark.parametrize(
    "case", [truncated_gz, bad_crc, short_header, one_class, nan_labels, random_bytes], ids=lambda c: c.__name__
)
def test_cli_one_line_exit_2_and_no_store(tmp_path, case, invoke):
    config, name, rule = config_for(case, tmp_path)
    common = ["--trials", "1", "--epochs", "0", "--warmup-epochs", "0", "--split", "random"]
    assert_one_line_error(invoke("train", "--task", config.task, "--data-path", config.data_path, *common), name, rule)
    sweep = tmp_path / "s.toml"
    sweep.write_text(f'[base]\ntask = "{config.task}"\nsplits = ["random"]\ntrials = 1\n')
    store = tmp_path / "r.db"
    assert_one_line_error(
        invoke(
            "sweep", "run", sweep, "--store", store, "--executor", "serial", "--set", f"data_path={config.data_path}"
        ),
        name,
    )
    assert not store.exists()
