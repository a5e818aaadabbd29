"""Helpers of the hostile-input tests (test_cli_hostile_*.py; their fixtures are in tests/conftest.py): the command
line in a fresh process with a hang guard, byte snapshots of inputs, a small
valid store made without training (rows of a real ``TrainConfig``, metrics in range), and the edits of a
careful tamperer (rows changed, header resealed)."""

import gzip
import hashlib
import io
import os
import subprocess
import sys

from fpe_train.engine.config import TrainConfig
from fpe_train.engine.rows import ROW_FIELDS
from fpe_train.sweeps.store import ResultsStore, RunRecord, config_hash

HANG_GUARD = 120  # seconds: a command that has not ended by then hangs (each case needs a few seconds)
CONFIG = TrainConfig(
    clauses=2,
    k=2,
    r=2,
    alpha=2,
    splits=("random",),
    trials=2,
    epochs=1,
    warmup_epochs=1,
    n_train=16,
    n_test=8,
    batch_size=8,
    device="cpu",
)
MC_RECORD = {  # the shape of reports.montecarlo.to_record
    "p_all_covered": [0.25, 0.125, 0.0, 0.5],
    "expected_covered": [1.5, 0.25, 1.0, 2.0],
    "expected_collisions": [1.0, 0.5, 0.0, 2.0],
    "neurons_cover_ge1": [1.5, 0.5, 0.5, 2.5],
    "neurons_cover_ge2": [0.5, 0.25, 0.0, 1.0],
    "collision_histogram": [5, 5],
    "collision_bin_width": 1,
    "threads": 1,
    "seconds": 0.01,
}


def run_cli(*args, timeout=HANG_GUARD, env=None, cwd=None, stdin=None):
    """``fpe-theory ARGS`` in a fresh interpreter (this checkout's cli.py): (exit code, stdout, stderr)."""
    command = [sys.executable, "-c", "import cli; cli.main()", *[str(a) for a in args]]
    full_env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), **(env or {})}
    proc = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=full_env,
        cwd=cwd,
        stdin=stdin if stdin is not None else subprocess.DEVNULL,
    )
    return proc.returncode, proc.stdout, proc.stderr


def digest(path) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


class Snapshot:
    """sha256 and (device, inode, mode) of files, to show afterwards that not one byte or node changed."""

    def __init__(self, *paths):
        self.paths = [str(p) for p in paths]
        self.before = {p: self._state(p) for p in self.paths}

    @staticmethod
    def _state(p):
        st = os.lstat(p)
        body = digest(p) if os.path.isfile(p) and not os.path.islink(p) else None
        return (st.st_dev, st.st_ino, st.st_mode, body)

    def unchanged(self) -> bool:
        after = {p: self._state(p) for p in self.paths}
        return after == self.before


def make_store(path, config=CONFIG, rows=None, monte_carlo=True):
    """A store of one sweep ``tiny`` (quick) with both trials of ``config`` done; ``rows(t)`` overrides rows."""

    def default(t):
        return [
            {
                **dict.fromkeys(ROW_FIELDS),
                "trial": t,
                "seed": config.seed,
                "variant": v,
                "test_accuracy": 0.5 + t / 8 + i / 16,
                "train_accuracy": 0.75,
                "nonzero_params": 12,
                "capacity": 1.5,
                "cosine": 0.25,
                "abs_cosine": 0.5,
                "mask_covered": 2,
                "mask_all_covered": True,
                "mask_collisions": 1,
                "seconds": 0.5,
                "device": "cpu",
            }
            for i, v in enumerate(("dense", "dense_warmup", "random"))
        ]

    with ResultsStore(path) as s:
        s.register("tiny", "quick", [config])
        for t in range(config.trials):
            s.record(
                RunRecord(
                    config_hash(config),
                    t,
                    "done",
                    seed=config.seed,
                    metrics=(rows or default)(t),
                    seconds=0.5,
                    device="cpu",
                )
            )
        if monte_carlo:
            s.put_monte_carlo("a" * 64, dict(m=4, k=2, alpha=2, family="random", r=2, trials=10, seed=0), MC_RECORD)
    return path


def read_lines(path) -> list[bytes]:
    """The decompressed lines of an export (keeping their ends)."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rb") as f:
        return io.BytesIO(f.read()).readlines()


def write_lines(path, lines) -> None:
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "wb") as f:
        f.write(b"".join(lines))


def reseal(lines: list[bytes]) -> list[bytes]:
    """An edited export with its header made to agree (rows, body_sha256): what a careful tamperer writes."""
    head = [x for x in lines if x.startswith(b"# ")]
    body = b"".join(x for x in lines if not x.startswith(b"# "))
    n = body.count(b"\n") - 1
    fixed = []
    for x in head:
        if x.startswith(b"# rows="):
            x = b"# rows=%d\n" % n
        elif x.startswith(b"# body_sha256="):
            x = b"# body_sha256=" + hashlib.sha256(body).hexdigest().encode() + b"\n"
        fixed.append(x)
    return fixed + [body]


def tamper(path, edit, header=None, seal=True) -> None:
    """Edit the rows of an export as text (``edit(frame of str) -> frame``), keep its header lines (or
    ``header(lines) -> lines``), and reseal rows and body_sha256 unless ``seal`` is False."""
    import pandas as pd

    lines = read_lines(path)
    head = [x for x in lines if x.startswith(b"# ")]
    body = b"".join(x for x in lines if not x.startswith(b"# "))
    frame = pd.read_csv(io.BytesIO(body), dtype=str, keep_default_na=False)
    new_body = edit(frame).to_csv(index=False, lineterminator="\n").encode() if edit else body
    head = header(head) if header else head
    out = head + [new_body]
    write_lines(path, reseal(out) if seal else out)


def rehash(frame, **changes):
    """Set config columns of every row and put the matching config_hash (a careful tamperer's edit)."""
    import json

    from fpe_train.engine.config import TrainConfig

    for k, v in changes.items():
        frame[k] = str(v)
    d = CONFIG.to_dict()
    d.update({k: v for k, v in changes.items()})
    d.pop("device")
    settings = {**json.loads(json.dumps(d)), "device": "cpu"}
    frame["config_hash"] = config_hash(TrainConfig(**{**settings, "splits": tuple(settings["splits"])}))
    return frame
