"""Reports: the claims ledger, statistics, paper-style figures and the LaTeX/PDF build.

Entry point: ``reports.build.build_report`` (CLI: ``fpe-theory report``; the ledger alone:
``fpe-theory claims``). Two layers: ``reports.compute`` turns the stored frame and exact theory into
plain data (``frame``, ``theory``, ``claims``, ``selection``, ``run_summary``); ``reports.render`` turns
that data into LaTeX, figures and the PDF (``latex``, ``tables``, ``figures``, ``formulas``, ``findings``).
``assemble`` hands the one to the other. Beside them: ``stats`` (paired tests, intervals, power, Holm,
best-of-T, cluster-robust OLS; docs/statistics.md), ``paper_numbers`` (the paper's own numbers, quoted),
``presets``, ``montecarlo`` (the report's Monte Carlo step) and ``shipped`` (reading an export).
"""
