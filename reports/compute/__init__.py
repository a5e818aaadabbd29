"""The computing layer: the stored frame and exact theory turned into plain data.

``frame`` (paired rows, per-configuration statistics, regressions), ``theory`` (exact numbers beside the
paper's approximations, Monte Carlo, prediction vs reality), ``claims`` (the claims ledger and its verdict
rule), ``selection`` (which stored sweeps feed which figure), ``run_summary`` (what was run). Nothing here
writes LaTeX, draws, or imports ``reports.render``.
"""
