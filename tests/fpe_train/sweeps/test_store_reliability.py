"""Opening stores that are not ours, damaged, read-only, or reached through another path spelling.

Every refused file keeps its bytes (sha256) and gets no ``-wal``/``-shm``/``.lock`` file beside
it. Read-only places are made with ``chattr +i`` (the tests run as root, whom ``chmod`` does not
stop); where ``chattr`` is unavailable those tests are skipped.
"""

import hashlib
import os
import sqlite3

import pytest

from fpe_train.sweeps.store import APPLICATION_ID, SCHEMA_VERSION, ResultsStore, RunRecord

CONFIG = {"clauses": 2, "k": 2, "r": 2, "trials": 40}


def sha(path) -> str:
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def good_store(path, n=40):
    """A store of ours with n done trials (checkpointed: the whole store is in the one file)."""
    with ResultsStore(path) as s:
        (h,) = s.register("s", "quick", [CONFIG])
        for t in range(n):
            s.record(RunRecord(h, t, "done", seed=0, metrics=[{"trial": t, "variant": "dense", "note": "x" * 300}]))
    return path


def header_pragmas(path, application_id=APPLICATION_ID, user_version=SCHEMA_VERSION, tables=()):
    con = sqlite3.connect(path)
    con.execute(f"PRAGMA application_id = {application_id}")
    con.execute(f"PRAGMA user_version = {user_version}")
    for t in tables:
        con.execute(t)
    con.commit()
    con.close()


def siblings(path):
    folder, name = os.path.split(path)
    return sorted(f for f in os.listdir(folder) if f.startswith(name) and f != name)


def refused(path, *needles):
    """Refused for writing and for reading, in one line naming the file, with its bytes unchanged."""
    before = sha(path)
    for readonly in (False, True):
        with pytest.raises(ValueError) as err:
            ResultsStore(path, readonly=readonly)
        message = str(err.value)
        assert "\n" not in message and f"store={str(path)!r}" in message, message
        for n in needles:
            assert n in message, message
    assert sha(path) == before
    assert siblings(path) == []
    return message


def test_our_application_id_without_meta_is_refused_and_not_switched_to_wal(tmp_path):
    p = tmp_path / "nometa.db"
    header_pragmas(p, tables=["CREATE TABLE t (x)"])
    assert open(p, "rb").read(20)[18:20] == b"\x01\x01"  # rollback journal, as written
    refused(p, "not an fpe-theory results store", "no such table: meta")
    assert open(p, "rb").read(20)[18:20] == b"\x01\x01"  # never switched to WAL (would be 2, 2)


def test_another_applications_meta_is_refused(tmp_path):
    p = tmp_path / "other.db"
    meta = "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)"
    header_pragmas(p, tables=[meta, "INSERT INTO meta VALUES ('application', 'x')"])
    refused(p, "meta table says 'x'")


def test_meta_present_but_tables_missing_is_damaged(tmp_path):
    p = good_store(tmp_path / "r.db")
    con = sqlite3.connect(p)
    con.execute("DROP TABLE runs")
    con.commit()
    con.close()
    refused(p, "damaged results store: table(s) runs missing")


@pytest.mark.parametrize("damage", ["truncate", "scribble"])
def test_truncated_or_corrupted_store_is_damaged_with_a_recovery_hint(tmp_path, damage):
    p = good_store(tmp_path / "r.db")
    data = bytearray(p.read_bytes())
    assert len(data) >= 8 * 4096
    if damage == "truncate":
        data = data[: len(data) // 2]
    else:
        data[2 * 4096 : 4 * 4096] = bytes(range(256)) * 32  # two b-tree pages of garbage
    p.write_bytes(bytes(data))
    message = refused(p, "damaged results store")
    assert ".recover" in message


def test_empty_file_is_never_made_a_store_when_reading(tmp_path):
    p = tmp_path / "empty.db"
    p.write_bytes(b"")
    for kwargs in ({"create": False}, {"readonly": True}):
        with pytest.raises(ValueError, match="empty file, not a results store"):
            ResultsStore(p, **kwargs)
    assert p.read_bytes() == b"" and siblings(p) == []


def test_store_in_a_missing_folder(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        ResultsStore(tmp_path / "no" / "r.db")
    assert not (tmp_path / "no").exists()


def test_read_only_store_file_and_folder_read_fine_and_refuse_writing(tmp_path, immutable):
    folder = tmp_path / "ro"
    folder.mkdir()
    p = good_store(folder / "r.db")
    assert siblings(p) == []  # checkpointed and closed: no -wal left
    with ResultsStore(p, readonly=True) as s:
        expected = (s.status(), s.frame().to_dict("list"))
    before = sha(p)
    immutable(p)
    immutable(folder)
    with ResultsStore(p, readonly=True) as s:  # an immutable folder: immutable=1 open
        assert (s.status(), s.frame().to_dict("list")) == expected
    with pytest.raises(ValueError, match="read-only folder .*cannot write results here") as err:
        ResultsStore(p)
    assert "\n" not in str(err.value)
    with pytest.raises(ValueError, match="read-only folder"):
        ResultsStore(folder / "new.db")
    assert sha(p) == before and siblings(p) == [] and sorted(os.listdir(folder)) == ["r.db"]


def test_driver_lock_holds_across_symlinks_and_spellings(tmp_path, monkeypatch):
    real = tmp_path / "real"
    real.mkdir()
    p = good_store(real / "T.db", n=1)
    link = tmp_path / "link.db"
    link.symlink_to(p)
    monkeypatch.chdir(real)
    with ResultsStore(p) as a, ResultsStore(link) as b, ResultsStore("./T.db") as c:
        with a.lock():
            for other in (b, c):
                with pytest.raises(ValueError, match=r"busy: another sweep driver \(pid \d+ on "):
                    other.acquire()
        assert not os.path.exists(str(p) + ".lock")  # released: the lock file is gone
        with b.lock():  # through the symlink: the lock sits beside the real file
            assert os.path.exists(str(p) + ".lock") and not os.path.exists(str(link) + ".lock")
            with pytest.raises(ValueError, match="busy"):
                a.acquire()
    assert sorted(os.listdir(real)) == ["T.db"] and sorted(os.listdir(tmp_path)) == ["link.db", "real"]


def test_lock_file_replaced_while_locking_is_taken_afresh(tmp_path, monkeypatch):
    """A holder removes the lock file as a second driver opens it: the second locks the new file, not the old."""
    import fcntl

    from fpe_train.sweeps import store as store_module

    p = good_store(tmp_path / "r.db", n=1)
    calls = []
    real_flock = fcntl.flock

    def flock(f, op):
        fd = f if isinstance(f, int) else f.fileno()
        if os.fstat(fd).st_ino == os.stat(p).st_ino:  # the lock on the store file itself
            return real_flock(f, op)
        if not calls and op & fcntl.LOCK_EX:  # the first attempt: the old holder unlinks under our feet
            os.unlink(str(p) + ".lock")
        calls.append(os.fstat(fd).st_ino)
        return real_flock(f, op)

    monkeypatch.setattr(store_module.fcntl, "flock", flock)
    with ResultsStore(p) as s, s.lock():
        held = os.stat(str(p) + ".lock").st_ino
        assert len(calls) == 2 and calls[-1] == held
