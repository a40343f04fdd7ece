"""Nested cross-fitting and the null check: no reported number sees the labels it is scored on."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from deepfake_detection.aggregate import fit_calibration, logit
from deepfake_detection.config import PredictConfig
from deepfake_detection.crossfit import (
    NULL_AUC_SLACK,
    NULL_BLL_SLACK,
    Step,
    chain_oof,
    cross_fit,
    fit_chain,
    null_check,
)
from deepfake_detection.ensemble import StackInputs, fit_meta, meta_predict, stack_columns


def recording_step(name: str, seen: list[tuple[str, frozenset]]) -> Step:
    """A step that remembers which rows it was fitted on (x holds row ids) and passes x through."""
    return Step(name, lambda x, y, folds: seen.append((name, frozenset(x.ravel().astype(int)))),
                lambda params, x: x)


def test_every_step_of_a_nested_chain_is_fitted_without_the_scored_fold():
    folds = np.repeat(np.arange(4), 5)  # 4 folds of 5 rows
    rows = np.arange(len(folds), dtype=float)
    for fold in range(4):
        seen: list[tuple[str, frozenset]] = []
        steps = [recording_step(n, seen) for n in ("aggregation", "meta", "calibration")]
        train = folds != fold
        fit_chain(steps, rows[train], np.zeros(train.sum()), folds[train])
        scored = set(np.flatnonzero(folds == fold))
        assert seen and all(not (rows_seen & scored) for _, rows_seen in seen)
        # calibration (the last step) was fitted once, on the training rows; the earlier steps also per inner fold
        assert [n for n, _ in seen].count("calibration") == 1
        assert [n for n, _ in seen].count("meta") == 1 + 3  # its own fit + inner cross-fits for calibration's input
    out = chain_oof([Step("mean", lambda x, y, f: y.mean(), lambda m, x: np.full(len(x), m))], rows,
                    (folds == 0).astype(float), folds)
    np.testing.assert_allclose(out[folds == 0], 0.0)  # fold 0's rows predicted from the other folds' labels only
    np.testing.assert_allclose(out[folds == 1], 5 / 15)


def stored_predictions(seed: int = 0) -> StackInputs:
    """Stored OOF predictions sized like the FF++ set: 67 videos in 7 groups of 20/20/20/2/2/2/1, 3 folds, 2 models."""
    rng = np.random.default_rng(seed)
    group = np.repeat(np.arange(7), [20, 20, 20, 2, 2, 2, 1])
    fold = np.array([0, 1, 2, 0, 1, 2, 0])[group]
    y = (rng.random(len(group)) < 52 / 67).astype(int)
    z = 0.5 + rng.normal(0, 1, (len(group), 2, 1)) + rng.normal(0, 0.3, (len(group), 2, 4))
    table = pd.DataFrame({"video_id": [f"v{i:02d}" for i in range(len(group))], "label": y, "group": group.astype(str),
                          "fold": fold, "has_face": np.arange(len(group)) != 5})  # one video without a face
    return StackInputs(table, ["model_a", "model_b"], 1 / (1 + np.exp(-z)), [64, 64])


def test_every_reported_stacking_row_passes_the_null_check():
    inputs, cfg = stored_predictions(), PredictConfig()
    y = inputs.table["label"].to_numpy(int)
    null = null_check(lambda z: stack_columns(inputs, z, cfg, "logreg"), y, n=150, seed=1)
    assert set(null.index) == {"model_a", "model_a_calibrated", "model_b", "model_b_calibrated", "stack",
                               "stack_calibrated"}
    assert (null["null_balanced_log_loss"] >= np.log(2) - NULL_BLL_SLACK).all(), null
    assert (null["null_roc_auc"] <= 0.5 + NULL_AUC_SLACK).all(), null
    assert null["passes"].all()


def test_the_null_check_catches_calibration_fitted_on_meta_predictions_that_saw_the_fold():
    """The old path: the meta model's OOF output, then calibration cross-fitted on the same folds (a leak)."""
    inputs, cfg = stored_predictions(), PredictConfig()
    x, folds = logit(inputs.p[:, :, 0], cfg.logit_eps), inputs.table["fold"].to_numpy(int)

    def leaky(z: np.ndarray) -> dict[str, np.ndarray]:
        stack = cross_fit(folds, lambda tr, te: meta_predict(fit_meta(x[tr], z[tr], "logreg", cfg), x[te]))
        return {"stack +cal (leaky)": cross_fit(folds, lambda tr, te: fit_calibration(z[tr], stack[tr], cfg).apply(
            stack[te]))}

    null = null_check(leaky, inputs.table["label"].to_numpy(int), n=150, seed=1)
    assert not null.loc["stack +cal (leaky)", "passes"], null


def test_null_check_needs_permutations():
    with pytest.raises(ValueError, match="at least one permutation"):
        null_check(lambda z: {}, np.array([0, 1]), n=0)


def test_auto_calibration_is_chosen_inside_the_fit_rows_and_passes_the_null_check():
    inputs = stored_predictions(seed=2)
    cfg = PredictConfig(calibration="auto")
    y = inputs.table["label"].to_numpy(int)
    columns = stack_columns(inputs, y, cfg, "logreg")
    assert all(np.isfinite(v).all() and ((v > 0) & (v < 1)).all() for v in columns.values())
    null = null_check(lambda z: {"stack_calibrated": stack_columns(inputs, z, cfg, "logreg")["stack_calibrated"]},
                      y, n=60, seed=3)
    assert null.loc["stack_calibrated", "null_balanced_log_loss"] >= np.log(2) - NULL_BLL_SLACK, null
