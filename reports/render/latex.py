"""LaTeX text: escaping, number formatting, booktabs tables, template rendering, the PDF build.

Numbers are formatted here in Python (no siunitx); any text that comes from data goes
through ``escape``. The build runs ``latexmk -pdf`` in a given folder and, on failure,
raises a ValueError whose first line says what failed and whose next lines quote the
log's ``!`` lines (and the line after each).

>>> escape("a_b & 50%")
'a\\\\_b \\\\& 50\\\\%'
>>> fmt(0.12345, 3), pct(0.787)
('0.123', '78.7\\\\%')
"""

from __future__ import annotations

import math
import re
import shutil
import subprocess
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "<": r"\textless{}",  # OT1 fonts would print these three as ¡, ¿ and an em dash
    ">": r"\textgreater{}",
    "|": r"\textbar{}",
}


# Characters beyond ASCII that pdflatex typesets with the report's preamble (utf8 input, OT1 fonts):
# Latin-1 and Latin Extended-A less those OT1 lacks (guillemets, eth, thorn, ogoneks, ...), found by
# compiling each one (tests/reports/test_latex_unicode.py builds them all). The soft hyphen is invisible.
_NOT_IN_OT1 = (
    0xAB,
    0xBB,
    0xD0,
    0xDE,
    0xF0,
    0xFE,
    0x104,
    0x105,
    0x110,
    0x111,
    0x118,
    0x119,
    0x126,
    0x127,
    0x12E,
    0x12F,
    0x138,
    0x13F,
    0x140,
    0x149,
    0x14A,
    0x14B,
    0x166,
    0x167,
    0x172,
    0x173,
    0x17F,
)
_TYPESET = frozenset(chr(c) for c in range(0xA1, 0x180)) - frozenset(chr(c) for c in (0xAD, *_NOT_IN_OT1))


def escape(text) -> str:
    """Escape LaTeX's special characters in ``text`` (any object, via str); spell out what pdflatex cannot typeset.

    A character outside printable ASCII and ``_TYPESET`` (CJK, emoji, Greek, a control character)
    becomes ``<U+XXXX>``, so a store path such as ``/data/結果.db`` neither breaks the build nor
    silently loses characters (lualatex/xelatex without a CJK font would drop them).
    """
    return "".join(
        _SPECIAL.get(ch) or (ch if " " <= ch <= "~" or ch in _TYPESET else _codepoint(ch)) for ch in str(text)
    )


_MATH_WORDS = ((re.compile(r"\balpha\b"), r"$\alpha$"), (re.compile(r"\beps\b"), r"$\epsilon$"))


def prose(text) -> str:
    """``escape`` for text that names the paper's symbols: 'alpha' and 'eps' typeset as $\\alpha$ and
    $\\epsilon$ (so TeX never hyphenates them as words).

    >>> prose("random, alpha=2")
    'random, $\\\\alpha$=2'
    """
    out = escape(text)
    for word, tex in _MATH_WORDS:
        out = word.sub(lambda _m, tex=tex: tex, out)
    return out


def breakable_path(path) -> str:
    """``escape`` of a file path, with a permitted line break after each '/' (for a long path in \\texttt)."""
    return escape(path).replace("/", "/\\allowbreak{}")


def _codepoint(ch: str) -> str:
    return f"\\textless{{}}U+{ord(ch):04X}\\textgreater{{}}"


def _missing(x) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def fmt(x, digits: int = 3, sci: bool = True) -> str:
    """A number with ``digits`` decimals; scientific for tiny/huge values (unless ``sci`` is False); '--' if missing."""
    if _missing(x):
        return "--"
    if isinstance(x, (int, bool)) and not isinstance(x, Fraction):
        return str(int(x))
    x = float(x)
    if sci and x != 0 and (abs(x) < 10 ** (-digits) or abs(x) >= 1e7):
        mant, exp = f"{x:.{max(digits - 1, 1)}e}".split("e")
        return f"${mant}\\times 10^{{{int(exp)}}}$"
    return _unsigned_zero(f"{x:.{digits}f}")


def _unsigned_zero(text: str) -> str:
    """'-0.00' -> '0.00' (and '+0.0' -> '0.0'): a value that rounds to zero carries no sign."""
    return text[1:] if text[:1] in "+-" and not text.strip("+-0.") else text


def signed(x, digits: int = 1) -> str:
    """A number with an explicit sign and ``digits`` decimals: '+3.2', '-0.4'; '0.0' for what rounds to zero;
    '--' if missing."""
    return "--" if _missing(x) else _unsigned_zero(f"{float(x):+.{digits}f}")


def interval(lo, hi, digits: int = 1, sign: bool = True) -> str:
    """'[lo, hi]' with the same ``digits`` on both ends (signed unless ``sign`` is False); '--' if missing."""
    if _missing(lo) or _missing(hi):
        return "--"
    f = signed if sign else (lambda x, d: fmt(x, d, sci=False))
    return f"[{f(lo, digits)}, {f(hi, digits)}]"


def pct(x, digits: int = 1) -> str:
    """A fraction as a percentage: 0.787 -> '78.7\\%'."""
    return "--" if _missing(x) else _unsigned_zero(f"{100 * float(x):.{digits}f}") + "\\%"


def pm(mean, spread, digits: int = 3) -> str:
    """'mean $\\pm$ spread'."""
    if _missing(spread):
        return fmt(mean, digits, sci=False)
    return f"{fmt(mean, digits, sci=False)} $\\pm$ {fmt(spread, digits, sci=False)}"


