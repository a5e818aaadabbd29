"""The rendering layer: the computing layer's data as LaTeX tables and text, matplotlib figures and the PDF.

``latex`` (escaping, number formats, tables, the Jinja2 template, the PDF build), ``tables`` (the report's
tables), ``figures`` (the report's figures), ``formulas`` (the A.5 formulas typeset by sympy), ``findings``
(the first page). Reads ``reports.compute``; never imported by it.
"""
