"""Global sensitivity of outcomes to swept parameters: Sobol indices and Morris screening.

Both come from SALib (Herman & Usher 2017) on the per-point means of a Sobol (Saltelli) or
Morris sweep: for an outcome, Y at a point is its probability over that point's replications;
for an indicator, its mean. Replication noise inflates small indices a little; more
replications per point shrink it.

References:
    Sobol', I. M. (2001). Global sensitivity indices for nonlinear mathematical models.
    Saltelli, A. et al. (2010). Variance based sensitivity analysis of model output.
    Morris, M. D. (1991); Campolongo, Cariboni & Saltelli (2007) for mu*.
"""

from __future__ import annotations

import numpy as np

from sim.design import Design


def _targets(points: dict[str, np.ndarray]) -> list[str]:
    names = [n for n in points if n.startswith("outcome.") and not n.endswith((".low", ".high"))]
    return names + [n for n in points if n.startswith("mean.")]


def analyse(design: Design, points: dict[str, np.ndarray], targets: list[str] | None = None
            ) -> dict:
    """Sensitivity indices for each target column of the per-point summary.

    Returns:
        ``{"method": ..., "parameters": [...], "results": {target: {...}}}`` with, per
        target and parameter, ``S1``, ``S1_conf``, ``ST``, ``ST_conf`` (Sobol) or ``mu_star``,
        ``mu_star_conf``, ``sigma`` (Morris). Targets constant over the design are skipped.
    """
    problem = design.problem()
    out: dict = {"method": design.kind, "parameters": problem["names"], "results": {}}
    for name in targets or _targets(points):
        y = np.asarray(points[name], float)
        if np.isnan(y).any() or np.ptp(y) == 0:
            continue
        if design.kind == "sobol":
            from SALib.analyze import sobol

            res = sobol.analyze(problem, y, calc_second_order=False, seed=design.seed)
            keys = ("S1", "S1_conf", "ST", "ST_conf")
        elif design.kind == "morris":
            from SALib.analyze import morris

            res = morris.analyze(problem, design.points, y, num_levels=4, seed=design.seed)
            keys = ("mu_star", "mu_star_conf", "sigma")
        else:
            raise ValueError(f"no sensitivity analysis for a '{design.kind}' design")
        out["results"][name] = {k: [float(v) for v in np.asarray(res[k])] for k in keys}
    return out
