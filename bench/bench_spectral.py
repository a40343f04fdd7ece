"""How well do spectrum/SRM/LBP statistics separate real DFDC face crops, and what do they cost?

Samples whole groups (a REAL crop and the FAKE made from it) from ../shared/data/dfdc-faces until
`--n-crops`, resizes them to `--size` with INTER_AREA, computes `ForensicFeatures` once (ms/image timed
after a warm-up batch), then scores with StratifiedGroupKFold over `group` (no group in two folds):
- the `spectral` model's own head (BatchNorm -> Dense -> Dropout -> p_fake, Adam, plain fit) on the features;
- sklearn LogisticRegression (standardised) and HistGradientBoostingClassifier on the same features.
Then the whole `spectral` model is fitted end to end on fold 0's images, to show it matches its head.
The load average is printed because other processes on the machine distort the timing.

    nice -n 10 .venv/bin/python bench/bench_spectral.py [--n-crops 1500] [--size 128] [--folds 5] [--epochs 20]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import cv2  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from sklearn.ensemble import HistGradientBoostingClassifier  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402
from sklearn.model_selection import StratifiedGroupKFold  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from deepfake_detection.models import build_model  # noqa: E402

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "dfdc-faces"
BATCH = 32


def sample_crops(data: Path, n_crops: int, seed: int) -> pd.DataFrame:
    """Rows of labels.csv for whole groups drawn at random until about n_crops crops (label 1 = FAKE)."""
    labels = pd.read_csv(data / "labels.csv")
    groups = labels["group"].drop_duplicates().sample(frac=1.0, random_state=seed)
    sizes = labels.groupby("group").size().loc[groups]
    chosen = set(sizes.index[np.cumsum(sizes.to_numpy()) <= n_crops])
    rows = labels[labels["group"].isin(chosen)].reset_index(drop=True)
    return rows.assign(y=(rows["label"] == "FAKE").astype(int))


def read_crops(data: Path, files: list[str], size: int) -> np.ndarray:
    """float32 (N, size, size, 3) 0–255 RGB, resized with INTER_AREA."""
    out = np.empty((len(files), size, size, 3), np.float32)
    for i, file in enumerate(files):
        out[i] = cv2.resize(cv2.cvtColor(cv2.imread(str(data / file)), cv2.COLOR_BGR2RGB), (size, size),
                            interpolation=cv2.INTER_AREA)
    return out


def feature_model(model: keras.Model) -> keras.Model:
    """The model's ForensicFeatures as a model of its own: images -> (N, F)."""
    return keras.Model(model.input, model.get_layer("forensic_features").output)


def head_model(model: keras.Model, n_features: int) -> keras.Model:
    """The spectral model's layers after ForensicFeatures, on a features input: (N, F) -> P(FAKE)."""
    x = inputs = keras.Input((n_features,))
    after = model.layers[[layer.name for layer in model.layers].index("forensic_features") + 1:]
    for layer in after:
        x = layer(x)
    return keras.Model(inputs, x)


def fit_keras(model: keras.Model, x: np.ndarray, y: np.ndarray, epochs: int, seed: int) -> keras.Model:
    """Adam 1e-3, binary cross-entropy, balanced by class weights, plain fit on numpy arrays."""
    keras.utils.set_random_seed(seed)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="binary_crossentropy")
    weights = {c: len(y) / (2 * np.sum(y == c)) for c in (0, 1)}
    model.fit(x, y, batch_size=BATCH, epochs=epochs, shuffle=True, class_weight=weights, verbose=0)
    return model


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=DATA)
    p.add_argument("--n-crops", type=int, default=1500)
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--end-to-end-epochs", type=int, default=10, help="0: skip the end-to-end fit on fold 0")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()

    rows = sample_crops(args.data, args.n_crops, args.seed)
    print(f"{len(rows)} crops ({rows['y'].sum()} FAKE) from {rows['group'].nunique()} groups; "
          f"load average {os.getloadavg()[0]:.1f}", flush=True)
    images = read_crops(args.data, rows["file"].tolist(), args.size)
    y = rows["y"].to_numpy()
    features = feature_model(build_model("spectral", args.size))
    features.predict_on_batch(images[:BATCH])  # warm-up: tracing
    start = time.perf_counter()
    x = np.concatenate([np.asarray(features.predict_on_batch(images[i:i + BATCH]))
                        for i in range(0, len(images), BATCH)])
    ms = 1000 * (time.perf_counter() - start) / len(images)
    print(f"features: {x.shape[1]} per image, {ms:.2f} ms/image at {args.size} px (batch {BATCH}); "
          f"all finite: {np.isfinite(x).all()}; load average {os.getloadavg()[0]:.1f}", flush=True)

    classifiers = {
        "spectral head (Keras)": lambda xt, yt, k: head_model(build_model("spectral", args.size), x.shape[1]),
        "LogisticRegression": lambda xt, yt, k: make_pipeline(StandardScaler(),
                                                              LogisticRegression(C=0.1, max_iter=5000)),
        "HistGradientBoosting": lambda xt, yt, k: HistGradientBoostingClassifier(
            learning_rate=0.05, max_iter=200, max_leaf_nodes=15, early_stopping=False, class_weight="balanced",
            random_state=k),
    }
    splitter = StratifiedGroupKFold(args.folds, shuffle=True, random_state=args.seed)
    folds = list(splitter.split(x, y, rows["group"]))
    oof = {name: np.empty(len(y)) for name in classifiers}
    per_fold = {name: [] for name in classifiers}
    for k, (train, test) in enumerate(folds):
        assert not set(rows["group"].iloc[train]) & set(rows["group"].iloc[test])
        for name, make in classifiers.items():
            clf = make(x[train], y[train], k)
            if isinstance(clf, keras.Model):
                fitted = fit_keras(clf, x[train], y[train], args.epochs, k)
                p_fake = np.asarray(fitted.predict(x[test], verbose=0))[:, 0]
            else:
                p_fake = clf.fit(x[train], y[train]).predict_proba(x[test])[:, 1]
            oof[name][test] = p_fake
            per_fold[name].append(roc_auc_score(y[test], p_fake))
        print(f"fold {k}: " + ", ".join(f"{n} {per_fold[n][-1]:.3f}" for n in classifiers), flush=True)
    table = pd.DataFrame({"mean_fold_auc": {n: np.mean(v) for n, v in per_fold.items()},
                          "std_fold_auc": {n: np.std(v) for n, v in per_fold.items()},
                          "pooled_oof_auc": {n: roc_auc_score(y, oof[n]) for n in classifiers}})
    print(f"\nheld-out AUC, {args.folds}-fold StratifiedGroupKFold over `group` ({len(rows)} crops, {args.size} px):")
    print(table.to_string(float_format=lambda v: f"{v:.3f}"))

    if args.end_to_end_epochs:
        train, test = folds[0]
        start = time.perf_counter()
        model = fit_keras(build_model("spectral", args.size), images[train], y[train], args.end_to_end_epochs, 0)
        p_fake = np.asarray(model.predict(images[test], batch_size=BATCH, verbose=0))[:, 0]
        print(f"\nwhole spectral model fitted on fold 0's training images ({args.end_to_end_epochs} epochs, "
              f"{time.perf_counter() - start:.0f} s): held-out AUC {roc_auc_score(y[test], p_fake):.3f} "
              f"(its head on cached features, {args.epochs} epochs: {per_fold['spectral head (Keras)'][0]:.3f})")


if __name__ == "__main__":
    main()
