"""Files that could hang a command or pass a wrong number silently: FIFOs, huge or nested TOML, damaged,
cut and tampered exports (resealed with a matching row count and checksum, as a careful tamperer would),
edited stores. Each: exit 2, one ``Error:`` line naming the file or field, every input byte-identical, in
a fresh process under a hang guard (conftest.run_cli); bounded where the command must still finish."""

import gzip
import json
import os
import sqlite3
import stat
import zlib

import pytest
from helpers import assert_one_line_error
from hostile import MC_RECORD, Snapshot, read_lines, rehash, reseal, run_cli, tamper, write_lines


@pytest.fixture
def fifo(tmp_path):
    path = tmp_path / "pipe"
    os.mkfifo(path)
    yield path
    assert stat.S_ISFIFO(os.lstat(path).st_mode)  # still the FIFO it was


# ---------------------------------------------------------------- 2. hangs: FIFOs, TOML, huge values


@pytest.mark.parametrize(
    "args",
    [
        ["sweep", "status", "--store", "{fifo}"],
        ["sweep", "export", "--store", "{fifo}", "--out", "{tmp}/rows.csv"],
        ["sweep", "run", "case_study", "--store", "{fifo}", "--executor", "serial"],
        ["claims", "--store", "{fifo}"],
        ["report", "--no-run", "--store", "{fifo}", "--out", "{tmp}/D"],
        ["report", "--from", "{fifo}", "--out", "{tmp}/D"],
        ["sweep", "plan", "{fifo}", "--no-eta"],
    ],
    ids=["status", "export", "run", "claims", "report-store", "report-from", "plan"],
)
def test_a_fifo_is_refused_without_opening_it(fifo, tmp_path, args):
    args = [a.format(fifo=fifo, tmp=tmp_path) for a in args]
    assert_one_line_error(run_cli(*args), "FIFO", str(fifo))
    assert not (tmp_path / "D").exists() and not (tmp_path / "rows.csv").exists()


@pytest.mark.parametrize(
    "body, needle",
    [
        ("[base]\n" + "a" + ".b" * 100_000 + " = 1\n", "dotted key"),
        ("[base]\nsplits = " + "[" * 10_000 + "]" * 10_000 + "\n", "nested deeper"),
        ("[base]\nx = " + "{a = " * 5_000 + "1" + "}" * 5_000 + "\n", "nested deeper"),
        ("[base]\nseed = 1" + "0" * 5_000 + "\n", "longer than"),
    ],
    ids=["dotted-100000", "arrays-10000", "inline-tables-5000", "int-5000-digits"],
)
def test_a_sweep_file_that_would_exhaust_the_parser_is_refused(tmp_path, tiny_sweep_file, body, needle):
    path = tiny_sweep_file(file="evil.toml")
    path.write_text(path.read_text().replace("[base]\n", body))
    snap = Snapshot(path)
    line = assert_one_line_error(
        run_cli("sweep", "run", path, "--store", tmp_path / "r.db", "--executor", "serial"), needle
    )
    assert f"{path}:" in line and snap.unchanged() and not (tmp_path / "r.db").exists()


@pytest.mark.parametrize("value", ["[" * 5000 + "]" * 5000, "{a = " * 3000 + "1" + "}" * 3000, "1" * 5000])
def test_a_set_value_that_would_exhaust_the_parser_is_refused(tiny_sweep_file, value):
    path = tiny_sweep_file()
    assert_one_line_error(run_cli("sweep", "plan", path, "--no-eta", "--set", f"splits={value}"), "--set splits")


def test_rows_saying_a_million_clauses_do_not_hang_exact_theory(export, tmp_path):
    tamper(export, lambda f: rehash(f, clauses=1_000_000))  # resealed: passes every check of the file
    snap = Snapshot(export)
    code, out, err = run_cli(
        "report",
        "--from",
        export,
        "--out",
        tmp_path / "D",
        "--no-progress",
        "--json",
        env={"PATH": "/usr/bin/nonexistent"},
    )  # (no LaTeX: report.tex only)
    assert code == 0 and "Traceback" not in err, err
    assert json.loads(out)["tex"].endswith("report.tex") and snap.unchanged()


