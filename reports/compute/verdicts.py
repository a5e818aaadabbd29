"""The ledger's entries and how a tested claim becomes a verdict on four axes (``reports.compute.verdict_axes``).

A claim builder (``reports.compute.verdict_claims``, ``reports.compute.verdict_theory``) returns a :class:`Pending`: the
data-dependent part of a test (effect, p-value, interval and power as functions of the level and of the
constants). :func:`decide` turns a list of them into :class:`Verdict` entries for one set of
:class:`Constants`: Holm within each family, the interval at the Holm-matched level, the direction, the
size against the paper's number, and, by deciding again over ``RANGES``, the robustness.

Families (one Holm correction each): the paper's experimental claims; the checks beyond the paper.
``Constants(family="all")`` pools them, which is one of the robustness checks.

>>> Constants().fallback_effect
0.02
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace

import numpy as np

from reports.compute import verdict_axes
from reports.compute.frame import FALLBACK_EFFECT
from reports.compute.paper_claims import BEYOND_PAPER, PAPER_CLAIMS
from reports.stats import LEVEL

NAN = math.nan
FAMILY_PAPER = "Holm over the paper's experimental claims"
FAMILY_BEYOND = "Holm over the checks beyond the paper"
FAMILY_ALL = "Holm over every test of the ledger"


@dataclass(frozen=True)
class Constants:
    """Every constant a verdict may use; RANGES gives each one's plausible range."""

    fallback_effect: float = (
        FALLBACK_EFFECT  # accuracy (2 pts): smallest effect of interest where the paper prints none
    )
    fallback_slope: float = 0.02  # RI per doubling (2 RI pts) for trends the paper draws but does not number
    fallback_correlation: float = 0.5  # "strong correlation" (Fig. 4c) powered for |rho| = 0.5
    equivalence_margin: float = 0.01  # "about equal": within +-1 pt
    family: str = "paper"  # "paper": the paper's claims and the extra checks corrected apart; "all": pooled


DEFAULTS = Constants()

RANGES: dict[str, tuple[str, tuple, Callable[[object], str]]] = {
    "fallback effect": ("fallback_effect", (0.01, 0.02, 0.03), lambda v: f"{100 * v:g} pts"),
    "fallback slope": ("fallback_slope", (0.01, 0.02, 0.04), lambda v: f"{100 * v:g} RI pts"),
    "fallback correlation": ("fallback_correlation", (0.3, 0.5, 0.7), lambda v: f"rho {v:g}"),
    "equivalence margin": ("equivalence_margin", (0.005, 0.01, 0.02), lambda v: f"{100 * v:g} pts"),
    "correction family": ("family", ("paper", "all"), lambda v: "apart" if v == "paper" else "pooled"),
}


@dataclass(frozen=True)
class Power:
    """Power at our n for ``reference`` (fraction space), the n needed for 80 %, and where the reference is from."""

    power: float = NAN
    needed: float = NAN
    reference: float = NAN
    source: str = ""  # "paper: ..." or "fallback effect" etc.: a RANGES key when it is a constant
    constant: str = ""  # the RANGES key the reference comes from ('' when it is the paper's number)


@dataclass(frozen=True)
class Against:
    """The strongest cell against an 'every cell' claim: its p (Bonferroni over ``cells``) and interval."""

    p: float
    effect: float
    cells: int
    ci_of: Callable[[float], tuple[float, float]]
    label: str


@dataclass
class Pending:
    """A tested claim before the multiplicity correction (values in fraction space; ``scale`` to its unit)."""

    id: str
    evidence: str
    unit: str
    scale: float
    unit_of_analysis: str
    claimed: int  # +1 / -1, 0 for "about equal"
    scope: str
    effect: float = NAN
    n: int = 0
    n_of: str = "trials"
    p_of: Callable[[Constants], float] = lambda c: NAN
    ci_of: Callable[[float], tuple[float, float]] = lambda conf: (NAN, NAN)
    power_of: Callable[[Constants], Power] = lambda c: Power()
    against: Against | None = None
    paper: float = NAN
    paper_statistic: str = ""
    sentence: str = ""
    details: tuple[str, ...] = ()
    plan: dict = field(default_factory=dict)
    missing: str = ""  # why there is no test (no data)