def frac(x: Fraction, digits: int = 4) -> str:
    """An exact Fraction: as a fraction when short, else as a decimal."""
    if _missing(x):
        return "--"
    x = Fraction(x)
    if x.denominator == 1:
        return str(x.numerator)
    if len(str(x.denominator)) <= 6 and len(str(abs(x.numerator))) <= 6:
        return f"${x.numerator}/{x.denominator}$"
    return fmt(float(x), digits)


KEEP_TAIL = 3  # a long table's last rows that stay on one page
RAGGED = ">{{\\raggedright\\arraybackslash}}p{{{}}}"  # .format(width): a left-aligned column that wraps


def table(header: Sequence[str], rows: Sequence[Sequence[str]], align: str | None = None, caption: str = "") -> str:
    """A booktabs longtable, its header repeated on every page. Cells and header are LaTeX already (format and
    escape them before). The page never breaks after the first row nor within the last ``KEEP_TAIL`` rows
    (``\\\\*``), so no page opens with a one- or two-row tail of a table nor ends with a lone first row."""
    align = align or "l" + "r" * (len(header) - 1)
    head = " & ".join(header) + r" \\"
    n = len(rows)
    body = "\n".join(
        " & ".join(str(c) for c in row) + (r" \\*" if i == 0 or i >= n - KEEP_TAIL else r" \\")
        for i, row in enumerate(rows)
    )
    cap = f"\\caption{{{caption}}}\\\\\n" if caption else ""
    return (
        f"\\begin{{longtable}}{{{align}}}\n{cap}\\toprule\n{head}\n\\midrule\n\\endhead\n"
        f"{body}\n\\bottomrule\n\\end{{longtable}}\n"
    )


def render(template: str, **context) -> str:
    """Render ``reports/render/templates/<template>`` with Jinja2 using LaTeX-friendly delimiters."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("reports.render", "templates"),
        block_start_string="((*",
        block_end_string="*))",
        variable_start_string="(((",
        variable_end_string=")))",
        comment_start_string="((=",
        comment_end_string="=))",
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
        autoescape=False,
    )
    env.filters["e"] = escape
    env.filters["path"] = breakable_path
    return env.get_template(template).render(**context)


def latex_engine() -> str | None:
    """Path of latexmk when both it and pdflatex are on PATH, else None."""
    mk = shutil.which("latexmk")
    return mk if mk and shutil.which("pdflatex") else None


class LatexBuildError(ValueError):
    """LaTeX failed: ``str(self)`` is one line; ``excerpt`` holds the log's '!' lines (and the next)."""

    def __init__(self, message: str, excerpt: tuple[str, ...]):
        super().__init__(message)
        self.excerpt = excerpt


def overfull_boxes(log: str, limit_pt: float = 1.0) -> list[str]:
    """The log's ``Overfull \\hbox`` / ``\\vbox`` lines whose excess is wider than ``limit_pt`` points.

    >>> overfull_boxes("Overfull \\\\hbox (91.7pt too wide) in alignment\\nOverfull \\\\hbox (0.5pt too wide) in par")
    ['Overfull \\\\hbox (91.7pt too wide) in alignment']
    """
    found = re.finditer(r"^Overfull \\[hv]box \(([\d.]+)pt too (?:wide|high)\).*$", log, flags=re.MULTILINE)
    return [m.group(0) for m in found if float(m.group(1)) > limit_pt]


def log_excerpt(log: str, limit: int = 8) -> tuple[str, ...]:
    """The lines starting with '!' and the line following each (at most ``limit`` pairs)."""
    lines = log.splitlines()
    out = []
    for i, line in enumerate(lines):
        if line.startswith("!"):
            out.append(line)
            if i + 1 < len(lines):
                out.append(lines[i + 1])
            if len(out) >= 2 * limit:
                break
    return tuple(out)


def build_pdf(folder: Path, stem: str = "report", timeout: float = 300) -> Path:
    """Run ``latexmk -pdf`` on ``folder/stem.tex``; return the PDF path or raise ValueError with the log's errors."""
    engine = latex_engine()
    if engine is None:
        raise ValueError("latexmk/pdflatex: not on PATH")
    cmd = [engine, "-pdf", "-interaction=nonstopmode", "-halt-on-error", f"{stem}.tex"]
    try:
        proc = subprocess.run(cmd, cwd=folder, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.SubprocessError) as exc:  # latexmk itself broken, or hanging
        raise LatexBuildError(f"latex: {engine} could not run ({' '.join(str(exc).split())})", ()) from None
    pdf = folder / f"{stem}.pdf"
    if proc.returncode != 0 or not pdf.exists():
        log_path = folder / f"{stem}.log"
        if not log_path.exists():  # LaTeX never ran: latexmk or its engine is broken; its last words, one line
            said = next((x for x in reversed((proc.stdout + proc.stderr).splitlines()) if x.strip()), "no output")
            raise LatexBuildError(
                f"latex: {engine} failed before LaTeX wrote a log (exit {proc.returncode}: {' '.join(said.split())})",
                (),
            )
        log = log_path.read_text(errors="replace")
        excerpt = log_excerpt(log) or tuple(log.splitlines()[-6:])
        raise LatexBuildError(
            f"latex: building {stem}.pdf failed (latexmk exit {proc.returncode}; log excerpt follows)", excerpt
        )
    return pdf
