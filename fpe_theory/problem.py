"""The problem every part of the toolkit talks about (docs/design.md, paper A.5).

m Boolean literals, clauses of k literals (C = m/k, disjoint), expansion factor
alpha, children of d = m/alpha inputs. Clause j is literals jk..jk+k-1 unless a
permutation of the literals is given.
"""

from __future__ import annotations

from dataclasses import dataclass

from fpe_theory.validate import check_divides, check_int


@dataclass(frozen=True)
class Problem:
    """A DNF coverage problem: ``Problem(m=128, k=4, alpha=4)``.

    >>> p = Problem(m=128, k=4, alpha=4)
    >>> (p.clauses, p.d)
    (32, 32)
    """

    m: int
    k: int
    alpha: int
    permutation: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "m", check_int("m", self.m, minimum=1))
        object.__setattr__(self, "k", check_int("k", self.k, minimum=1))
        object.__setattr__(self, "alpha", check_int("alpha", self.alpha, minimum=2))
        check_divides("k", self.k, "m", self.m)
        check_divides("alpha", self.alpha, "m", self.m)
        if self.permutation is not None:
            perm = tuple(int(i) for i in self.permutation)
            if sorted(perm) != list(range(self.m)):
                raise ValueError(f"permutation={self.permutation!r}: must be a permutation of 0..m-1 (m={self.m})")
            object.__setattr__(self, "permutation", perm)

    @property
    def clauses(self) -> int:
        """C = m / k, the number of disjoint clauses."""
        return self.m // self.k

    @property
    def d(self) -> int:
        """d = m / alpha, inputs per child."""
        return self.m // self.alpha

    def clause_list(self) -> list[tuple[int, ...]]:
        """The literal indices of each clause (consecutive blocks, or via the permutation)."""
        return clause_blocks(self.m, self.k, self.permutation)


def clause_blocks(m: int, k: int, permutation: tuple[int, ...] | None = None) -> list[tuple[int, ...]]:
    """Clause j = literals jk..jk+k-1 of ``permutation`` (default the identity): the m/k disjoint clauses.

    >>> clause_blocks(6, 3)
    [(0, 1, 2), (3, 4, 5)]
    """
    order = permutation if permutation is not None else tuple(range(m))
    return [tuple(order[j * k : (j + 1) * k]) for j in range(m // k)]
