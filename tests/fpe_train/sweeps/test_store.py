"""The SQLite results store: identity checks, never overwriting, status, frame, driver lock."""

import hashlib
import json
import sqlite3

import pytest

from fpe_train.engine.config import TrainConfig
from fpe_train.sweeps.store import (
    APPLICATION_ID,
    HASH_VERSION,
    SCHEMA_VERSION,
    ResultsStore,
    RunRecord,
    check_store,
    config_hash,
)

CFG = TrainConfig(clauses=2, k=2, r=2, splits=("random",), trials=3)


def rows(trial, acc=0.5):
    return [
        {"trial": trial, "seed": 0, "variant": v, "test_accuracy": acc, "device": "cpu"} for v in ("dense", "random")
    ]


def test_new_store_is_identified_and_in_wal_mode(tmp_path):
    p = tmp_path / "r.db"
    ResultsStore(p).close()
    con = sqlite3.connect(p)
    assert con.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    assert con.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert dict(con.execute("SELECT key, value FROM meta"))["application"] == "fpe-theory results store"
    con.close()
    check_store(p)  # ours: no error


def test_config_hash_is_sha256_of_the_non_default_fields():
    d = CFG.to_dict()
    changed = {"clauses": 2, "k": 2, "r": 2, "splits": ["random"], "trials": 3}  # CFG's non-defaults
    hashed = {k: v for k, v in changed.items() if k != "trials"}  # trials never count (independent trials)
    text = f"fpe-config-v{HASH_VERSION}:" + json.dumps(dict(sorted(hashed.items())), separators=(",", ":"))
    assert config_hash(CFG) == hashlib.sha256(text.encode()).hexdigest()
    assert config_hash(CFG) == config_hash(dict(reversed(list(d.items()))))  # key order irrelevant
    assert config_hash(CFG) == config_hash(changed)  # a field at its default counts as absent
    assert config_hash(CFG) == config_hash(TrainConfig(**{**d, "splits": ("random",), "trials": 4}))
    assert config_hash(CFG) != config_hash(TrainConfig(**{**d, "splits": ("random",), "alpha": 4}))
    assert config_hash(CFG) != config_hash(TrainConfig(**{**d, "splits": ("random",), "lr": 0.002}))


def test_a_field_added_later_keeps_old_rows(tmp_path):
    """A store written before a field existed: its rows keep their hash, the frame shows the default."""
    import dataclasses

    newest = [f.name for f in dataclasses.fields(TrainConfig)][-1]
    old = {k: v for k, v in CFG.to_dict().items() if k != newest}  # as an older toolkit would have stored it
    with ResultsStore(tmp_path / "r.db") as s:
        s.register("old", "quick", [old])
        s.record(RunRecord(config_hash(old), 0, "done", seed=0, metrics=rows(0)))
        assert s.trial_status([config_hash(CFG)]) == {(config_hash(CFG), 0): "done"}
        f = s.frame()
    assert list(f[newest]) == [getattr(TrainConfig(), newest)] * 2


def foreign_files(tmp_path):
    text = tmp_path / "notes.db"
    text.write_text("just some text, long enough to be a header of a hundred bytes? " * 3)
    other = tmp_path / "other.db"
    con = sqlite3.connect(other)
    con.execute("CREATE TABLE t (x)")
    con.commit()
    con.close()
    future = tmp_path / "future.db"
    ResultsStore(future).close()
    con = sqlite3.connect(future)
    con.execute("PRAGMA user_version = 99")
    con.close()
    return {text: "not an SQLite database", other: "application_id=0x0", future: "schema version 99"}


def test_foreign_or_incompatible_store_is_refused_untouched(tmp_path):
    for path, message in foreign_files(tmp_path).items():
        before = path.read_bytes()
        for make in (ResultsStore, check_store):
            with pytest.raises(ValueError, match=message) as err:
                make(path)
            assert "\n" not in str(err.value)
        assert path.read_bytes() == before
        assert not (tmp_path / (path.name + "-wal")).exists() or path.name == "future.db"
    with pytest.raises(ValueError, match="no such results store"):
        ResultsStore(tmp_path / "missing.db", create=False)
    assert not (tmp_path / "missing.db").exists()


