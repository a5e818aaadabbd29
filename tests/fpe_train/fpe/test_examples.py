"""The example scripts run end to end (subprocess, tiny epochs) and print what they promise."""

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def run(*args):
    return subprocess.run([sys.executable, *map(str, args)], capture_output=True, text=True, timeout=300)


def test_digits_example_prints_accuracies_and_equal_budgets():
    out = run(EXAMPLES / "digits_fpe.py", "--warmup-epochs", 2, "--epochs", 2, "--rewire-every", 5)
    assert out.returncode == 0, out.stderr
    rows = re.findall(r"^(\S+)\s+(\d+)\s+(\d+)\s+([01]\.\d{3})$", out.stdout, re.M)
    assert [r[0] for r in rows] == ["dense", "random", "gram", "random+rewire"]
    assert {int(r[2]) for r in rows} == {64 * 8 + 8 * 10}  # every variant at the dense budget
    assert [int(r[1]) for r in rows] == [8, 32, 32, 32]
    assert all(0.3 < float(r[3]) <= 1.0 for r in rows)  # trained at all (chance is 0.1)


def test_checkpoint_example_demo_mode():
    out = run(EXAMPLES / "expand_checkpoint.py", "--epochs", 1, "--demo-epochs", 2)
    assert out.returncode == 0, out.stderr
    assert "reloaded: outputs identical" in out.stdout
    assert "nonzero weights: dense 592, fpe 592" in out.stdout
    assert re.search(r"test accuracy dense 0\.\d{3}, fpe 0\.\d{3}", out.stdout)


def test_checkpoint_example_user_file_with_layernorm(tmp_path):
    torch.manual_seed(0)
    user = nn.Sequential(nn.Linear(12, 6), nn.LayerNorm(6), nn.GELU(), nn.Linear(6, 6), nn.GELU(), nn.Linear(6, 3))
    path = tmp_path / "mine.pt"
    torch.save(user.state_dict(), path)
    out = run(EXAMPLES / "expand_checkpoint.py", path, "--activation", "gelu", "--out", tmp_path / "fpe.pt")
    assert out.returncode == 0, out.stderr
    assert "nonzero weights: dense 126, fpe 126" in out.stdout and (tmp_path / "fpe.pt").exists()
    assert "(1): LayerNorm((12,)" in out.stdout


def test_checkpoint_example_bad_split_one_line_exit_2(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("expand_checkpoint", EXAMPLES / "expand_checkpoint.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    path = tmp_path / "mine.pt"
    torch.save(nn.Sequential(nn.Linear(8, 4), nn.ReLU(), nn.Linear(4, 2)).state_dict(), path)
    with pytest.raises(SystemExit) as exit_info:
        module.main([str(path), "--split", "structured_2_4", "--alpha", "3"])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.strip() == "Error: alpha=3: structured_2_4 needs alpha=2"
