"""Universal Scalability Law fit of throughput vs concurrency.

``X(N) = lambda*N / (1 + sigma*(N-1) + kappa*N*(N-1))``: lambda is the throughput of one
stream alone, sigma the contention (serialised fraction) and kappa the coherency (crosstalk)
penalty. With kappa > 0 throughput peaks at ``N* = sqrt((1-sigma)/kappa)``; with kappa = 0 it
only flattens towards lambda/sigma.
Fitted by bounded non-linear least squares (scipy), several starts, best kept.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from harness.capacity.errors import CapacityError, InsufficientDataError

FloatArray = npt.NDArray[np.float64]
_SIGMA_STARTS = (0.0, 0.02, 0.2, 0.6)
_KAPPA_STARTS = (0.0, 1e-4, 1e-2)


def usl_throughput(n: float, sigma: float, kappa: float, lam: float) -> float:
    """The model's throughput at concurrency ``n``."""
    return lam * n / (1.0 + sigma * (n - 1.0) + kappa * n * (n - 1.0))


@dataclass(frozen=True, slots=True)
class UslFit:
    """A fitted USL model with its goodness of fit and the range it was fitted on.

    Standard errors (``*_se``) come from the Jacobian at the optimum; they are None when
    there are no spare degrees of freedom (3 points) or the problem is singular.
    """

    sigma: float
    kappa: float
    lam: float
    r_squared: float
    points: int
    n_min: float
    n_max: float
    sigma_se: float | None = None
    kappa_se: float | None = None
    lam_se: float | None = None

    def predict(self, n: float) -> float:
        """Predicted throughput at concurrency ``n``."""
        return usl_throughput(n, self.sigma, self.kappa, self.lam)

    def curve(self, upto: float | None = None, points: int = 60) -> list[tuple[float, float]]:
        """``points`` (N, X) pairs from N = 0 to ``upto`` (default: the highest N fitted)."""
        top = self.n_max if upto is None else upto
        if not (math.isfinite(top) and top > 0) or points < 2:
            raise CapacityError(f"a curve needs upto > 0 and points >= 2, got {upto!r}, {points!r}")
        return [(n, self.predict(n)) for n in np.linspace(0.0, top, points).tolist()]

    @property
    def peak_concurrency(self) -> float | None:
        """``N* = sqrt((1-sigma)/kappa)``; None without a peak (kappa = 0 or sigma >= 1)."""
        if self.kappa <= 0 or self.sigma >= 1:
            return None
        return math.sqrt((1.0 - self.sigma) / self.kappa)

    @property
    def peak_throughput(self) -> float | None:
        """The throughput at N* (None without a peak)."""
        peak = self.peak_concurrency
        return None if peak is None else self.predict(peak)

    @property
    def ceiling(self) -> float | None:
        """lambda/sigma: the asymptote when kappa = 0 (None otherwise, or when sigma = 0)."""
        return self.lam / self.sigma if self.kappa <= 0 < self.sigma else None

    @property
    def kappa_significant(self) -> bool:
        """Whether kappa is clearly above 0 (> 2 standard errors; > 0 when there is no SE).

        A kappa indistinguishable from 0 puts the "peak" wherever noise says, often absurdly far.
        """
        if self.kappa <= 0:
            return False
        return self.kappa_se is None or self.kappa > 2.0 * self.kappa_se

    @property
    def extrapolated(self) -> bool:
        """Whether the peak lies outside the measured concurrency range (or there is none)."""
        peak = self.peak_concurrency
        return peak is None or not self.n_min <= peak <= self.n_max

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict (floats, None for what does not exist)."""
        return {
            "sigma": self.sigma,
            "kappa": self.kappa,
            "lambda": self.lam,
            "sigma_se": self.sigma_se,
            "kappa_se": self.kappa_se,
            "lambda_se": self.lam_se,
            "r_squared": self.r_squared,
            "points": self.points,
            "n_min": self.n_min,
            "n_max": self.n_max,
            "peak_concurrency": self.peak_concurrency,
            "peak_throughput": self.peak_throughput,
            "kappa_significant": self.kappa_significant,
            "ceiling": self.ceiling,
            "extrapolated": self.extrapolated,
        }


def fit_usl(concurrency: Sequence[float], throughput: Sequence[float]) -> UslFit:
    """Fit the USL to measured (N, X) points.

    Raise CapacityError for invalid input (lengths differ, NaN, N <= 0, X < 0) and
    InsufficientDataError for fewer than 3 distinct N or no throughput at all.
    """
    # scipy is imported here, not with the module: it takes ~0.3 s and only a fit needs it.
    from scipy.optimize import (  # type: ignore[import-untyped,unused-ignore] # noqa: PLC0415
        OptimizeWarning,
    )

    n, x = _validated(concurrency, throughput)
    best = None
    # Fitting in units of the largest N and X keeps the problem well scaled whatever the units.
    n_scale, x_scale = float(n.max()), float(x.max())
    ns, xs = n / n_scale, x / x_scale
    lam0 = float(np.max(xs / ns))
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", OptimizeWarning)
        for s0 in _SIGMA_STARTS:
            for k0 in _KAPPA_STARTS:
                start = np.array([s0, k0 * n_scale * n_scale, lam0])
                result = _solve(ns, xs, n_scale, start)
                if result is not None and (best is None or result.cost < best.cost):
                    best = result
    if best is None or not np.all(np.isfinite(best.x)):
        raise CapacityError("the USL fit did not converge on these points")
    return _result(best, n, x, n_scale, x_scale)


def _validated(
    concurrency: Sequence[float], throughput: Sequence[float]
) -> tuple[FloatArray, FloatArray]:
    if len(concurrency) != len(throughput):
        raise CapacityError(
            f"USL fit needs one throughput per concurrency, got {len(concurrency)} "
            f"and {len(throughput)} values"
        )
    try:
        n = np.asarray(concurrency, dtype=np.float64)
        x = np.asarray(throughput, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise CapacityError(f"USL fit needs numbers, got {exc}") from exc
    if n.ndim != 1 or not (np.all(np.isfinite(n)) and np.all(np.isfinite(x))):
        raise CapacityError("USL fit needs finite numbers (no NaN or infinity) in both series")
    if np.any(n <= 0) or np.any(x < 0):
        raise CapacityError("USL fit needs concurrency > 0 and throughput >= 0")
    if len(np.unique(n)) < 3:
        raise InsufficientDataError(
            f"a USL fit needs at least 3 distinct concurrency levels, got {len(np.unique(n))}"
        )
    if not np.any(x > 0):
        raise InsufficientDataError("a USL fit needs some throughput > 0; every step had none")
    return n, x


def _solve(ns: FloatArray, xs: FloatArray, n_scale: float, start: FloatArray) -> Any:
    # Parameters in scaled units: N = n_scale * ns, so sigma is unchanged,
    # kappa_s = kappa * n_scale^2 and lambda_s = lambda * n_scale / x_scale. The model in
    # scaled units keeps the "N - 1" of the original.
    from scipy.optimize import (  # type: ignore[import-untyped,unused-ignore] # noqa: PLC0415
        least_squares,
    )

    one = 1.0 / n_scale

    def residuals(p: FloatArray) -> FloatArray:
        sigma, kappa_s, lam_s = p
        denom = 1.0 + sigma * (ns - one) / one + kappa_s * ns * (ns - one)
        return np.asarray(lam_s * ns / denom - xs, dtype=np.float64)

    try:
        return least_squares(
            residuals,
            start,
            bounds=([0.0, 0.0, 1e-12], [1.0, np.inf, np.inf]),
            x_scale="jac",
            method="trf",
        )
    except (ValueError, np.linalg.LinAlgError, FloatingPointError):
        return None


def _result(best: Any, n: FloatArray, x: FloatArray, n_scale: float, x_scale: float) -> UslFit:
    sigma, kappa_s, lam_s = (float(v) for v in best.x)
    kappa = kappa_s / (n_scale * n_scale)
    lam = lam_s * x_scale / n_scale
    residual = np.asarray(best.fun, dtype=np.float64) * x_scale
    ss_res = float(residual @ residual)
    ss_tot = float(((x - x.mean()) ** 2).sum())
    r_squared = 1.0 - ss_res / ss_tot if ss_tot > 0 else (1.0 if ss_res == 0 else 0.0)
    ses = _standard_errors(best, len(n), x_scale, n_scale)
    return UslFit(
        sigma=sigma,
        kappa=kappa,
        lam=lam,
        r_squared=r_squared,
        points=len(n),
        n_min=float(n.min()),
        n_max=float(n.max()),
        sigma_se=ses[0],
        kappa_se=ses[1],
        lam_se=ses[2],
    )


def _standard_errors(
    best: Any, points: int, x_scale: float, n_scale: float
) -> tuple[float | None, float | None, float | None]:
    dof = points - 3
    if dof <= 0:
        return None, None, None
    jac = np.asarray(best.jac, dtype=np.float64)
    fun = np.asarray(best.fun, dtype=np.float64)
    with np.errstate(all="ignore"):
        try:
            cov = np.linalg.inv(jac.T @ jac) * float(fun @ fun) / dof
        except np.linalg.LinAlgError:
            return None, None, None
    diag = np.diag(cov)
    if not np.all(np.isfinite(diag)) or np.any(diag < 0):
        return None, None, None
    se = np.sqrt(diag)
    return float(se[0]), float(se[1]) / (n_scale * n_scale), float(se[2]) * x_scale / n_scale
