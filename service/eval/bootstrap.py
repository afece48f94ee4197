"""Is setting B really different from setting A on the same items? The paired bootstrap: resample the items
with replacement, compute each headline metric for A and for B on the SAME resample, and take the 2.5th and
97.5th percentiles of B - A as the 95 % confidence interval. Pairing removes the item-to-item variance both
settings share, so a real difference shows up with far fewer items than two independent intervals need."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from service.eval.paper_metrics import Table, headline


@dataclass(frozen=True)
class Difference:
    metric: str
    a: float
    b: float
    low: float  # 95 % interval of b - a
    high: float

    @property
    def delta(self) -> float:
        return self.b - self.a

    @property
    def significant(self) -> bool:
        """The interval excludes 0."""
        return self.low > 0 or self.high < 0


def paired_differences(a: Table, b: Table, resamples: int = 2000, seed: int = 0) -> list[Difference]:
    if len(a) != len(b):
        raise ValueError("paired tables must hold the same items")
    observed_a, observed_b = headline(a), headline(b)
    rng = np.random.default_rng(seed)
    samples: dict[str, list[float]] = {metric: [] for metric in observed_a}
    for _ in range(resamples):
        rows = rng.integers(0, len(a), len(a))
        resampled_a, resampled_b = headline(a, rows), headline(b, rows)
        for metric in samples:
            samples[metric].append(resampled_b[metric] - resampled_a[metric])
    differences = []
    for metric, values in samples.items():
        finite = np.array([v for v in values if not np.isnan(v)])
        low, high = np.percentile(finite, [2.5, 97.5]) if finite.size else (np.nan, np.nan)
        differences.append(Difference(metric, observed_a[metric], observed_b[metric], float(low), float(high)))
    return differences
