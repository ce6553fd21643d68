"""One metric: an HdrHistogram (3 significant digits) plus exact count, min, max, sum.

Values come in their natural unit (seconds, or a ratio for ``limit_used``) and are recorded as
integers in a finer *histogram unit* (microseconds, parts per million). Zero is a real value
(two items that arrived in one chunk have a zero gap) and HdrHistogram records it in its own
bucket, so it needs no special case.

Out-of-range samples (below 0, above the metric's highest value, NaN or infinite) are never
dropped: each one adds 1 to ``out_of_range`` and is *clamped* into ``[0, highest]`` for the
histogram, so it still counts in ``count`` and in the percentiles. The exact ``min``, ``max``
and ``mean`` keep the raw value when it is finite (a 700 s stream shows ``max`` 700 s even
though the histogram holds it at 600 s); NaN and infinities use the clamped value everywhere.
Percentiles are clamped into ``[min, max]`` so bucket rounding never reports above the max.

The exact sum is an integer of *fine units* (1/1000 of a histogram unit: nanoseconds, parts per
billion), so merging is exactly associative and commutative, which float sums are not.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import accumulate
from typing import TYPE_CHECKING, Any

from hdrh.histogram import HdrHistogram

from harness.errors import FlowloadError

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

SIGNIFICANT_DIGITS = 3
PERCENTILES: tuple[tuple[str, float], ...] = (
    ("p50", 50.0),
    ("p90", 90.0),
    ("p95", 95.0),
    ("p99", 99.0),
    ("p99.9", 99.9),
)
SUMMARY_KEYS: tuple[str, ...] = ("count", "min", "mean", *(k for k, _ in PERCENTILES), "max")

# Fine units per histogram unit for the exact sum (ns per µs, ppb per ppm).
_FINE = 1000


class StatsError(FlowloadError):
    """Statistics cannot be computed or decoded; the message says what was wrong."""


@dataclass(frozen=True, slots=True)
class MetricSpec:
    """How one metric is recorded and reported.

    ``scale`` converts an input value to histogram units, ``out_scale`` converts histogram
    units to the reported unit, ``highest`` is the top of the range in histogram units and
    ``decimals`` is the rounding of reported values.
    """

    name: str
    scale: float
    highest: int
    out_scale: float
    decimals: int


# Time metrics: seconds in, microseconds in the histogram (1 µs .. 600 s), milliseconds out.
_TIME_KW: dict[str, Any] = {
    "scale": 1e6,
    "highest": 600_000_000,
    "out_scale": 1e-3,
    "decimals": 6,
}
TTFB = MetricSpec("ttfb_ms", **_TIME_KW)
TTFI = MetricSpec("ttfi_ms", **_TIME_KW)
ITL = MetricSpec("itl_ms", **_TIME_KW)
DURATION = MetricSpec("duration_ms", **_TIME_KW)
# Ratio in, parts per million in the histogram (1 ppm .. 10x the limit), ratio out.
LIMIT_USED = MetricSpec("limit_used", scale=1e6, highest=10_000_000, out_scale=1e-6, decimals=9)
METRICS: tuple[MetricSpec, ...] = (TTFB, TTFI, ITL, DURATION, LIMIT_USED)


def _new_hdr(spec: MetricSpec) -> HdrHistogram:
    return HdrHistogram(1, spec.highest, SIGNIFICANT_DIGITS)


@dataclass(frozen=True, slots=True)
class HistogramMark:
    """A metric at one moment (its used buckets' counts), for :meth:`MetricHistogram.since`."""

    count: int
    out_of_range: int
    sum_fine: int
    indices: NDArray[np.intp]
    counts: NDArray[np.uint64]


class MetricHistogram:
    """One metric's samples: HdrHistogram counts plus exact count/min/max/sum/out_of_range."""

    __slots__ = (
        "_hdr",
        "_mask",
        "_max",
        "_min",
        "_shift",
        "_sum_fine",
        "count",
        "out_of_range",
        "spec",
    )

    def __init__(self, spec: MetricSpec) -> None:
        self.spec = spec
        self._hdr = _new_hdr(spec)
        self.count = 0
        self.out_of_range = 0
        self._min = math.inf
        self._max = -math.inf
        self._sum_fine = 0
        # Bucket geometry for the batched fast path (see _add_counts); unit magnitude is 0
        # because the lowest discernible value is 1.
        self._mask = self._hdr.sub_bucket_mask
        self._shift = self._hdr.sub_bucket_half_count_magnitude

    # -- recording -------------------------------------------------------------------------

    def record(self, value: float) -> None:
        """Record one sample (input unit: seconds, or a ratio for ``limit_used``)."""
        spec = self.spec
        units = value * spec.scale
        if 0.0 <= units <= spec.highest:  # False for NaN too
            q = int(units + 0.5)
            exact = value
        else:
            q, exact = self._clamp(value, units)
        self._hdr.record_value(q)
        self.count += 1
        self._sum_fine += round(exact * spec.scale * _FINE)
        self._min = min(self._min, exact)
        self._max = max(self._max, exact)

    def record_many(self, values: Sequence[float]) -> None:
        """Record a batch of samples, e.g. every inter-item gap of one stream.

        Cheaper per value than :meth:`record`: the bucket index is computed inline and the
        exact statistics are updated once per batch.
        """
        n = len(values)
        if n == 0:
            return
        spec = self.spec
        total = sum(values)
        lo = min(values)
        hi = max(values)
        # NaN or an infinity makes the sum non-finite: those take the careful path.
        if not (math.isfinite(total) and lo >= 0.0 and hi * spec.scale <= spec.highest):
            for value in values:
                self.record(value)
            return
        self._add_counts(values, int(lo * spec.scale + 0.5), int(hi * spec.scale + 0.5))
        self.count += n
        self._sum_fine += round(total * spec.scale * _FINE)
        self._min = min(self._min, lo)
        self._max = max(self._max, hi)

    def _add_counts(self, values: Sequence[float], q_lo: int, q_hi: int) -> None:
        # Same index arithmetic as HdrHistogram._counts_index_for (unit magnitude 0), about
        # 4x cheaper than record_value per value; tests check both agree.
        hdr = self._hdr
        counts = hdr.counts
        scale = self.spec.scale
        mask = self._mask
        shift = self._shift
        top = shift + 1
        half = 1 << shift
        # Items completed by one chunk have gap 0.0 (bucket 0): count them at C speed, so a
        # burst-read body (thousands of items per read) does not cost a Python loop per item.
        zeros = values.count(0.0)
        counts[0] += zeros
        for value in filter(None, values) if zeros else values:
            q = int(value * scale + 0.5)
            bucket = (q | mask).bit_length() - top
            counts[((bucket + 1) << shift) + (q >> bucket) - half] += 1
        hdr.total_count += len(values)
        hdr.min_value = min(hdr.min_value, q_lo)
        hdr.max_value = max(hdr.max_value, q_hi)

    def _clamp(self, value: float, units: float) -> tuple[int, float]:
        """Histogram units and exact value for an out-of-range sample (counted here)."""
        self.out_of_range += 1
        highest = self.spec.highest
        q = 0 if units < 0.0 else highest  # NaN lands at the top: worst case, visible
        exact = value if math.isfinite(value) else q / self.spec.scale
        return q, exact

    # -- combining -------------------------------------------------------------------------

    def merge(self, other: MetricHistogram) -> None:
        """Add ``other``'s samples to this one (``other`` is not changed)."""
        if other.spec != self.spec:
            raise StatsError(
                f"cannot merge metric {other.spec.name!r} into {self.spec.name!r}: "
                "merge histograms of the same metric only"
            )
        if other.count == 0:
            return
        self._hdr.add(other._hdr)
        self.count += other.count
        self.out_of_range += other.out_of_range
        self._sum_fine += other._sum_fine
        self._min = min(self._min, other._min)
        self._max = max(self._max, other._max)

    # -- reporting -------------------------------------------------------------------------

    def summary(self) -> dict[str, float | int | None]:
        """``count, min, mean, p50, p90, p95, p99, p99.9, max, out_of_range`` (reported unit).

        Every statistic is None when ``count`` is 0.
        """
        out: dict[str, float | int | None] = {"count": self.count}
        if self.count == 0:
            out.update(dict.fromkeys(SUMMARY_KEYS[1:]))
            out["out_of_range"] = self.out_of_range
            return out
        spec = self.spec
        factor = spec.scale * spec.out_scale
        lo = round(self._min * factor, spec.decimals)
        hi = round(self._max * factor, spec.decimals)
        values = self.percentile_units()
        out["min"] = lo
        out["mean"] = round(self._sum_fine / self.count / _FINE * spec.out_scale, spec.decimals)
        for (key, _), units in zip(PERCENTILES, values, strict=True):
            value = round(units * spec.out_scale, spec.decimals)
            out[key] = min(max(value, lo), hi)
        out["max"] = hi
        out["out_of_range"] = self.out_of_range
        return out

    def percentile_units(self) -> list[int]:
        """The PERCENTILES in histogram units, as HdrHistogram defines them (count must be > 0).

        Same rank rule and bucket value (highest equivalent) as hdrh's
        ``get_percentile_to_value_dict``, ~5x faster: cumulative counts are summed in C up to
        the highest used bucket and searched with bisect.
        """
        hdr = self._hdr
        last = hdr.get_counts_array_index(hdr.max_value)
        cumulative = list(accumulate(memoryview(hdr.counts).cast("B").cast("Q")[: last + 1]))
        total = cumulative[-1]
        out = []
        for _, pct in PERCENTILES:
            rank = max(int(pct * total / 100 + 0.5), 1)
            index = bisect_left(cumulative, rank)
            out.append(hdr.get_highest_equivalent_value(hdr.get_value_from_index(index)))
        return out

    # -- windows ---------------------------------------------------------------------------

    def _bucket_counts(self) -> NDArray[np.uint64]:
        import numpy as np  # noqa: PLC0415 - only live windows need it

        return np.frombuffer(self._hdr.counts, dtype=np.uint64)

    def mark(self) -> HistogramMark:
        """Where this metric is now: :meth:`since` then gives the samples recorded after."""
        import numpy as np  # noqa: PLC0415

        counts = self._bucket_counts()
        used = np.flatnonzero(counts)
        return HistogramMark(self.count, self.out_of_range, self._sum_fine, used, counts[used])

    def since(self, mark: HistogramMark) -> MetricHistogram:
        """The samples recorded after ``mark`` was taken from this metric.

        Counts, mean and percentiles are exact (as exact as the histogram); min and max are the
        bounds of the lowest and highest buckets used, the exact values being unknown.
        """
        import numpy as np  # noqa: PLC0415

        later = MetricHistogram(self.spec)
        count = self.count - mark.count
        if count <= 0:
            return later
        counts = later._bucket_counts()
        counts[:] = self._bucket_counts()
        counts[mark.indices] -= mark.counts
        used = np.flatnonzero(counts)
        hdr = later._hdr
        low, high = int(used[0]), int(used[-1])
        hdr.set_internal_tacking_values(low, high, count)
        later.count = count
        later.out_of_range = self.out_of_range - mark.out_of_range
        later._sum_fine = self._sum_fine - mark.sum_fine
        later._min = (
            hdr.get_lowest_equivalent_value(hdr.get_value_from_index(low)) / self.spec.scale
        )
        later._max = hdr.max_value / self.spec.scale
        return later

    # -- wire format -----------------------------------------------------------------------

    def to_wire(self) -> dict[str, Any]:
        """A JSON-ready dict (the histogram as HdrHistogram's compressed base64 encoding)."""
        return {
            "n": self.count,
            "oor": self.out_of_range,
            # None when empty: JSON has no infinities.
            "min": self._min if self.count else None,
            "max": self._max if self.count else None,
            # A string: the sum may outgrow the 64-bit integers JSON codecs accept.
            "sum": str(self._sum_fine),
            "h": self._hdr.encode().decode("ascii"),
        }

    @classmethod
    def from_wire(cls, spec: MetricSpec, wire: Mapping[str, Any]) -> MetricHistogram:
        """Rebuild a metric from :meth:`to_wire` output; raise StatsError if it is malformed."""
        metric = cls(spec)
        try:
            other = HdrHistogram.decode(wire["h"].encode("ascii"))
            count = int(wire["n"])
            metric.out_of_range = int(wire["oor"])
            if count:
                metric._min = float(wire["min"])
                metric._max = float(wire["max"])
            metric._sum_fine = int(wire["sum"])
        except Exception as exc:  # hdrh raises many types (zlib, base64, its own)
            raise StatsError(
                f"malformed {spec.name!r} histogram in a stats delta ({type(exc).__name__}: "
                f"{exc}); send only what Recorder.take_delta produced"
            ) from exc
        _check_decoded(spec, other, count)
        if count:
            metric._hdr.add(other)
        metric.count = count
        return metric


def _check_decoded(spec: MetricSpec, hdr: HdrHistogram, count: int) -> None:
    ref = _new_hdr(spec)
    same_shape = (
        hdr.significant_figures == ref.significant_figures
        and hdr.counts_len == ref.counts_len
        and hdr.lowest_trackable_value == ref.lowest_trackable_value
    )
    if not same_shape:
        raise StatsError(
            f"{spec.name!r} histogram in a stats delta has another layout "
            f"(lowest {hdr.lowest_trackable_value}, highest {hdr.highest_trackable_value}, "
            f"{hdr.significant_figures} digits): master and workers must run the same flowload"
        )
    if hdr.get_total_count() != count:
        raise StatsError(
            f"{spec.name!r} histogram in a stats delta holds {hdr.get_total_count()} samples "
            f"but says {count}: the delta is corrupt"
        )
