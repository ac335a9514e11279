"""The reliability diagram of ``sim report``'s scores section (``sim/report.py`` lays it out).

The diagram bins events by forecast probability and plots the observed frequency
in each bin against the mean forecast (Murphy & Winkler 1977): points on the diagonal are
calibrated forecasts; with a handful of events per crisis the bins are few and wide, and the
counts are printed beside each point so no one reads more into them than they hold.
"""

from __future__ import annotations

import io


def reliability_png(events: list[dict], bins: list[dict]) -> bytes:
    """A reliability diagram as PNG bytes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.6, 4.8), dpi=110)
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
    ax.set_title(f"Reliability of event probabilities ({len(events)} events)", fontsize=10)
    # below the axes: inside, it covered the points of a diagram with a handful of events
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2,
              frameon=False)
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()