@pytest.mark.parametrize("field, value", [("r", 10**12), ("clauses", "inf"), ("alpha", 0), ("k", -3)])
def test_rows_with_config_values_the_cli_refuses_are_refused(export, tmp_path, field, value):
    tamper(export, lambda f: f.assign(**{field: str(value)}))  # checked before the hash
    snap = Snapshot(export)
    assert_one_line_error(run_cli("report", "--from", export, "--out", tmp_path / "D"), "from=", f"{field}=")
    assert snap.unchanged() and not (tmp_path / "D").exists()


# ---------------------------------------------------------------- 3. silently wrong: tampered exports


@pytest.mark.parametrize("value", ["inf", "1.5", "-0.25", "nan-ish", ""])
def test_an_accuracy_out_of_range_is_refused(export, tmp_path, value):
    def edit(f):
        f.loc[0, "test_accuracy"] = value
        return f

    tamper(export, edit)
    snap = Snapshot(export)
    assert_one_line_error(
        run_cli("report", "--from", export, "--out", tmp_path / "D"), "from=", "test_accuracy", "row 1"
    )
    assert snap.unchanged() and not (tmp_path / "D").exists()


def test_a_duplicated_column_is_refused(export, tmp_path):
    body = [x for x in read_lines(export) if not x.startswith(b"# ")]
    head = [x for x in read_lines(export) if x.startswith(b"# ")]
    body = [body[0].rstrip(b"\n") + b",test_accuracy\n"] + [x.rstrip(b"\n") + b",0.5\n" for x in body[1:]]
    write_lines(export, reseal(head + body))
    assert_one_line_error(
        run_cli("report", "--from", export, "--out", tmp_path / "D"), "column 'test_accuracy' appears twice"
    )


@pytest.mark.parametrize("conflict", [False, True], ids=["identical", "conflicting"])
def test_a_repeated_row_is_refused(export, tmp_path, conflict):
    import pandas as pd

    def edit(f):
        extra = f.iloc[[0]].copy()
        if conflict:
            extra["test_accuracy"] = "0.125"
        return pd.concat([f, extra], ignore_index=True)

    tamper(export, edit)
    assert_one_line_error(run_cli("report", "--from", export, "--out", tmp_path / "D"), "rows 1 and 7", "the same")


def test_an_export_cut_inside_its_last_row_is_refused(tmp_path, store):
    from fpe_train.sweeps.export import export_store

    out = tmp_path / "E.csv"
    export_store(store, out)  # the provenance format, plain text
    data = out.read_bytes()
    cut = data.rstrip(b"\n")
    cut = cut[: cut.rindex(b",", 0, len(cut) - 30) - 2] + b"\n"  # a number cut short, the row count intact
    out.write_bytes(cut)
    assert_one_line_error(run_cli("report", "--from", out, "--out", tmp_path / "D"), "body_sha256")


def test_an_edited_config_on_some_rows_is_refused(export, tmp_path):
    def edit(f):
        f.loc[0, "clauses"] = "3"  # one row of the config says otherwise
        return f

    tamper(export, edit)
    assert_one_line_error(run_cli("report", "--from", export, "--out", tmp_path / "D"), "rows disagree on clauses")


@pytest.mark.parametrize("p", [5.0, -0.5])
def test_a_monte_carlo_probability_out_of_range_is_refused(export, tmp_path, p):
    record = {**MC_RECORD, "p_all_covered": [p, 0.1, 0.0, 1.0]}

    def header(lines):
        return [
            b"# monte_carlo=" + json.dumps({"b" * 64: record}).encode() + b"\n"
            if x.startswith(b"# monte_carlo=")
            else x
            for x in lines
        ]

    tamper(export, None, header=header)
    assert_one_line_error(run_cli("report", "--from", export, "--out", tmp_path / "D"), "monte_carlo", "p_all_covered")


