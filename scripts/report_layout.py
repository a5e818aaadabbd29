"""Build the full-size report from the shipped rows and count LaTeX's overfull boxes wider than 1 pt.

    .venv/bin/python scripts/report_layout.py                 # build from results/paper.csv.gz into a temp folder
    .venv/bin/python scripts/report_layout.py --out report/   # ... into report/ (kept)
    .venv/bin/python scripts/report_layout.py --log report/report.log   # only read a finished build's log

Prints the count beside its reference (0), each box, and the page count; exits 1 when a box is wider than
1 pt. The quick build is checked by tests/reports/test_reports_build.py.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from reports.render.latex import overfull_boxes  # noqa: E402


def build(out: Path) -> Path:
    """``fpe-theory report --from results/paper.csv.gz --out out`` in a fresh interpreter; the log's path."""
    cmd = [
        sys.executable,
        "-c",
        "import cli; cli.main()",
        "report",
        "--from",
        str(ROOT / "results" / "paper.csv.gz"),
        "--out",
        str(out),
        "--no-progress",
    ]
    subprocess.run(cmd, check=True, cwd=ROOT)
    return out / "report.log"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="build into this folder (default: a temporary one)")
    parser.add_argument("--log", type=Path, help="read this report.log instead of building")
    args = parser.parse_args()
    if args.log:
        log = args.log
        boxes = overfull_boxes(log.read_text(errors="replace"))
    else:
        with tempfile.TemporaryDirectory() as tmp:
            log = build(args.out or Path(tmp))
            boxes = overfull_boxes(log.read_text(errors="replace"))
            pages = _pages(log.with_suffix(".pdf"))
            print(f"pages: {pages}")
    print(f"overfull boxes wider than 1 pt: {len(boxes)} (reference: 0)")
    for box in boxes:
        print(f"  {box}")
    return 1 if boxes else 0


def _pages(pdf: Path) -> str:
    try:
        info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return "?"
    return next((line.split()[-1] for line in info.splitlines() if line.startswith("Pages:")), "?")


if __name__ == "__main__":
    sys.exit(main())
