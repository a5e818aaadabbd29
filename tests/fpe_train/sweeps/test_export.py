"""fpe_train.sweeps.export: a store's frame survives the round trip; provenance lines; refusals in one line;
nothing half-written."""

import gzip
import os

import pandas as pd
import pytest

from fpe_train.engine.config import TrainConfig
from fpe_train.engine.rows import ROW_FIELDS
from fpe_train.sweeps import export as X
from fpe_train.sweeps.store import SCHEMA_VERSION, ResultsStore, RunRecord, config_hash

MC_RECORD = {  # the shape of reports.montecarlo.to_record: [estimate, stderr, ci_low, ci_high] per quantity
    "p_all_covered": [0.25, 0.125, 0.0, 0.5],
    "expected_covered": [3.5, 0.25, 3.0, 4.0],
    "expected_collisions": [1.0, 0.5, 0.0, 2.0],
    "neurons_cover_ge1": [1.5, 0.5, 0.5, 2.5],
    "neurons_cover_ge2": [0.5, 0.25, 0.0, 1.0],
    "collision_histogram": [5, 5],
    "collision_bin_width": 1,
    "threads": 1,
    "seconds": 0.01,
}


def _configs():
    """The configs of the sweeps fig3a (quick) and fig5_vision (quick) of the synthetic store."""
    a = TrainConfig(
        clauses=4, k=2, r=2, alpha=2, splits=("random",), trials=2, curve_every=1, epochs=2, warmup_epochs=1
    )
    b = TrainConfig(task="digits", r=4, alpha=2, splits=("random", "gram"), trials=2, epochs=1, warmup_epochs=1)
    return a, b


def _store(path, partial: bool = False):
    """Two sweeps; ``partial``: the second holds one of its two trials."""
    a, b = _configs()
    with ResultsStore(path) as s:
        s.register("fig3a", "quick", [a])
        s.register("fig5_vision", "quick", [b])
        for cfg, variants in ((a, ("dense", "random")), (b, ("dense", "random", "gram"))):
            for t in range(1 if partial and cfg is b else 2):
                rows = [
                    {
                        **dict.fromkeys(ROW_FIELDS),
                        "trial": t,
                        "seed": 0,
                        "variant": v,
                        "test_accuracy": 0.5 + t / 8,
                        "train_accuracy": 0.625,
                        "nonzero_params": 20,
                        "capacity": 2.0 + i,
                        "cosine": -0.25,
                        "mask_all_covered": (True if cfg is a else None),
                        "mask_covered": (3 if cfg is a else None),
                        "seconds": 0.5,
                        "device": "cpu",
                        "test_curve": ([0.5, 0.75, 1.0] if cfg is a else None),
                    }
                    for i, v in enumerate(variants)
                ]
                s.record(RunRecord(config_hash(cfg), t, "done", seed=0, metrics=rows, seconds=1.0))
        s.put_monte_carlo("k1", dict(m=8, k=2, alpha=2, family="random", r=1, trials=10, seed=0), MC_RECORD)
        return s.frame()


def _same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    assert list(a.columns) == list(b.columns)
    assert len(a) == len(b)
    for col in a.columns:
        for x, y in zip(a[col], b[col], strict=True):
            if isinstance(x, float) and pd.isna(x) or x is None:
                assert y is None or (isinstance(y, float) and pd.isna(y)), (col, x, y)
            elif isinstance(x, bool) or isinstance(y, bool):
                assert bool(x) == bool(y) and str(x) == str(y), (col, x, y)
            elif isinstance(x, int | float) and not isinstance(x, bool):
                assert float(x) == pytest.approx(float(y), rel=0, abs=0), (col, x, y)
            else:
                assert x == y, (col, x, y)


@pytest.mark.parametrize("suffix", [".csv.gz", ".csv"])
def test_round_trip_keeps_every_cell(tmp_path, suffix):
    frame = _store(tmp_path / "s.db")
    path = tmp_path / f"rows{suffix}"
    meta = X.write_export(frame, path, {"device": "cpu", "wall_seconds": "12.5"})
    with open(path, "rb") as f:
        assert (f.read(2) == b"\x1f\x8b") == suffix.endswith(".gz")
    back, read_meta = X.read_export(path)
    _same(frame, back)
    assert back["test_curve"].dropna().map(type).eq(list).all()
    assert read_meta == meta
    assert read_meta["schema_version"] == str(SCHEMA_VERSION)
    for key in ("format", "format_version", "toolkit_version", "git_commit", "date", "device", "wall_seconds", "rows"):
        assert read_meta[key]


