"""The app's tables as HTML: one number per cell, headers over every column, text escaped.

A probability and its interval are two cells ("94.4%" | "92.0 – 96.1%"), a difference and its
interval too ("+3.2 pts" | "+1.0 – +5.4 pts"), so no two numbers run together. Every cell is
escaped here (names come from scenario files and results folders, which may be hostile).

The module is pure (no solara) so the tests can check the tables without a page.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence


def percent(p: float) -> str:
    """``0.944`` -> ``"94.4%"``."""
    return f"{100 * p:.1f}%"


def percent_interval(low: float, high: float) -> str:
    """``(0.92, 0.961)`` -> ``"92.0 – 96.1%"``: the unit once, at the end."""
    return f"{100 * low:.1f} – {100 * high:.1f}%"


def points(d: float) -> str:
    """A difference of probabilities in percentage points: ``0.032`` -> ``"+3.2 pts"``."""
    return f"{100 * d:+.1f} pts"


def points_interval(low: float, high: float) -> str:
    """``(-0.01, 0.054)`` -> ``"-1.0 – +5.4 pts"``."""
    return f"{100 * low:+.1f} – {100 * high:+.1f} pts"


def is_number(x) -> bool:
    """Whether x is a finite number (the reference scenario's difference is missing: NaN)."""
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def html_table(headers: Sequence[str], rows: Sequence[Sequence[str]], *,
               numeric: Sequence[bool] = (), caption: str = "") -> str:
    """The inner HTML of a ``<table>``: caption, header row, one ``<td>`` per cell, escaped.

    Args:
        headers: One per column.
        rows: One sequence of cell texts per row, as long as ``headers``.
        numeric: Per column, whether it is right-aligned (numbers); missing means text.
        caption: Shown above the table ("" for none).
    """
    align = [(" class='num'" if i < len(numeric) and numeric[i] else "")
             for i in range(len(headers))]
    head = "".join(f"<th{a}>{html.escape(h)}</th>" for h, a in zip(headers, align, strict=True))
    body = "".join("<tr>" + "".join(f"<td{a}>{html.escape(str(c))}</td>"
                                    for c, a in zip(row, align, strict=True)) + "</tr>"
                   for row in rows)
    top = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    return f"{top}<thead><tr>{head}</tr></thead><tbody>{body}</tbody>"


# ----------------------------------------------------------------------------- outcome tables

OUTCOME_HEADERS = ("outcome", "probability", "95% interval")
OUTCOME_NUMERIC = (False, True, True)


def outcome_rows(outcomes: Sequence[dict]) -> list[tuple[str, str, str]]:
    """Rows of an ensemble's outcome table, most likely first: name | probability | interval.

    ``outcomes`` are rows of ``sim.analysis.outcome_table`` (outcome, probability, low, high).
    """
    ordered = sorted(outcomes, key=lambda r: -float(r["probability"]))
    return [(str(r["outcome"]).replace("_", " "), percent(float(r["probability"])),
             percent_interval(float(r["low"]), float(r["high"]))) for r in ordered]


def outcome_table(outcomes: Sequence[dict], caption: str = "") -> str:
    """An ensemble's outcome table (``outcome_rows``) as HTML."""
    return html_table(OUTCOME_HEADERS, outcome_rows(outcomes), numeric=OUTCOME_NUMERIC,
                      caption=caption)


COMPARISON_NUMERIC = (False, False, True, True, True, True)
REFERENCE = "(reference)"


def comparison_headers(reference: str) -> tuple[str, ...]:
    """Column headers of a comparison whose differences are from ``reference``."""
    return ("outcome", "scenario", "probability", "95% interval",
            f"difference from {reference}", "95% interval of the difference")


def comparison_rows(rows: Sequence[dict]) -> list[tuple[str, ...]]:
    """Rows of a comparison (``sim compare``'s ``comparison.json`` rows).

    Per outcome and scenario: probability and its interval, and for every scenario but the
    first its paired difference from the first with that difference's 95% interval (computed
    by ``sim compare``, ``sim.analysis.paired_difference``); the first scenario, the reference,
    says so instead.
    """
    out = []
    reference = str(rows[0]["scenario"]) if rows else ""
    for r in rows:
        has_difference = all(is_number(r.get(k)) for k in (
            "difference", "difference_low", "difference_high"))
        is_reference = not has_difference and str(r["scenario"]) == reference
        out.append((
            str(r["outcome"]).replace("_", " "), str(r["scenario"]),
            percent(float(r["probability"])),
            percent_interval(float(r["low"]), float(r["high"])) if is_number(r.get("low"))
            and is_number(r.get("high")) else "",
            points(float(r["difference"])) if has_difference else (
                REFERENCE if is_reference else ""),
            points_interval(float(r["difference_low"]), float(r["difference_high"]))
            if has_difference else ""))
    return out


def comparison_table(rows: Sequence[dict], caption: str = "") -> str:
    """A comparison's table (``comparison_rows``) as HTML."""
    reference = str(rows[0]["scenario"]) if rows else "the first"
    return html_table(comparison_headers(reference), comparison_rows(rows),
                      numeric=COMPARISON_NUMERIC, caption=caption)


def sweep_rows(columns: dict) -> list[tuple[str, str, str, str]]:
    """A sweep's outcomes over its design points: name | min | median | max probability.

    ``columns`` maps ``outcome.<name>`` to the probability at each design point.
    """
    import numpy as np

    return [(name.removeprefix("outcome.").replace("_", " "), percent(float(np.min(v))),
             percent(float(np.median(v))), percent(float(np.max(v))))
            for name, v in columns.items()]


SWEEP_HEADERS = ("outcome", "min P", "median P", "max P")
SWEEP_NUMERIC = (False, True, True, True)


# ----------------------------------------------------------------------------- PRIM's box

PRIM_HEADERS = ("input", "box low", "box high", "swept low", "swept high")
PRIM_NUMERIC = (False, True, True, True, True)


def _limit(x: float) -> str:
    return f"{x:.4g}"


def prim_rows(found: dict) -> list[tuple[str, str, str, str, str]]:
    """The chosen PRIM box's limits: per restricted input, the box's and the swept range.

    ``found`` is a discovery (``discovery.json``, ``sim.discovery.discover_folder``); its
    chosen box is read, not recomputed.
    """
    return [(str(b["parameter"]), _limit(float(b["low"])), _limit(float(b["high"])),
             _limit(float(b["range_low"])), _limit(float(b["range_high"])))
            for b in found["prim"]["box"]]


def prim_summary(found: dict) -> list[tuple[str, str]]:
    """The chosen box's coverage, density and mass (and runs), as ``(name, value)`` pairs."""
    prim = found["prim"]
    chosen = prim["trajectory"][int(prim["chosen"])]
    return [("coverage", percent(float(chosen["coverage"]))),
            ("density", percent(float(chosen["density"]))),
            ("mass", percent(float(chosen["mass"]))),
            ("runs in the box", f"{int(chosen['runs'])}")]


def prim_table(found: dict) -> str:
    """The chosen box's limits as HTML, one row per restricted input."""
    prim = found["prim"]
    chosen = prim["trajectory"][int(prim["chosen"])]
    caption = (f"PRIM box {int(chosen['box'])} of {len(prim['trajectory'])} for "
               f"{found.get('target', '')}")
    rows = prim_rows(found) or [("(no input restricted)", "", "", "", "")]
    return html_table(PRIM_HEADERS, rows, numeric=PRIM_NUMERIC, caption=caption)


def prim_measures_table(found: dict) -> str:
    """Coverage, density and mass of the chosen box as a two-column HTML table."""
    return html_table(("of the box", "value"), prim_summary(found), numeric=(False, True))
