#!/usr/bin/env python3
"""onnxruntime's answer for a model on CSV rows: the reference the node's native evaluator is
compared with (Tests/WorkerTests/Model) and the peer it is timed against (`make bench`).

    python3 Tools/Model/onnxruntime_reference.py MODEL.onnx < rows.csv
        one line per row: `label p0 p1 ...` for a classifier, `v0 v1 ...` for a regressor
    python3 Tools/Model/onnxruntime_reference.py --bench MODEL.onnx < rows.csv
        JSON: rows per second, one thread, for the whole batch and for one row per call

rows.csv: numbers only, no header, one row per line, as many columns as the model takes.
"""
import json
import sys
import time

import numpy as np
import onnxruntime as ort


def session(path: str) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    return ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])


def read_rows() -> np.ndarray:
    rows = [[float(v) for v in line.split(",")] for line in sys.stdin.read().splitlines() if line.strip()]
    return np.asarray(rows, dtype=np.float32)


def answer(sess: ort.InferenceSession, rows: np.ndarray) -> None:
    name = sess.get_inputs()[0].name
    outputs = sess.run(None, {name: rows})
    out = sys.stdout
    if len(outputs) >= 2:
        labels, probabilities = outputs[0], outputs[1]
        for i, label in enumerate(labels):
            if isinstance(probabilities, list):  # ZipMap: a list of {label: probability}
                values = [probabilities[i][k] for k in sorted(probabilities[i].keys())]
            else:
                values = list(probabilities[i])
            out.write(f"{label} " + " ".join(repr(float(np.float32(v))) for v in values) + "\n")
    else:
        for row in outputs[0]:
            out.write(" ".join(repr(float(np.float32(v))) for v in np.atleast_1d(row)) + "\n")


def bench(sess: ort.InferenceSession, rows: np.ndarray) -> None:
    name = sess.get_inputs()[0].name
    batch_times, single_times = [], []
    for _ in range(7):
        start = time.perf_counter()
        sess.run(None, {name: rows})
        batch_times.append(time.perf_counter() - start)
    singles = rows[: min(len(rows), 2000)]
    for _ in range(3):
        start = time.perf_counter()
        for i in range(len(singles)):
            sess.run(None, {name: singles[i : i + 1]})
        single_times.append(time.perf_counter() - start)
    batch = sorted(batch_times)[len(batch_times) // 2]
    single = sorted(single_times)[len(single_times) // 2]
    print(json.dumps({"onnxruntime": ort.__version__, "rows": len(rows),
                      "batchRowsPerSecond": len(rows) / batch,
                      "singleRowCallsPerSecond": len(singles) / single}))


def main() -> int:
    args = sys.argv[1:]
    timing = args[:1] == ["--bench"]
    if timing:
        args = args[1:]
    if len(args) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    sess = session(args[0])
    rows = read_rows()
    (bench if timing else answer)(sess, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