def test_record_never_overwrites_done_and_replaces_failed(tmp_path):
    h = config_hash(CFG)
    with ResultsStore(tmp_path / "r.db") as s:
        s.register("demo", "quick", [CFG])
        assert s.record(RunRecord(h, 0, "failed", error="boom"))
        assert s.trial_status([h]) == {(h, 0): "failed"}
        assert s.record(RunRecord(h, 0, "done", seed=0, metrics=rows(0, 0.7)))
        assert not s.record(RunRecord(h, 0, "done", seed=0, metrics=rows(0, 0.1)))
        assert not s.record(RunRecord(h, 0, "failed", error="late"))
        s.record(RunRecord(h, 1, "failed", error="RuntimeError: boom"))
        (st,) = s.status()
        assert (st.sweep, st.size, st.configs, st.trials, st.done, st.failed, st.pending) == (
            "demo",
            "quick",
            1,
            3,
            1,
            1,
            1,
        )
        f = s.frame()
    assert list(f.loc[f.trial == 0, "test_accuracy"]) == [0.7, 0.7]
    assert f.loc[f.trial == 1, "variant"].isna().all() and list(f.loc[f.trial == 1, "error"]) == ["RuntimeError: boom"]
    assert len(f) == 3 and set(f.status) == {"done", "failed"}


def test_frame_columns_follow_the_interface(tmp_path):
    import dataclasses

    from fpe_train.engine.run import ROW_FIELDS

    other = TrainConfig(clauses=2, k=2, r=3, splits=("random",), trials=1)
    with ResultsStore(tmp_path / "r.db") as s:
        s.register("a", "quick", [CFG, other])
        s.register("b", "quick", [CFG])
        for t in range(3):
            s.record(RunRecord(config_hash(CFG), t, "done", seed=0, metrics=rows(t)))
        s.record(RunRecord(config_hash(other), 0, "done", seed=0, metrics=rows(0)))
        f, fb = s.frame(), s.frame(sweep="b")
        status = {(x.sweep, x.done) for x in s.status()}
    for name in [x.name for x in dataclasses.fields(TrainConfig)] + list(ROW_FIELDS):
        assert name in f.columns
    for name in ("config_hash", "sweep", "size", "status", "error", "version"):
        assert name in f.columns
    assert len(f) == 8 and len(fb) == 6
    assert set(f.loc[f.r == 2, "sweep"]) == {"a,b"} and set(fb.sweep) == {"b"}
    assert set(f.splits) == {'["random"]'}  # tuples as JSON strings
    assert status == {("a", 4), ("b", 3)}
    assert not f.duplicated(["config_hash", "trial", "variant"]).any()


def test_second_driver_is_refused(tmp_path):
    p = tmp_path / "r.db"
    with ResultsStore(p) as a, ResultsStore(p) as b:
        with a.lock():
            with pytest.raises(ValueError, match=r"busy: another sweep driver \(pid \d+"):
                b.acquire()
        with b.lock():  # free again once the first let go
            pass


def test_a_store_of_the_shared_batch_order_scheme_is_refused(tmp_path):
    """Schema 1 stores hold trials that depended on their trial count: refused in one line, never mixed."""
    p = tmp_path / "old.db"
    with ResultsStore(p) as s:
        s.register("x", "quick", [CFG])
    con = sqlite3.connect(p)
    con.execute("PRAGMA user_version = 1")
    con.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    con.commit()
    con.close()
    assert SCHEMA_VERSION == 2
    with pytest.raises(ValueError, match="schema version 1") as err:
        ResultsStore(p)
    assert "\n" not in str(err.value) and "schema version 2" in str(err.value)


def test_more_trials_reuse_the_stored_ones(tmp_path):
    """trials is not in the hash: a 4-trial config finds the 2-trial config's rows; the config keeps the max."""
    import dataclasses

    more = dataclasses.replace(CFG, trials=4)
    with ResultsStore(tmp_path / "r.db") as s:
        s.register("a", "quick", [CFG])
        for t in range(CFG.trials):
            s.record(RunRecord(config_hash(CFG), t, "done", seed=0, metrics=rows(t)))
        s.register("b", "quick", [more])
        assert s.trial_status([config_hash(more)]) == {(config_hash(CFG), t): "done" for t in range(CFG.trials)}
        assert set(s.frame()["trials"]) == {4}
