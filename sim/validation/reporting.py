"""The scores section of ``sim report``: tables of a ``score.json`` and a reliability diagram.

Kept here, not in ``sim/report.py``, so the report only asks for a section when a folder has
been scored. The diagram bins events by forecast probability and plots the observed frequency
in each bin against the mean forecast (Murphy & Winkler 1977): points on the diagonal are
calibrated forecasts; with a handful of events per crisis the bins are few and wide, and the
counts are printed beside each point so no one reads more into them than they hold.
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

from sim.errors import UsageError
from sim.execution.outdir import read_json


def reliability_png(events: list[dict], bins: list[dict]) -> bytes:
    """A reliability diagram as PNG bytes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.6, 4.2), dpi=110)
    ax.plot([0, 1], [0, 1], color="#999", lw=1, ls="--", label="calibrated")
    xs = [e["probability"] for e in events]
    ys = [1.0 if e["happened"] else 0.0 for e in events]
    ax.scatter(xs, ys, s=14, color="#888", alpha=0.6, label="events (0 no, 1 yes)")
    if bins:
        ax.plot([b["forecast"] for b in bins], [b["observed"] for b in bins], "o-",
                color="#0b5394", label="observed frequency per bin")
        for b in bins:
            ax.annotate(f"n={b['count']}", (b["forecast"], b["observed"]), fontsize=7,
                        xytext=(4, -10), textcoords="offset points")
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(-0.05, 1.05)
    ax.set_xlabel("forecast probability (share of runs)")
    ax.set_ylabel("observed frequency")
    ax.set_title("Reliability of event probabilities", fontsize=10)
    ax.legend(fontsize=7, loc="upper left")
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()


def mode_note(manifest: dict) -> str:
    """A line saying which values each run drew (``--uncertain``/``--posterior``), or ''."""
    if not isinstance(manifest, dict):
        return ""
    mode = manifest.get("mode")
    varied = manifest.get("varied")
    if not isinstance(varied, dict):
        varied = {}
    if mode == "uncertain":
        items = "".join(f"<li><code>{html.escape(str(p))}</code>: {html.escape(str(d))}</li>"
                        for p, d in varied.items())
        return ("<h2>Uncertain assumptions</h2><p>Run with <code>--uncertain</code>: every "
                "run drew its own values of these assumptions, so the intervals above include "
                f"their uncertainty.</p><ul>{items}</ul>")
    if mode == "posterior":
        return ("<h2>Calibrated values</h2><p>Run with <code>--posterior "
                f"{html.escape(str(varied.get('posterior', '')))}</code>: every run drew its "
                "values from a calibrated posterior (effective sample size "
                f"{html.escape(str(varied.get('effective_sample_size', '?')))}).</p>")
    return ""


def _num(x, fmt: str) -> str:
    return "" if x is None else format(x, fmt)


def score_section(folder: Path) -> str:
    """HTML of the scores of a scored results folder ('' when it has no score.json)."""
    path = Path(folder) / "score.json"
    if not path.exists():
        return ""
    try:  # score.json is untrusted input: bounded read, and any odd content is one line
        return _score_html(read_json(path))
    except (UsageError, KeyError, TypeError, ValueError, AttributeError, IndexError):
        return "<h2>Scores</h2><p class=note>score.json could not be read.</p>"


def _score_html(score: dict) -> str:
    events, summary = score["events"], score["summary"]
    esc = html.escape
    parts = [f"<h2>Scores against what happened</h2><p class=note>Observations: "
             f"<code>{esc(str(score.get('observations', '')))}</code>. Brier and log score "
             "(lower is better) against the uninformed p = 0.5 (0.250 and 0.693); skill = 1 "
             "- score / uninformed (positive is better than the baseline).</p>"]
    if "brier" in summary:
        parts.append(f"<p>Mean Brier <b>{summary['brier']:.3f}</b> (skill "
                     f"{summary['brier_skill']:+.2f}), mean log score "
                     f"<b>{summary['log_score']:.3f}</b> (skill {summary['log_skill']:+.2f}) "
                     f"over {summary['events']} events.</p>")
    if "coverage90" in summary:
        parts.append(f"<p>{summary['coverage50']:.0%} of observed quantities fall in the "
                     f"runs' 50% intervals, {summary['coverage90']:.0%} in their 90% "
                     "intervals.</p>")
    if events:
        rows = "".join(
            f"<tr><td>{esc(e['outcome'])}</td><td>{'yes' if e['happened'] else 'no'}</td>"
            f"<td class=num>{e['probability']:.1%}</td><td class=num>{e['brier']:.3f}</td>"
            f"<td class=num>{e['log_score']:.3f}</td><td class=src>{esc(e['source'])}</td>"
            "</tr>" for e in events)
        parts.append("<table><tr><th>event</th><th>happened</th><th>P</th><th>Brier</th>"
                     f"<th>log score</th><th>source</th></tr>{rows}</table>")
    quantities = [(f"day of {r['outcome']}", r) for r in score.get("days_of_events", [])]
    quantities += [(r["indicator"], r) for r in score.get("quantities", [])]
    if quantities:
        rows = "".join(
            f"<tr><td>{esc(name)}</td><td class=num>{_num(r['observed'], '.4g')}</td>"
            f"<td class=num>{_num(r['median'], '.4g')}</td>"
            f"<td class=num>{_num(r['interval90']['low'], '.4g')} – "
            f"{_num(r['interval90']['high'], '.4g')}</td>"
            f"<td class=num>{_num(r['crps'], '.4g')}</td><td class=num>{_num(r['pit'], '.2f')}"
            f"</td><td class=src>{esc(r['source'])}</td></tr>" for name, r in quantities)
        parts.append("<table><tr><th>quantity</th><th>observed</th><th>median</th>"
                     "<th>90% interval</th><th>CRPS</th><th>PIT</th><th>source</th></tr>"
                     f"{rows}</table>")
    if events:
        png = base64.b64encode(reliability_png(events, score.get("reliability", []))).decode()
        parts.append(f'<figure><img alt="reliability diagram" src="data:image/png;base64,'
                     f'{png}"><figcaption class=note>reliability diagram</figcaption></figure>')
    return "\n".join(parts)
