"""Group-bootstrap intervals: simulated coverage on a realistic cluster layout, and the few-groups mark."""

from __future__ import annotations

import numpy as np
import pandas as pd

from deepfake_detection.config import MIN_RELIABLE_GROUPS
from deepfake_detection.metrics import bootstrap_intervals, evaluate, small_sample_factor


def paired_layout(rng: np.random.Generator, n_pairs: int, n_single_fakes: int) -> tuple[np.ndarray, ...]:
    """A DFDC-crops-like sample: each group one REAL and one FAKE made from it (plus fakes whose original is absent).

    A group effect (actor, lighting, camera) moves both scores of a pair alike, so rows of a group are not
    independent; the model separates FAKE from REAL by a fixed shift. Returns (y, p, group).
    """
    group = np.r_[np.repeat(np.arange(n_pairs), 2), n_pairs + np.arange(n_single_fakes)]
    y = np.r_[np.tile([0, 1], n_pairs), np.ones(n_single_fakes, int)]
    effect = rng.normal(0, 0.8, group.max() + 1)[group]
    z = 0.9 * (2 * y - 1) + effect + rng.normal(0, 1, len(y))
    return y, 1 / (1 + np.exp(-z)), group


def test_group_bootstrap_covers_95_percent_on_a_dfdc_like_layout():
    rng = np.random.default_rng(0)
    y, p, _ = paired_layout(rng, 200_000, 20_000)  # the population the samples come from
    truth = evaluate(y, p)
    replicates, hits = 300, {"roc_auc": 0, "balanced_log_loss": 0}
    for r in range(replicates):
        y, p, group = paired_layout(rng, 3 * MIN_RELIABLE_GROUPS, MIN_RELIABLE_GROUPS // 2)  # 350 groups, 650 crops
        intervals = bootstrap_intervals(y, p, n_boot=250, seed=r, groups=group)
        for metric in hits:
            low, high = intervals[metric]
            hits[metric] += low <= truth[metric] <= high
    coverage = {m: h / replicates for m, h in hits.items()}
    assert min(coverage.values()) >= 0.93, coverage


def test_intervals_from_few_groups_are_widened_and_marked():
    assert small_sample_factor(7) > 1.2 > small_sample_factor(75) > 1.0  # t(6) vs z: wider with fewer groups
    from deepfake_detection.studies.common import UNRELIABLE, format_metric

    row = pd.Series({"roc_auc": 0.6, "roc_auc_low": 0.4, "roc_auc_high": 0.8, "n_groups": MIN_RELIABLE_GROUPS - 1})
    assert format_metric(row, "roc_auc").endswith(UNRELIABLE)
    assert not format_metric(pd.Series({**row, "n_groups": MIN_RELIABLE_GROUPS}), "roc_auc").endswith(UNRELIABLE)
