"""Checks every test folder shares (the fixtures are in tests/conftest.py; this folder is on sys.path while the
tests run, so ``from helpers import assert_one_line_error``)."""

import json
import subprocess

# [base] of the smallest sweep file the commands accept: one trial of a 2-clause Boolean DNF at r = 2 on CPU.
TINY_SWEEP = dict(
    task="boolean",
    clauses=2,
    k=2,
    r=2,
    splits=["random"],
    trials=1,
    warmup_epochs=1,
    epochs=1,
    n_train=16,
    n_test=8,
    device="cpu",
)


def sweep_toml(name="tiny", description=None, grid=None, sizes=None, **base) -> str:
    """The text of a sweep file: ``TINY_SWEEP`` with ``base`` changes (a value of None drops the field), then
    ``[grid]`` and ``[sizes.NAME]`` tables from dicts.

    >>> print(sweep_toml(trials=2, r=None, grid={"r": [2, 3]}).splitlines()[-2:])
    ['[grid]', 'r = [2, 3]']
    """
    fields = {k: v for k, v in {**TINY_SWEEP, **base}.items() if v is not None}
    lines = ["[sweep]", f"name = {json.dumps(name)}"]
    lines += [f"description = {json.dumps(description)}"] if description is not None else []
    lines += ["[base]", *(f"{k} = {json.dumps(v)}" for k, v in fields.items())]
    if grid:
        lines += ["[grid]", *(f"{k} = {json.dumps(v)}" for k, v in grid.items())]
    for size, changes in (sizes or {}).items():
        lines += [f"[sizes.{size}]", *(f"{k} = {json.dumps(v)}" for k, v in changes.items())]
    return "\n".join(lines) + "\n"


def _code_out_err(result) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of a subprocess, a click ``Result``, or such a triple (``invoke``'s)."""
    if isinstance(result, subprocess.CompletedProcess):
        return result.returncode, result.stdout, result.stderr
    if hasattr(result, "exit_code") and not isinstance(result, tuple):
        return result.exit_code, result.stdout, result.stderr
    code, out, err = result
    return code, out, err


def assert_one_line_error(result, *needles, exit_code=2, alone=True, quiet=False) -> str:
    """The command refused as the toolkit promises: exit ``exit_code``, exactly one ``Error:`` line on stderr
    holding every needle (the parameter, its value, the rule), no traceback, (``alone``) nothing else on
    stderr (``alone=False`` where the command printed its plan before refusing, as ``sweep run`` does) and
    (``quiet``) nothing on stdout. Returns the line."""
    code, out, err = _code_out_err(result)
    lines = [x for x in err.splitlines() if x.startswith("Error:")]
    assert code == exit_code, (code, out, err)
    assert len(lines) == 1, err
    assert "Traceback" not in out + err, err
    if alone:
        assert [x for x in err.splitlines() if x.strip()] == lines, err
    if quiet:
        assert not out.strip(), out
    for n in needles:
        assert str(n) in lines[0], (n, lines[0])
    return lines[0]
