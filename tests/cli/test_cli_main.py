"""The console script: lazy commands and one-line errors."""

import subprocess
import sys

import pytest
from helpers import assert_one_line_error


def run_cli(*args):
    return subprocess.run([sys.executable, "-c", "import cli; cli.main()", *args], capture_output=True, text=True)


def test_help_lists_commands():
    out = run_cli("--help")
    assert out.returncode == 0
    assert "coverage" in out.stdout


@pytest.mark.parametrize("args", [["no-such-command"], ["coverage", "--m", "12.5"]])
def test_usage_errors_are_one_line_exit_2(args):
    assert_one_line_error(run_cli(*args))