# ---------------------------------------------------------------- 3. silently wrong: edited stores


def _edit_store(path, sql):
    conn = sqlite3.connect(path)
    conn.execute(sql)
    conn.commit()
    conn.close()
    for side in ("-wal", "-shm"):
        if os.path.exists(f"{path}{side}"):
            os.unlink(f"{path}{side}")


@pytest.mark.parametrize("value", ["1.5", "-0.25", "1e999"])
def test_an_edited_store_with_an_accuracy_out_of_range_is_refused(store, tmp_path, value):
    _edit_store(
        store,
        f"UPDATE runs SET metrics = replace(metrics, '\"test_accuracy\": 0.5,', "
        f"'\"test_accuracy\": {value},') WHERE trial = 0",
    )
    snap = Snapshot(store)
    assert_one_line_error(run_cli("claims", "--store", store), f"store={str(store)!r}", "test_accuracy")
    assert_one_line_error(run_cli("sweep", "export", "--store", store, "--out", tmp_path / "rows.csv"), "test_accuracy")
    assert snap.unchanged() and not (tmp_path / "rows.csv").exists()


@pytest.mark.parametrize("column, value", [("alpha", 0), ("k", -3)])
def test_an_edited_store_with_a_bad_monte_carlo_case_is_refused(store, tmp_path, column, value):
    _edit_store(store, f"UPDATE mc_results SET {column} = {value}")
    snap = Snapshot(store)
    assert_one_line_error(
        run_cli("report", "--no-run", "--store", store, "--out", tmp_path / "D"), f".{column}={value}"
    )
    assert snap.unchanged()


# ---------------------------------------------------------------- 5. tracebacks: damaged exports


def test_a_missing_column_is_named(export, tmp_path):
    tamper(export, lambda f: f.drop(columns=["test_accuracy"]))
    assert_one_line_error(
        run_cli("report", "--from", export, "--out", tmp_path / "D"), "missing column(s) test_accuracy"
    )


def test_a_malformed_monte_carlo_line_is_named(export, tmp_path):
    def header(lines):
        return [b"# monte_carlo={broken\n" if x.startswith(b"# monte_carlo=") else x for x in lines]

    tamper(export, None, header=header)
    assert_one_line_error(run_cli("report", "--from", export, "--out", tmp_path / "D"), "monte_carlo is not JSON")


def test_a_gzip_bomb_is_refused_within_the_cap(export, tmp_path):
    """A cell that decompresses to 300 MB: refused at the 256 MiB cap, never read whole."""
    head = b"".join(x for x in read_lines(export) if x.startswith(b"# "))
    bomb = tmp_path / "bomb.csv.gz"
    with open(bomb, "wb") as raw:
        z = zlib.compressobj(9, zlib.DEFLATED, 31)
        raw.write(z.compress(head + b"trial,config_hash,variant,test_accuracy\n0,h,dense,"))
        block = b"7" * (1 << 20)
        for _ in range(300):
            raw.write(z.compress(block))
        raw.write(z.compress(b"\n") + z.flush())
    assert os.path.getsize(bomb) < 2 << 20
    assert_one_line_error(run_cli("report", "--from", bomb, "--out", tmp_path / "D"), "larger than 256 MiB")


def test_a_store_given_as_an_export_and_the_reverse_say_which_flag(store, export, tmp_path):
    assert_one_line_error(run_cli("report", "--from", store, "--out", tmp_path / "D"), "is a results store", "--store")
    assert_one_line_error(run_cli("claims", "--store", export), "is a results export", "--from")


def test_a_header_line_over_the_cap_is_refused(export, tmp_path):
    lines = read_lines(export)
    big = b"# note=" + b"x" * (17 << 20) + b"\n"
    with gzip.open(export, "wb") as f:
        f.write(b"".join(lines[:1] + [big] + lines[1:]))
    assert_one_line_error(run_cli("report", "--from", export, "--out", tmp_path / "D"), "header line is longer")
