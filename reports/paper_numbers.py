"""The paper's own reported numbers, quoted as such (the only hand-typed numbers in reports/).

Source: "Expand Neurons, Not Parameters" (Fixed Parameter Expansion; arXiv, October 2025; ICML 2026).
Each entry says where it comes from. Accuracies and improvements are fractions (0.787 for
78.7 %); table A1/A2 entries are (mean, spread) as printed ("mean +- spread", five trials).

>>> CASE_STUDY["dense"].value
0.787
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Quoted:
    """One number as the paper reports it, with where it is printed."""

    value: float
    source: str
    spread: float | None = None  # the "+-" part, where the paper prints one


_CS = "Section 3.1 (case study: 8 clauses, k=4, 8 neurons, alpha=2)"
CASE_STUDY: dict[str, Quoted] = {
    "dense": Quoted(0.787, _CS),
    "clause": Quoted(0.994, _CS),
    "random": Quoted(0.887, _CS),
}

# Table A1 (feature capacity) and A2 (neuron cosine similarity): 8 dense neurons, k=4,
# rows by number of literals m (clauses = m/4), columns dense / clause-split / random-split.
_A1 = {
    12: ((1.896, 0.377), (2.740, 0.114), (2.780, 0.133)),
    24: ((2.907, 0.370), (5.479, 0.400), (5.268, 0.317)),
    32: ((3.944, 0.409), (6.977, 0.426), (6.848, 0.568)),
    40: ((4.819, 0.491), (7.853, 0.469), (7.825, 0.365)),
    60: ((5.584, 0.670), (10.79, 0.868), (10.90, 0.747)),
    80: ((5.812, 1.044), (13.07, 1.093), (12.00, 1.726)),
    100: ((6.219, 0.535), (14.21, 1.866), (15.00, 0.727)),
    128: ((7.699, 1.029), (16.87, 0.926), (13.80, 1.037)),
}
_A2 = {
    12: ((0.332, 0.123), (0.230, 0.021), (0.243, 0.083)),
    24: ((0.382, 0.127), (0.173, 0.041), (0.219, 0.067)),
    32: ((0.291, 0.230), (0.150, 0.072), (0.171, 0.092)),
    40: ((0.257, 0.096), (0.137, 0.019), (0.146, 0.049)),
    60: ((0.275, 0.095), (0.145, 0.030), (0.142, 0.045)),
    80: ((0.303, 0.101), (0.108, 0.035), (0.113, 0.025)),
    100: ((0.312, 0.081), (0.134, 0.028), (0.144, 0.041)),
    128: ((0.262, 0.081), (0.105, 0.031), (0.108, 0.027)),
}
VARIANTS_A1_A2 = ("dense", "clause", "random")


def _table(raw: dict, name: str) -> dict[tuple[int, str], Quoted]:
    return {
        (m, v): Quoted(mean, f"{name}, {m} literals, {v}", spread)
        for m, row in raw.items()
        for v, (mean, spread) in zip(VARIANTS_A1_A2, row, strict=True)
    }


TABLE_A1 = _table(_A1, "Table A1 (feature capacity)")
TABLE_A2 = _table(_A2, "Table A2 (cosine similarity)")

# Table A3: relative improvement (FPE/dense - 1) of deeper MLPs, CLIP CIFAR-100, alpha=2, 30 trials.
TABLE_A3: dict[tuple[int, int], Quoted] = {
    (depth, h): Quoted(v, f"Table A3, depth {depth}, hidden {h}")
    for depth, row in {
        5: (0.28, 0.026, 0.004, 0.002),
        7: (0.34, 0.11, 0.011, 0.008),
        9: (1.04, 0.087, 0.020, 0.014),
    }.items()
    for h, v in zip((4, 8, 12, 16), row, strict=True)
}

# Table A4: ImageNet-1k, 5-layer MLP, alpha=2, 10 trials: (dense acc, FPE acc, FPE RI).
TABLE_A4: dict[tuple[int, str], Quoted] = {
    (h, what): Quoted(v, f"Table A4, hidden {h}, {what}")
    for h, row in {
        6: (0.130, 0.139, 0.062),
        8: (0.238, 0.251, 0.056),
        10: (0.306, 0.319, 0.043),
        12: (0.381, 0.388, 0.020),
        14: (0.429, 0.436, 0.017),
        16: (0.469, 0.470, 0.001),
    }.items()
    for what, v in zip(("dense", "fpe", "ri"), row, strict=True)
}

# Table A5: CIFAR-100, h=8, alpha=2, 10 trials.
TABLE_A5: dict[str, Quoted] = {
    "dense": Quoted(0.5389, "Table A5, dense accuracy"),
    "structured_2_4": Quoted(0.6167, "Table A5, 2:4 FPE accuracy"),
    "random": Quoted(0.6192, "Table A5, random FPE accuracy"),
    "structured_2_4_ri": Quoted(0.1442, "Table A5, 2:4 FPE relative improvement"),
    "random_ri": Quoted(0.1489, "Table A5, random FPE relative improvement"),
}

# Section A.7, dynamic rewiring on CIFAR-100 embeddings (10 trials): relative improvement over dense.
REWIRING_RI: dict[int, Quoted] = {
    h: Quoted(v, f"Section A.7 (rewiring), {h} dense neurons, RI over dense")
    for h, v in ((4, 0.53), (8, 0.14), (16, 0.030))
}

# Section A.7: the same runs' gain of rewiring over one-shot random FPE, in accuracy points.
REWIRING_GAIN: dict[int, Quoted] = {
    h: Quoted(v, f"Section A.7 (rewiring), {h} dense neurons, points over one-shot FPE")
    for h, v in ((4, 0.045), (8, 0.019), (16, 0.005))
}

# Figure 6a: random-split FPE (alpha=4) matches a dense model with >= 1.2x the parameters.
FIG6A_PARAM_FACTOR = Quoted(1.2, "Figure 6a caption (>= 1.2x parameters)")

# Trials behind each of the paper's numbers (its captions), the T of "expected best of T" beside our mean.
PAPER_TRIALS = {"case": 5, "A1": 5, "A3": 30, "A4": 10, "A5": 10, "rewiring": 10}
BEST_OF_T = PAPER_TRIALS["case"]  # the paper's trials per case-study number (Section 3.1: five trials)
