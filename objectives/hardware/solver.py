r"""The penalized log-space least squares that the fit and the calibration share.

Each row ``i`` is a sum of terms, each a feature times an exponential of a linear combination
of the unknowns ``e``:

    y_i(e) = log sum_p X_ip exp(B_ip + sum_k A_ipk e_k)

and ``e`` minimizes ``sum_i ((y_i(e) - t_i) / sigma)^2 + sum_k ((e_k - m_k) / s_k)^2``. The
model is log-sum-exp in ``e`` (smooth, nearly log-linear), so damped Newton with its exact
Hessian converges in a few iterations; with a few hundred unknowns each iteration is one
dense solve, far cheaper than a general-purpose least-squares driver.
"""

from __future__ import annotations

import numpy as np

__all__ = ["penalized_log_fit"]


def penalized_log_fit(
    features: np.ndarray,
    design: np.ndarray,
    target: np.ndarray,
    sigma: float,
    prior_mean: np.ndarray,
    prior_sd: np.ndarray,
    base: np.ndarray | None = None,
    *,
    max_iterations: int = 200,
) -> np.ndarray:
    """Minimizer ``e`` of the penalized log error (module docstring).

    Args:
        features: ``X``, rows x terms, non-negative.
        design: ``A``, rows x terms x unknowns.
        target: ``t``, one log value per row.
        sigma: Spread of a row around the model.
        prior_mean: ``m``, one per unknown (also the start).
        prior_sd: ``s``, one per unknown, > 0.
        base: ``B``, rows x terms (default zero).
    """
    offset = np.zeros(features.shape) if base is None else base
    precision = 1.0 / prior_sd**2

    def evaluate(e: np.ndarray) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
        terms = features * np.exp(np.clip(offset + design @ e, -300.0, 300.0))
        total = terms.sum(axis=1)
        residual = (np.log(total) - target) / sigma
        cost = float(residual @ residual + np.sum((e - prior_mean) ** 2 * precision))
        if not np.isfinite(cost):  # a step into overflow: rejected by the caller
            cost = np.inf
        weights = terms / total[:, None]
        jacobian = np.einsum("rp,rpk->rk", weights, design) / sigma
        # Newton: the curvature of log-sum-exp, A' (diag(w) - w w') A / sigma per row,
        # weighted by the row's residual (Gauss-Newton alone crawls along the valleys
        # that a scalar effect and its per-parameter effects span together)
        spread = (np.sqrt(weights)[:, :, None] * design).reshape(-1, design.shape[2])
        per_term = np.repeat(residual, design.shape[1])
        curvature = (spread * per_term[:, None]).T @ spread
        curvature -= (jacobian * residual[:, None]).T @ jacobian * sigma**2
        hessian = jacobian.T @ jacobian + curvature / sigma + np.diag(precision)
        gradient = jacobian.T @ residual + (e - prior_mean) * precision
        return cost, gradient, hessian, residual

    e = prior_mean.astype(float).copy()
    cost, gradient, hessian, _ = evaluate(e)
    scale = np.diag(precision)
    damping = 1e-4
    for _ in range(max_iterations):
        while True:
            try:
                step = np.linalg.solve(hessian + damping * scale, -gradient)
            except np.linalg.LinAlgError:
                step = None
            if step is not None:
                candidate = e + step
                new = evaluate(candidate)
                if new[0] <= cost:
                    break
            if damping > 1e12:
                return e
            damping *= 10.0
        improvement = cost - new[0]
        e, (cost, gradient, hessian, _) = candidate, new
        damping = max(damping / 10.0, 1e-9)
        if improvement <= 1e-10 * max(cost, 1.0) or np.max(np.abs(step)) < 1e-9:
            break
    return e
