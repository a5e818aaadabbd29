"""Reports: statistics (statsmodels, scipy.stats), paper-style figures (matplotlib) and the LaTeX/PDF build.

Entry point: ``reports.build.build_report`` (CLI: ``fpe-theory report``). Modules: ``analysis``
(relative improvement, Welch tests, OLS), ``theory`` (exact vs paper, Monte Carlo, prediction vs
reality), ``figures``, ``sections`` (LaTeX tables), ``content`` (assembly), ``latex``,
``presets`` and ``paper_numbers`` (the paper's own numbers, quoted).
"""