@dataclass(frozen=True)
class Verdict:
    """One ledger entry; ``effect``, ``ci``, ``reference`` and ``paper`` are in ``unit``."""

    id: str
    name: str
    claim: str
    source: str
    quote: str
    in_paper: bool
    evidence: str
    unit: str
    unit_of_analysis: str
    direction: str
    size: str
    scope: str
    robustness: str
    effect: float = NAN
    ci: tuple[float, float] = (NAN, NAN)
    confidence: float = NAN  # of ``ci``
    n: int = 0
    n_of: str = "trials"
    p: float = NAN
    p_adj: float = NAN
    family: str = ""
    power: float = NAN
    n_needed: float = NAN
    reference: float = NAN
    reference_source: str = ""
    paper: float = NAN
    paper_statistic: str = ""
    sentence: str = ""
    details: tuple[str, ...] = ()
    plan: dict = field(default_factory=dict)
    claimed: int = 1  # +1: the claim says effect > 0; -1: < 0; 0: about equal (theory: 1)

    @property
    def kind(self) -> str:
        return (
            "theory"
            if self.id.startswith("T")
            else ("none" if self.direction == "undecided" and not self.n else "test")
        )

    def as_dict(self) -> dict:
        """Plain JSON types (NaN -> None); ``n_needed_inf`` where no n up to 10000 reaches 80 % power."""
        d = {k: _plain(v) for k, v in asdict(self).items()}
        d["n_needed_inf"] = self.n_needed == math.inf
        d["ci_level"] = d.pop("confidence")
        return d


def _plain(v):
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    if isinstance(v, tuple | list):
        return [_plain(x) for x in v]
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    return v


def info(claim_id: str):
    return PAPER_CLAIMS.get(claim_id) or BEYOND_PAPER[claim_id]


def holm(pvalues) -> np.ndarray:
    """Holm's step-down adjusted p (as ``multipletests(method="holm")``, which the tests compare with; this
    one skips its garbage collection, which costs more than the ledger when decided a dozen times); NaN stays."""
    p = np.asarray(list(pvalues), dtype=float)
    out = np.full(p.shape, NAN)
    idx = np.flatnonzero(np.isfinite(p))
    order = idx[np.argsort(p[idx], kind="stable")]
    m = len(order)
    running = 0.0
    for i, j in enumerate(order):
        running = max(running, min(1.0, (m - i) * p[j]))
        out[j] = running
    return out


def _family(p: Pending, c: Constants) -> str:
    if c.family == "all":
        return FAMILY_ALL
    return FAMILY_PAPER if info(p.id).in_paper else FAMILY_BEYOND


def _adjusted(pendings: list[Pending], c: Constants) -> dict[str, tuple[float, float, str]]:
    """id -> (raw p, Holm p, family) for every tested entry."""
    tested = [p for p in pendings if not p.missing]
    raw = {p.id: p.p_of(c) for p in tested}
    out = {}
    for fam in {_family(p, c) for p in tested}:
        members = [p for p in tested if _family(p, c) == fam]
        adj = holm([raw[p.id] for p in members])
        out.update({p.id: (raw[p.id], float(a), fam) for p, a in zip(members, adj, strict=True)})
    return out


_POWER_CACHE: dict = {}


def _power(p: Pending, c: Constants) -> Power:
    """``p.power_of(c)``, computed once per entry and constants (power solutions integrate numerically)."""
    first = _POWER_CACHE.get((id(p.power_of), "first"))
    if first is None:
        first = _POWER_CACHE[(id(p.power_of), "first")] = (p.power_of(c),)
    if p.claimed == 0:
        key = (id(p.power_of), c.equivalence_margin)
    elif first[0].constant:
        key = (id(p.power_of), getattr(c, RANGES[first[0].constant][0]))
    else:
        return first[0]  # the paper's number: no constant changes it
    if key not in _POWER_CACHE:
        _POWER_CACHE[key] = p.power_of(c)
    return _POWER_CACHE[key]


def _direction(p: Pending, c: Constants, p_raw: float, p_adj: float, need_power: bool = True):
    """(direction, ci, confidence, power, effect): the interval at the Holm-matched level of this entry.

    Power is needed only when the test does not reject (or to report it): ``need_power=False`` skips it.
    """
    level = verdict_axes.adjusted_level(p_raw, p_adj)
    rejected = np.isfinite(p_adj) and p_adj < LEVEL
    pw = _power(p, c) if need_power or not rejected else Power()
    if p.claimed == 0:  # TOST: the 1 - 2 level interval inside +-margin <=> equivalence at that level
        ci = p.ci_of(1 - 2 * level)
        d = verdict_axes.equivalence_direction(p_adj, ci, c.equivalence_margin)
        return d, ci, 1 - 2 * level, pw, p.effect
    ci = p.ci_of(1 - level)
    d = verdict_axes.direction(p_adj, p.effect, p.claimed, pw.power)
    if d != "supported" and p.against is not None and p.against.p * p.against.cells < level:
        a = p.against
        return "contradicted", a.ci_of(1 - level / a.cells), 1 - level / a.cells, pw, a.effect
    return d, ci, 1 - level, pw, p.effect


def _directions(pendings: list[Pending], c: Constants) -> dict[str, str]:
    adj = _adjusted(pendings, c)
    return {p.id: _direction(p, c, *adj[p.id][:2], need_power=False)[0] for p in pendings if not p.missing}


