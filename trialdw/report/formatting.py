"""How numbers read in the report (one place, so tables and plot legends agree).

- Months: one decimal. A median or CI bound the warehouse left NULL while
  subjects were analysed was not reached: "NR".
- Proportions (0–1 in the warehouse): percent with one decimal, "35.0 %".
  A NULL rate with subjects analysed is not estimable (e.g. a landmark past
  the last follow-up): "NE".
- N = 0: nothing was analysed: "–" for the estimate and its CI.
"""

from __future__ import annotations

import math

import pandas as pd

DASH = "–"  # en dash


def missing(value) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def number(value, unit: str) -> str:
    """One estimate or bound; NULL reads NR for months, NE for proportions."""
    if missing(value):
        return "NR" if unit == "months" else "NE"
    return f"{value:.1f}" if unit == "months" else f"{100 * value:.1f} %"


def ci_text(row: pd.Series, unit: str | None = None) -> str:
    """'5.6 months (95 % CI 4.1–NR)' for plot legends."""
    unit = unit or row["UNIT"]
    if missing(row["N"]) or int(row["N"]) == 0:
        return DASH
    suffix = " months" if unit == "months" and not missing(row["ESTIMATE"]) else ""
    return (
        f"{number(row['ESTIMATE'], unit)}{suffix} (95 % CI {number(row['LCL'], unit)}{DASH}{number(row['UCL'], unit)})"
    )


def estimate_cell(row: pd.Series) -> str:
    """'5.6 (4.1, 8.3)' or '35.0 % (20.6, 51.7)' for the endpoints table."""
    if missing(row["N"]) or int(row["N"]) == 0:
        return DASH
    unit = row["UNIT"]
    return f"{number(row['ESTIMATE'], unit)} ({number(row['LCL'], unit)}, {number(row['UCL'], unit)})"


def count_pct(n, denominator) -> str:
    """'3 (7.5)' — a subject count with its percentage of the denominator; zero is '0'."""
    n = 0 if missing(n) else int(n)
    if n == 0 or missing(denominator) or int(denominator) == 0:  # '0', not '0 (0.0)': less noise
        return str(n)
    return f"{n} ({100 * n / int(denominator):.1f})"


def p_value(p) -> str:
    if missing(p):
        return DASH
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def comparison_cell(row: pd.Series) -> str:
    """A between-arm comparison (analysis.endpoints comparison rows):
    hazard ratio '0.72 (0.06, 8.10)', difference in proportions in percentage
    points '−33.3 (−79.2, 50.5)', log-rank p '0.517'. NE when not estimable."""
    unit = row["UNIT"]
    if missing(row["N"]) or int(row["N"]) == 0:
        return DASH
    if unit == "p-value":
        return p_value(row["ESTIMATE"]) if not missing(row["ESTIMATE"]) else "NE"
    if missing(row["ESTIMATE"]):
        return "NE"
    if unit == "hazard ratio":
        return f"{row['ESTIMATE']:.2f} ({row['LCL']:.2f}, {row['UCL']:.2f})"
    points = [100 * row[c] for c in ("ESTIMATE", "LCL", "UCL")]
    return "{:+.1f} ({:+.1f}, {:+.1f})".format(*points).replace("-", "−")
