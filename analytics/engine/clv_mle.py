"""Maximum likelihood plumbing shared by the CLV models (:mod:`.clv_bgnbd`, :mod:`.clv_gamma_gamma`).

Both fits run L-BFGS-B on log-parameters inside one box with the same tolerances, and both refuse
a fit that ran to the box: :class:`InsufficientDataError` is the one error callers catch for "too
little or too uniform data to fit a CLV model".
"""
from __future__ import annotations

import numpy as np
from scipy import optimize

# Log-parameter box for L-BFGS-B: exp(+-12) spans 6e-6 .. 1.6e5, wide enough for days or weeks,
# narrow enough that a degenerate sample cannot send a parameter to overflow.
_LOG_BOUND = 12.0
# Tight tolerances: the likelihood surface is flat along r/alpha, and the published parameters
# are quoted to 4 significant digits.
_OPTIMIZER_OPTIONS = {"maxiter": 2000, "ftol": 1e-14, "gtol": 1e-9}
# A fitted log-parameter this close to the box means the likelihood kept improving towards a
# boundary (e.g. every repeat buyer bought exactly once more, so p -> 1): the data cannot
# identify the model and its predictions would be meaningless (or NaN in 2F1), so we refuse.
_DEGENERATE_LOG = _LOG_BOUND - 1.0
# An optimizer that gave up (L-BFGS-B "ABNORMAL" line search) with a parameter this far out was
# still heading for the boundary: seen on the same degenerate data on two machines, stopping at
# log a = 10.7 on one and beyond 11 on the other. Sound fits (CDNOW) stay within |log| < 2.
_DEGENERATE_LOG_UNCONVERGED = _LOG_BOUND / 2


class InsufficientDataError(ValueError):
    """Raised when there are too few customers or repeat buyers to fit a model."""


def _check_not_degenerate(model: str, names: tuple[str, ...], res: optimize.OptimizeResult) -> None:
    if not np.isfinite(res.fun) or np.any(~np.isfinite(res.x)):
        raise InsufficientDataError(f"{model} fit did not converge: {res.message}")
    limit = _DEGENERATE_LOG if res.success else _DEGENERATE_LOG_UNCONVERGED
    stuck = [n for n, v in zip(names, res.x) if abs(v) > limit]
    if stuck:
        raise InsufficientDataError(
            f"{model} fit ran to a boundary ({', '.join(stuck)}): too little or too uniform data")
