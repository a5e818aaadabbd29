"""Reading a results store needs pandas, not torch or numba (a fresh interpreter, checked via sys.modules)."""

import subprocess
import sys

SCRIPT = """
import sys
from fpe_train.sweeps.store import ResultsStore
with ResultsStore(sys.argv[1]) as s:
    s.put_monte_carlo("k", dict(m=4, k=2, alpha=2, family="random", r=1, trials=1, seed=0), {"x": 1})
with ResultsStore(sys.argv[1], create=False) as s:
    frame, mc = s.frame(), s.monte_carlo()
print(len(frame.columns), len(mc), sorted(m for m in ("torch", "numba", "llvmlite") if m in sys.modules))
"""


def test_reading_a_store_imports_no_torch(tmp_path):
    res = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / "r.db")], capture_output=True, text=True,
                         timeout=120)  # fmt: skip
    assert res.returncode == 0, res.stderr
    n_columns, n_mc, heavy = res.stdout.split(maxsplit=2)
    assert int(n_columns) > 20 and int(n_mc) == 1 and heavy.strip() == "[]"
