"""Reports: statistics (statsmodels, scipy.stats), paper-style figures (matplotlib) and the LaTeX/PDF build.

Entry point: ``reports.build.build_report`` (CLI: ``fpe-theory report``; the ledger alone:
``fpe-theory claims``). Modules: ``stats`` (paired tests, intervals, power, Holm, best-of-T,
cluster-robust OLS; docs/statistics.md), ``analysis`` (per-configuration tables and regressions),
``claims`` (the claims ledger and its verdict rule), ``findings`` (the first page), ``theory``
(exact vs paper, Monte Carlo, prediction vs reality), ``figures``, ``sections`` (LaTeX tables),
``content`` (assembly), ``latex``, ``presets`` and ``paper_numbers`` (the paper's own numbers, quoted).
"""
