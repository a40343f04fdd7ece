"""Cross-fitting: every learned choice is fitted on rows outside the fold it scores, nested where choices stack.

A reporting path is a chain of learned steps (aggregation choice -> meta model -> calibration, say).
Its out-of-fold output for fold f comes from the whole chain fitted on the rows outside f; inside that
fit, each step after the first learns from the cross-fitted output of the steps before it, computed on
the training rows' own folds. So no number that scores fold f ever saw a label of fold f, at any depth.
The deployed chain is `fit_chain` on all rows: the same procedure the out-of-fold numbers describe.

`null_check` reruns a reporting path on permuted labels: an honest path scores balanced log loss
>= ln 2 and AUC about 0.5 there, a leaking one scores better than chance on labels without signal.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from deepfake_detection.metrics import balanced_log_loss, roc_auc

log = logging.getLogger(__name__)

# A fit-and-predict function: (rows to fit on, rows to predict) as boolean masks -> predictions for the latter.
FitPredict = Callable[[np.ndarray, np.ndarray], np.ndarray]
# The null check's tolerances: an honest row's mean under the null stays above ln 2 - NULL_BLL_SLACK and its
# AUC below 0.5 + NULL_AUC_SLACK (the test of the issue "Numbers you can trust").
NULL_BLL_SLACK = 0.005
NULL_AUC_SLACK = 0.02


def cross_fit(folds: np.ndarray, fit_predict: FitPredict) -> np.ndarray:
    """Out-of-fold output (n, ...): the rows of fold f predicted by fit_predict(rows outside f, rows of f)."""
    folds = np.asarray(folds)
    out = None
    for fold in np.unique(folds):
        score = folds == fold
        part = np.asarray(fit_predict(~score, score), dtype=float)
        if out is None:
            out = np.full((len(folds), *part.shape[1:]), np.nan)
        out[score] = part
    return np.full(0, np.nan) if out is None else out


@dataclass(frozen=True)
class Step:
    """One learned step of a reporting path.

    fit(x, y, folds) -> params learns from the rows it is given (folds: their fold ids, for a step that
    chooses by cross-fitting inside); apply(params, x) -> (n,) or (n, m) output for any rows.
    """

    name: str
    fit: Callable[[np.ndarray, np.ndarray, np.ndarray], Any]
    apply: Callable[[Any, np.ndarray], np.ndarray]


def apply_chain(steps: list[Step], params: list[Any], x: np.ndarray) -> np.ndarray:
    """Run x through fitted steps in order."""
    for step, p in zip(steps, params, strict=True):
        x = step.apply(p, x)
    return x


def fit_chain(steps: list[Step], x: np.ndarray, y: np.ndarray, folds: np.ndarray) -> list[Any]:
    """Fit the steps in order on these rows; a later step learns from the earlier steps' cross-fitted output.

    With fewer than two folds among the rows (the inner level of a 2-fold split) the earlier steps'
    in-sample output is used instead: still only these rows' labels, so the outer fold stays untouched.
    """
    params: list[Any] = []
    for i, step in enumerate(steps):
        if i == 0:
            inputs = x
        elif len(np.unique(folds)) >= 2:
            inputs = chain_oof(steps[:i], x, y, folds)
        else:
            inputs = apply_chain(steps[:i], params, x)
        params.append(step.fit(inputs, y, folds))
    return params


def chain_oof(steps: list[Step], x: np.ndarray, y: np.ndarray, folds: np.ndarray) -> np.ndarray:
    """Nested out-of-fold output of a chain: fold f's rows come from the chain fitted on the rows outside f."""
    folds = np.asarray(folds)

    def fit_predict(train: np.ndarray, score: np.ndarray) -> np.ndarray:
        params = fit_chain(steps, x[train], y[train], folds[train])
        return apply_chain(steps, params, x[score])

    return cross_fit(folds, fit_predict)


# --- the null check ------------------------------------------------------------------------------
ReportingPath = Callable[[np.ndarray], dict[str, np.ndarray]]  # labels -> reported row name -> P(FAKE) per row


def permuted_labels(y: np.ndarray, strata: np.ndarray | None, rng: np.random.Generator) -> np.ndarray:
    """A permutation of y (within each stratum when given): the label counts stay, the signal goes."""
    y = np.asarray(y).copy()
    if strata is None:
        return rng.permutation(y)
    strata = np.asarray(strata)
    for stratum in np.unique(strata):
        rows = np.flatnonzero(strata == stratum)
        y[rows] = rng.permutation(y[rows])
    return y


def null_check(path: ReportingPath, y: np.ndarray, n: int, seed: int = 0,
               strata: np.ndarray | None = None) -> pd.DataFrame:
    """Mean balanced log loss and AUC of every reported row over n label permutations (the exact path rerun).

    Returns one row per reported name: null_balanced_log_loss (mean, with its standard error), null_roc_auc
    (mean, SE), and `passes`: mean loss >= ln 2 - NULL_BLL_SLACK and mean AUC <= 0.5 + NULL_AUC_SLACK.
    """
    if n < 1:
        raise ValueError(f"the null check needs at least one permutation, got {n}")
    rng = np.random.default_rng(seed)
    scores: dict[str, list[tuple[float, float]]] = {}
    for _ in range(n):
        z = permuted_labels(y, strata, rng)
        for name, p in path(z).items():
            scores.setdefault(name, []).append((balanced_log_loss(z, p), roc_auc(z, p)))
    rows = []
    for name, values in scores.items():
        bll, auc = np.asarray(values).T
        rows.append({"row": name, "null_balanced_log_loss": float(np.mean(bll)),
                     "null_balanced_log_loss_se": float(np.std(bll, ddof=1) / np.sqrt(n)) if n > 1 else np.nan,
                     "null_roc_auc": float(np.nanmean(auc)),
                     "null_roc_auc_se": float(np.nanstd(auc, ddof=1) / np.sqrt(n)) if n > 1 else np.nan,
                     "n_permutations": n})
    table = pd.DataFrame(rows).set_index("row")
    table["passes"] = (table["null_balanced_log_loss"] >= np.log(2) - NULL_BLL_SLACK) & \
                      (table["null_roc_auc"] <= 0.5 + NULL_AUC_SLACK)
    failed = table.index[~table["passes"]].tolist()
    if failed:
        log.warning("null check: rows scoring better than chance on permuted labels: %s", failed)
    return table
