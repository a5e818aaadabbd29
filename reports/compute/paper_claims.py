"""The paper's claims that the ledger tests, each with the sentence it quotes, and the checks it adds.

Every entry of ``PAPER_CLAIMS`` quotes the paper ("Expand Neurons, Not Parameters", text in the
project's paper folder) verbatim, with the section, figure or table it comes from; ``BEYOND_PAPER``
holds checks the paper does not make (they are shown apart and never counted among its claims).
``name`` says what the entry tests; ``id`` is the short label printed in tables.

>>> PAPER_CLAIMS["E1a"].name
'case_study_random_split_beats_dense'
>>> all(q.quote for q in PAPER_CLAIMS.values())
True
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PaperClaim:
    """One claim: ``quote`` is the paper's sentence, ``source`` where it is printed."""

    id: str
    name: str
    claim: str
    source: str
    quote: str
    in_paper: bool = True


def _c(id_, name, claim, source, quote, in_paper=True) -> PaperClaim:
    return PaperClaim(id_, name, claim, source, quote, in_paper)


_CLAIMS = (
    _c(
        "T1",
        "single_child_covers_clause_about_alpha_to_minus_k",
        "a child covers a clause w.p. about (1/alpha)^k",
        "A.5",
        "For large m and d, p is well approximated by p = C(m-k, d-k)/C(m, d) ~ (d/m)^k = (1/alpha)^k",
    ),
    _c(
        "T2",
        "collisions cut by about alpha_to_minus_2k_minus_1",
        "collisions cut by about alpha^-(2k-1)",
        "Sec. 2.5, A.5",
        "We find that it preserves clause coverage with high probability while cutting expected clause "
        "collisions by ~ alpha^-(2k-1)",
    ),
    _c(
        "T3",
        "paper_r_covers_every_clause_with_prob_1_minus_eps",
        "r > alpha^(k-1) ln(C/eps) covers all clauses",
        "A.5",
        "Solving for r yields r > alpha^(k-1) ln(C/eps). This provides a concrete requirement on the network's "
        "dimensions to guarantee clause coverage with high probability.",
    ),
    _c(
        "E1a",
        "case_study_random_split_beats_dense",
        "case study: random split beats dense",
        "Sec. 3.1",
        "our initial dense model achieves a test accuracy of 78.7% on the Boolean dataset, while our clause-split "
        "and random-split models achieve 99.4% and 88.7% respectively",
    ),
    _c(
        "E1b",
        "case_study_clause_split_beats_dense",
        "case study: clause split beats dense",
        "Sec. 3.1",
        "our initial dense model achieves a test accuracy of 78.7% on the Boolean dataset, while our clause-split "
        "and random-split models achieve 99.4% and 88.7% respectively",
    ),
    _c(
        "E2a",
        "boolean_grid_random_split_gains",
        "random split gains over the Boolean grid",
        "Sec. 3.2, Fig. 3c",
        "Interestingly, we observe that randomly splitting provides a modest increase in performance across many "
        "configurations.",
    ),
    _c(
        "E2b",
        "boolean_grid_clause_split_gains",
        "clause split gains over the Boolean grid",
        "Sec. 3.2, Fig. 3c",
        "While clause-based splitting consistently achieves the best results, randomly splitting still enhances "
        "performance in these theoretical settings",
    ),
    _c(
        "E2c",
        "gain_falls_with_more_neurons",
        "the gain falls as neurons increase",
        "Sec. 3.2, Fig. 3a",
        "Increasing the number of neurons leads to diminishing returns in relative improvement for learning 8 "
        "clauses (Figure 3a).",
    ),
    _c(
        "E2d",
        "gain_rises_with_clauses_up_to_16",
        "the gain rises with clauses (up to 16)",
        "Sec. 3.2, Fig. 3b",
        "As the number of clauses increases, performance gains from FPE initially rise [...] However, beyond "
        "roughly 16 clauses, the benefit of splitting begins to plateau or decline.",
    ),
    _c(
        "E3",
        "clause_split_beats_random_split",
        "clause split beats random split",
        "Sec. 3.2",
        "Clause splitting consistently outperforms random splitting, confirming that targeted disentanglement is "
        "more effective than naive expansion",
    ),
    _c(
        "E4a",
        "gain_tracks_capacity_fold",
        "RI rises with the capacity fold change",
        "Sec. 3.2, Fig. 4c",
        "The regression lines fitted to the empirical data in Figure 4c reveal strong correlations between relative "
        "improvement and interference metrics for the trained models when varying the number of neurons.",
    ),
    _c(
        "E4b",
        "gain_tracks_lower_cosine",
        "RI rises as |cos| falls",
        "Sec. 3.2, Fig. 4c",
        "The regression lines fitted to the empirical data in Figure 4c reveal strong correlations between relative "
        "improvement and interference metrics for the trained models when varying the number of neurons.",
    ),
    _c(
        "E5a",
        "vision_gram_split_beats_dense",
        "vision: Gram split beats dense",
        "Sec. 3.3, Fig. 5",
        "First, feature-based splitting consistently outperforms the dense baseline across various hidden sizes",
    ),
    _c(
        "E5b",
        "vision_gram_split_about_equal_to_random",
        "vision: Gram split about equal to random",
        "Sec. 3.3, Fig. 5",
        "we find that our feature-based splitting method performs only comparably to random splitting in practice, "
        "even though both improve over the dense baseline",
    ),
    _c(
        "E5c",
        "vision_random_gain_largest_at_small_width",
        "vision: the gain is largest at few neurons",
        "Sec. 3.3, Fig. 5",
        "Additionally, the relative improvement of FPE is most pronounced when there are fewer neurons.",
    ),
    _c(
        "E6a",
        "every_alpha_gains_at_small_width",
        "every alpha gains at small width",
        "Sec. 3.4, Fig. 6d",
        "All expansion factors [...] yield strong gains when the base model is small",
    ),
    _c(
        "E6b",
        "early_split_beats_late_split",
        "an early split beats a late one",
        "Sec. 3.4, Fig. 6b",
        "Performing FPE splitting earlier consistently leads to higher final test accuracy than later splits.",
    ),
    _c(
        "E7a",
        "fpe_helps_deeper_mlps",
        "FPE improves deeper MLPs",
        "A.7, Table A3",
        "FPE provides significant accuracy improvements, especially in narrower, more constrained models",
    ),
    _c(
        "E7b",
        "structured_2_4_about_equal_to_random",
        "2:4 FPE about equal to random FPE",
        "A.7, Table A5",
        "this structured approach achieves performance that is highly competitive with unstructured random sparsity",
    ),
    _c(
        "E7c",
        "rewiring_beats_one_shot",
        "rewiring beats one-shot FPE",
        "A.7",
        "This learnable approach yields consistent gains over our one-shot FPE.",
    ),
    _c(
        "E9",
        "fpe_raises_feature_capacity",
        "FPE raises feature capacity",
        "Sec. 3.2, Table A1",
        "The top panels of Figure 4a and b demonstrate that FPE consistently increases feature capacity, thus "
        "reducing interference, compared to dense baseline models",
    ),
)

_BEYOND = (
    _c(
        "B1",
        "alpha_has_an_interior_sweet_spot",
        "alpha has an interior sweet spot",
        "beyond the paper (Fig. 6d data)",
        "",
        in_paper=False,
    ),
    _c(
        "B2",
        "gain_is_not_sparsity_or_dropout",
        "the gain is not a sparsity or dropout effect",
        "beyond the paper (controls)",
        "",
        in_paper=False,
    ),
    _c(
        "B3",
        "dense_fresh_adam_matches_dense",
        "dense with a fresh Adam at the split vs dense continued",
        "beyond the paper (Adam-state asymmetry of the arms)",
        "",
        in_paper=False,
    ),
)

PAPER_CLAIMS: dict[str, PaperClaim] = {c.id: c for c in _CLAIMS}
BEYOND_PAPER: dict[str, PaperClaim] = {c.id: c for c in _BEYOND}