def _robustness(p: Pending, base: Constants, by_constant: dict[str, dict[str, dict[str, str]]]) -> str:
    checks = []
    uses = _uses(p, base)
    for key in uses:
        attr, values, fmt = RANGES[key]
        checks.append(
            verdict_axes.Sensitivity(
                key, tuple(fmt(v) for v in values), tuple(by_constant[key][fmt(v)][p.id] for v in values)
            )
        )
    return verdict_axes.robustness(checks)


def _uses(p: Pending, c: Constants) -> list[str]:
    keys = ["correction family"]
    if p.claimed == 0:
        keys.append("equivalence margin")
    constant = _power(p, c).constant
    if constant:
        keys.append(constant)
    return keys


def decide(pendings: list[Pending], theory: list[Verdict] = (), constants: Constants = DEFAULTS) -> list[Verdict]:
    """Every entry decided: theory as given, then the tested entries (Holm per family) with robustness."""
    _POWER_CACHE.clear()
    adj = _adjusted(pendings, constants)
    by_constant: dict[str, dict[str, dict[str, str]]] = {}
    for key, (attr, values, fmt) in RANGES.items():
        by_constant[key] = {fmt(v): _directions(pendings, replace(constants, **{attr: v})) for v in values}
    return list(theory) + [_verdict(p, constants, adj, by_constant) for p in pendings]


def _verdict(p: Pending, c: Constants, adj, by_constant) -> Verdict:
    q = info(p.id)
    base = dict(
        id=p.id,
        name=q.name,
        claim=q.claim,
        source=q.source,
        quote=q.quote,
        in_paper=q.in_paper,
        evidence=p.evidence,
        unit=p.unit,
        unit_of_analysis=p.unit_of_analysis,
        scope=p.scope,
        paper=p.paper * p.scale,
        paper_statistic=p.paper_statistic,
        details=p.details,
        plan=p.plan,
    )
    if p.missing:
        return Verdict(
            **base, direction="undecided", size=verdict_axes.NO_SIZE, robustness="--", sentence=f"No data: {p.missing}."
        )
    p_raw, p_adj, fam = adj[p.id]
    d, ci, conf, pw, effect = _direction(p, c, p_raw, p_adj)
    s = p.scale
    ci_u = (ci[0] * s, ci[1] * s)
    size = verdict_axes.size(p.paper * s, ci_u) if not p.scope.startswith("stand-in") else verdict_axes.NO_SIZE
    plan = dict(p.plan, effect=pw.reference * s, unit=p.unit, needed=_needed(pw.needed), per=p.n_of)
    strict = _strictest(p, c)
    if strict is not None:  # the most demanding plausible value of the constant the power uses
        key, value, spw = strict
        plan["strictest"] = dict(constant=key, value=value, effect=spw.reference * s, needed=_needed(spw.needed))
    return Verdict(
        **{**base, "plan": plan},
        direction=d,
        size=size,
        robustness=_robustness(p, c, by_constant),
        effect=effect * s,
        ci=ci_u,
        confidence=conf,
        n=p.n,
        n_of=p.n_of,
        p=p_raw,
        p_adj=p_adj,
        family=fam,
        power=pw.power,
        n_needed=pw.needed,
        reference=pw.reference * s,
        reference_source=pw.source,
        sentence=_ending(p, d, pw, conf, s),
    )


_DEMANDING = {"fallback effect": min, "fallback slope": min, "fallback correlation": min, "equivalence margin": min}


def _strictest(p: Pending, c: Constants):
    """(constant, value, Power) at the most demanding value of the constant this entry's power uses; or None."""
    keys = [k for k in _uses(p, c) if k in _DEMANDING]
    if not keys:
        return None
    key = keys[0]
    attr, values, fmt = RANGES[key]
    v = _DEMANDING[key](values)
    return key, fmt(v), _power(p, replace(c, **{attr: v}))


def _needed(n: float):
    return None if not np.isfinite(n) else int(n)


def _ending(p: Pending, d: str, pw: Power, conf: float, s: float) -> str:
    out = p.sentence
    ref = f"{pw.reference * s:.3g} {p.unit} ({pw.source})" if np.isfinite(pw.reference) else pw.source
    if d == "undecided" and p.claimed == 0:
        out += " Neither equivalent within the margin nor different beyond it: more trials needed."
    elif d == "undecided":
        need = (
            "more than 10000" if pw.needed == math.inf else ("?" if not np.isfinite(pw.needed) else str(int(pw.needed)))
        )
        out += f" Underpowered: n={p.n} {p.n_of}; {ref} needs {need} for 80 % power."
    elif d == "no effect detected":
        out += f" Not significant, with {pw.power:.0%} power for {ref}."
    return out.strip()


def counts(verdicts: list[Verdict], paper_only: bool = True) -> dict[str, int]:
    """Directions counted over the paper's claims (the checks beyond the paper are not its claims)."""
    chosen = [v for v in verdicts if v.in_paper or not paper_only]
    return {d: sum(v.direction == d for v in chosen) for d in verdict_axes.DIRECTIONS}