def test_export_store_says_which_sweeps_are_complete(tmp_path):
    _store(tmp_path / "s.db", partial=True)
    meta = X.export_store(tmp_path / "s.db", tmp_path / "e.csv.gz", meta={"preset": "quick"})
    assert meta["sweeps_complete"] == "fig3a:quick"
    assert meta["sweeps_incomplete"] == "fig5_vision:quick"
    assert meta["preset"] == "quick" and meta["device"] == "cpu"
    assert float(meta["train_seconds"]) == pytest.approx(0.5 * (2 * 2 + 1 * 3))  # rows' seconds, summed
    frame, back = X.read_export(tmp_path / "e.csv.gz")
    assert len(frame) == 2 * 2 + 1 * 3
    import json

    assert json.loads(back["monte_carlo"]) == {"k1": MC_RECORD}


def _rewrite_header(path, out, key, value):
    with gzip.open(path, "rt") as f:
        lines = f.read().splitlines(keepends=True)
    lines = [f"# {key}={value}\n" if line.startswith(f"# {key}=") else line for line in lines]
    with gzip.open(out, "wt") as f:
        f.writelines(lines)


@pytest.mark.parametrize(
    "key,value,needle",
    [
        ("schema_version", "99", "schema version 99"),
        ("format_version", "7", "format version 7"),
        ("format", "something else", "not an fpe-theory results export"),
    ],
)
def test_another_schema_or_version_is_refused_in_one_line(tmp_path, key, value, needle):
    frame = _store(tmp_path / "s.db")
    X.write_export(frame, tmp_path / "ok.csv.gz", {})
    _rewrite_header(tmp_path / "ok.csv.gz", tmp_path / "bad.csv.gz", key, value)
    with pytest.raises(ValueError, match=needle) as err:
        X.read_export(tmp_path / "bad.csv.gz")
    assert "\n" not in str(err.value)


def test_not_an_export_truncated_or_missing(tmp_path):
    (tmp_path / "plain.csv").write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="not an fpe-theory results export"):
        X.read_export(tmp_path / "plain.csv")
    with pytest.raises(ValueError, match="no such export file"):
        X.read_export(tmp_path / "none.csv.gz")
    frame = _store(tmp_path / "s.db")
    X.write_export(frame, tmp_path / "ok.csv.gz", {})
    data = (tmp_path / "ok.csv.gz").read_bytes()
    (tmp_path / "cut.csv.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="cut.csv.gz") as err:
        X.read_export(tmp_path / "cut.csv.gz")
    assert "\n" not in str(err.value)


def test_a_failed_write_leaves_nothing_behind(tmp_path, monkeypatch):
    frame = _store(tmp_path / "s.db")
    target = tmp_path / "out" / "rows.csv.gz"
    target.parent.mkdir()
    X.write_export(frame, target, {})
    before = target.read_bytes()

    def boom(self, *a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_csv", boom)
    with pytest.raises(OSError, match="disk full"):
        X.write_export(frame, target, {})
    assert target.read_bytes() == before  # the old file, untouched
    assert os.listdir(target.parent) == ["rows.csv.gz"]  # no temporary file left


def test_bad_meta_and_folder(tmp_path):
    frame = pd.DataFrame({"a": [1]})
    with pytest.raises(ValueError, match="one line"):
        X.write_export(frame, tmp_path / "x.csv", {"note": "two\nlines"})
    with pytest.raises(ValueError, match="does not exist"):
        X.write_export(frame, tmp_path / "no" / "x.csv", {})


def test_an_export_has_an_ordinary_file_mode(tmp_path):
    """Not mkstemp's 0600: a shipped export is readable like any new file (0666 less the umask)."""
    path = tmp_path / "rows.csv.gz"
    X.write_export(_store(tmp_path / "s.db"), path, {"device": "cpu"})
    umask = os.umask(0)
    os.umask(umask)
    assert os.stat(path).st_mode & 0o777 == 0o666 & ~umask


SHIPPED = os.path.join(os.path.dirname(__file__), "..", "..", "..", "results", "paper.csv.gz")


@pytest.mark.skipif(not os.path.exists(SHIPPED), reason="no shipped export in this checkout")
def test_the_shipped_paper_export_reads_with_this_schema():
    """results/paper.csv.gz is of this store schema, whole, and says which sweeps are complete."""
    from reports.presets import PAPER_SWEEPS

    frame, meta = X.read_export(SHIPPED)
    assert meta["schema_version"] == str(SCHEMA_VERSION) and int(meta["rows"]) == len(frame)
    done = {s.split(":")[0] for s in meta["sweeps_complete"].split(",") if s}
    assert done | {s.split(":")[0] for s in meta["sweeps_incomplete"].split(",") if s} == set(PAPER_SWEEPS)
    assert set(frame["variant"].dropna()) >= {"dense", "dense_warmup", "random", "clause"}
