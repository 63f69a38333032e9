"""The score of a run: hypervolume after every trial and its log10 gap to the true max.

The gap ``max_hv - hv`` is what the BoTorch tutorials plot: it keeps improving visibly
long after the hypervolume itself looks flat, and its log makes problems comparable.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from botorch.utils.multi_objective.hypervolume import Hypervolume
from botorch.utils.multi_objective.pareto import is_non_dominated

__all__ = ["GAP_FLOOR", "hypervolume_trace", "log10_gap"]

# Relative gap below which a run counts as having found the whole front. It keeps the log
# finite when the front is found exactly (NAS-Bench-201 has a finite front), and absorbs
# max HVs that are themselves estimates (VehicleSafety, CarSideImpact in BoTorch).
GAP_FLOOR = 1e-9


def hypervolume_trace(
    values: Sequence[Sequence[float]], reference_point: Sequence[float]
) -> list[float]:
    """Hypervolume of the first ``t`` points, for ``t = 1 .. n``.

    Args:
        values: `n x m` objective values in trial order, all *minimized*.
        reference_point: `m` reference values (minimization units); points that do not
            dominate it add nothing.

    Returns:
        ``n`` non-decreasing hypervolumes.
    """
    # BoTorch maximizes: negate once here.
    y = -torch.as_tensor(values, dtype=torch.double)
    ref = -torch.as_tensor(reference_point, dtype=torch.double)
    hypervolume = Hypervolume(ref_point=ref)
    front = y[:0]
    hv = 0.0
    trace = []
    for point in y:
        beyond_ref = bool((point > ref).all())
        dominated = bool(((front >= point).all(dim=-1)).any())
        if beyond_ref and not dominated:
            front = torch.cat([front, point.unsqueeze(0)])
            front = front[is_non_dominated(front)]
            hv = hypervolume.compute(front)
        trace.append(hv)
    return trace


def log10_gap(hv: float, max_hv: float) -> float:
    """``log10(max_hv - hv)``, floored at ``GAP_FLOOR * max_hv``."""
    return math.log10(max(max_hv - hv, GAP_FLOOR * max_hv))
