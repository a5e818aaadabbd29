"""The docstring examples of the theory modules run and hold."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["families", "exact", "law", "subsets", "structured", "symbolic", "brute", "bigint"]


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name):
    module = importlib.import_module(f"fpe_theory.{name}")
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0
