"""Metrics agree with sklearn and Kaggle's clipping; the submission writer and validator catch every defect."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import log_loss as sk_log_loss

from deepfake_detection.metrics import (
    balanced_log_loss,
    bootstrap_intervals,
    bootstrap_samples,
    evaluate,
    evaluate_files,
    log_loss,
    prior_baseline,
)
from deepfake_detection.submission import expected_filenames, validate_submission, write_submission


def test_log_loss_matches_sklearn_and_clips():
    y = np.array([1, 0, 1, 1])
    p = np.array([0.9, 0.2, 0.6, 0.99])
    assert log_loss(y, p) == pytest.approx(sk_log_loss(y, p))
    # A confident wrong answer is bounded by the clipping, as on Kaggle.
    assert log_loss([1], [0.0]) == pytest.approx(-math.log(1e-15))
    assert math.isfinite(log_loss([0, 1], [1.0, 0.0]))


def test_balanced_log_loss_weighs_classes_equally():
    y = np.array([1] * 9 + [0])
    p = np.array([0.9] * 9 + [0.9])
    expected = (-math.log(0.9) + -math.log(0.1)) / 2
    assert balanced_log_loss(y, p) == pytest.approx(expected)
    assert log_loss(y, p) < balanced_log_loss(y, p)


def test_evaluate_and_prior():
    y = np.array([1, 1, 1, 0])
    scores = evaluate(y, [0.8, 0.7, 0.4, 0.1])
    assert scores["roc_auc"] == 1.0 and scores["accuracy"] == 0.75
    assert (scores["n"], scores["n_fake"], scores["n_real"]) == (4, 3, 1)
    prior = prior_baseline(y)
    assert prior["log_loss"] == pytest.approx(sk_log_loss(y, [0.75] * 4))
    assert prior["balanced_log_loss"] == pytest.approx((-math.log(0.75) - math.log(0.25)) / 2)


def test_bootstrap_intervals_contain_point_estimate():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    p = np.clip(y * 0.6 + rng.normal(0.2, 0.15, 200), 0.01, 0.99)
    point = evaluate(y, p)
    intervals = bootstrap_intervals(y, p, n_boot=200, seed=0)
    for name in ("log_loss", "balanced_log_loss", "roc_auc", "accuracy"):
        low, high = intervals[name]
        assert low <= point[name] <= high
    assert intervals == bootstrap_intervals(y, p, n_boot=200, seed=0)


def test_write_and_validate_submission(tmp_path, shared_dfdc):
    order = expected_filenames(sample_submission=shared_dfdc / "sample_submission.csv")
    assert len(order) == 400
    predictions = {name: 0.5 for name in reversed(order)}
    frame = write_submission(predictions, tmp_path / "submission.csv", order=order)
    assert frame["filename"].tolist() == order
    assert validate_submission(tmp_path / "submission.csv", expected=order) == []
    with pytest.raises(KeyError, match="no prediction"):
        write_submission({}, tmp_path / "x.csv", order=order[:2])


def test_validator_reports_each_problem(tmp_path):
    bad = tmp_path / "bad.csv"
    pd.DataFrame({"filename": ["a.mp4", "a.mp4", "b.mp4", "c.mp4", "x.mp4"],
                  "label": [0.1, 0.2, np.nan, 1.5, 0.3]}).to_csv(bad, index=False)
    problems = validate_submission(bad, expected=["a.mp4", "b.mp4", "c.mp4", "d.mp4"])
    text = "\n".join(problems)
    assert "duplicate row for a.mp4" in text
    assert "label of b.mp4 is missing" in text
    assert "label of c.mp4 is 1.5, outside [0, 1]" in text
    assert "missing file d.mp4" in text and "extra file x.mp4" in text
    header = tmp_path / "header.csv"
    header.write_text("name,prob\na.mp4,0.5\n")
    assert "header is ['name', 'prob']" in validate_submission(header)[0]


def test_evaluate_files(tmp_path):
    pd.DataFrame({"filename": ["a.mp4", "b.mp4"], "label": [0.9, 0.2]}).to_csv(tmp_path / "s.csv", index=False)
    pd.DataFrame({"filename": ["a.mp4", "b.mp4"], "label": ["FAKE", "REAL"]}).to_csv(tmp_path / "t.csv", index=False)
    scores, joined = evaluate_files(tmp_path / "s.csv", tmp_path / "t.csv")
    assert scores["accuracy"] == 1.0 and len(joined) == 2


def test_vectorised_bootstrap_equals_evaluate_on_each_resample():
    rng = np.random.default_rng(1)
    y, p, groups = rng.integers(0, 2, 40), rng.random(40), rng.integers(0, 6, 40)
    p[:5] = p[5:10]  # ties count half in the AUC
    got = bootstrap_samples(y, p, groups, n_boot=60, seed=3)
    draws = np.random.default_rng(3)  # the same generator calls: len(unique groups) whole groups per resample
    unique = np.unique(groups)
    for b in range(60):
        picked = np.concatenate([np.flatnonzero(groups == g) for g in draws.choice(unique, size=len(unique))])
        expected = evaluate(y[picked], p[picked])
        for metric in ("log_loss", "balanced_log_loss", "roc_auc", "accuracy"):
            np.testing.assert_allclose(got[metric][b], expected[metric], rtol=1e-9, equal_nan=True)
