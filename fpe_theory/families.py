"""Mask families: how a parent's m inputs are dealt to its alpha children (docs/design.md).

The names are the training splits' names (``fpe_train.fpe.splits``), so one word means one
mask law everywhere:

- ``random``: each parent's m inputs are split uniformly at random into alpha disjoint
  blocks of d (what FPE builds; the paper's "random split"); parents independent,
  children of one parent are not. CLI alias: ``partition``.
- ``overlap``: each of the alpha*r children is an independent uniform d-subset
  (the paper's analysis, A.5; children of one parent may overlap). CLI alias: ``independent``.
- ``structured_2_4``: alpha = 2; every group of 4 consecutive inputs is split 2/2 between
  the two children (each of the 6 ways equally likely; groups and parents independent).
- ``clause``: whole clauses dealt at random to the alpha children, C/alpha each.

>>> from fpe_theory import Problem
>>> check_family(Problem(m=8, k=2, alpha=2), "clause")
'clause'
"""

from __future__ import annotations

from fpe_theory.problem import Problem

FAMILIES: tuple[str, ...] = ("overlap", "random", "structured_2_4", "clause")
ALIASES: dict[str, str] = {"independent": "overlap", "partition": "random"}  # accepted by the CLI only


STRUCTURED_2_4_ALPHA = 2  # 2:4 sparsity: every group of 4 inputs split 2/2 between two children


def check_structured_2_4_alpha(alpha: int) -> None:
    """The one rule of every structured_2_4 mask (theory family and training split): alpha = 2.

    >>> check_structured_2_4_alpha(4)
    Traceback (most recent call last):
    ...
    ValueError: alpha=4: structured_2_4 needs alpha=2
    """
    if alpha != STRUCTURED_2_4_ALPHA:
        raise ValueError(f"alpha={alpha}: structured_2_4 needs alpha={STRUCTURED_2_4_ALPHA}")


def canonical_family(name: str) -> str:
    """The family's own name for ``name`` or one of its CLI aliases (``partition`` -> ``random``)."""
    return ALIASES.get(name, name)


def check_family(problem: Problem, family: str) -> str:
    """Return ``family`` if it is defined for ``problem``, else raise a one-line ValueError."""
    if family not in FAMILIES:
        raise ValueError(f"family={family!r}: must be one of {', '.join(FAMILIES)}")
    if family == "structured_2_4":
        check_structured_2_4_alpha(problem.alpha)
        if problem.m % 4:
            raise ValueError(f"m={problem.m}: family structured_2_4 needs m to be a multiple of 4")
    if family == "clause" and problem.clauses % problem.alpha:
        raise ValueError(
            f"alpha={problem.alpha}: family clause needs alpha to divide the number of clauses C={problem.clauses}"
        )
    return family


def defined_families(problem: Problem) -> tuple[str, ...]:
    """The families that ``check_family`` accepts for ``problem``, in FAMILIES order."""
    out = []
    for family in FAMILIES:
        try:
            check_family(problem, family)
        except ValueError:
            continue
        out.append(family)
    return tuple(out)
