#!/usr/bin/env python3
"""Speed of ctcc's CTC decoders against TensorFlow's, on the same data.

Times, per workload, the median wall time of one call on a whole batch:

- greedy: ``ctcc.greedy_decode`` (1 thread and all threads) against
  ``tf.nn.ctc_greedy_decoder``;
- beam search (beam 16, top 1): ``ctcc.beam_search_decode`` (1 thread and
  all threads) against ``tf.nn.ctc_beam_search_decoder``.

Workloads: speech-like T=700, N=32, C=29 and OCR-like T=100, N=32,
C=5000, float32, time-major. The logits are synthetic but peaky like a
trained model's: each frame favours one class (the blank on half of the
frames) by +4 over N(0, 1) noise. TensorFlow's decoders take the last class
as the blank, so ctcc is called with ``blank=-1`` on the same arrays.
TensorFlow runs with its default thread pools. The script also reports how
many greedy and top beam-search labellings agree with TensorFlow's. A call
that takes more than half the time budget (TensorFlow's beam search on the
large alphabet) is timed once.

    python bench/decode_bench.py [--repeats K] [--budget SECONDS]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import numpy as np  # noqa: E402

WORKLOADS = {"speech T=700 N=32 C=29": (700, 32, 29), "ocr T=100 N=32 C=5000": (100, 32, 5000)}
BEAM, TOP = 16, 1


def _peaky(T: int, N: int, C: int, rng: np.random.Generator) -> np.ndarray:
    x = rng.normal(size=(T, N, C)).astype(np.float32)
    best = rng.integers(0, C - 1, size=(T, N))
    best[rng.random(size=(T, N)) < 0.5] = C - 1  # the blank (last class)
    x[np.arange(T)[:, None], np.arange(N)[None, :], best] += 4.0
    return x


def _time(fn, repeats: int, budget: float):
    """(median seconds of fn() over up to `repeats` calls after a warm-up
    call, fewer when they would take more than `budget` seconds; fn's last
    result). A first call longer than budget / 2 is the only one."""
    t0 = time.perf_counter()
    out = fn()
    first = time.perf_counter() - t0
    if first > budget / 2:
        return first, out
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < repeats and (not times or time.perf_counter() - start < budget):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def _sparse_rows(tf, sp, N: int) -> list[tuple[int, ...]]:
    dense = tf.sparse.to_dense(sp, default_value=-1).numpy()
    rows = [tuple(int(v) for v in r if v >= 0) for r in dense]
    return rows + [()] * (N - len(rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--budget", type=float, default=30.0, help="seconds per variant at most")
    args = parser.parse_args()

    import tensorflow as tf

    import ctcc

    rng = np.random.default_rng(0)
    print(
        f"ctcc {ctcc.__version__}, TensorFlow {tf.__version__}, "
        f"{ctcc.default_num_threads()} threads available, float32, beam {BEAM}, top {TOP}"
    )
    print(f"{'workload':26} {'decoder':7} {'variant':22} {'median':>10} {'TF / this':>10}")
    for name, (T, N, C) in WORKLOADS.items():
        _workload(tf, ctcc, name, _peaky(T, N, C, rng), args)


def _workload(tf, ctcc, name: str, x: np.ndarray, args: argparse.Namespace) -> None:
    T, N, C = x.shape
    lengths = np.full(N, T, np.int32)
    xt, lt = tf.constant(x), tf.constant(lengths)

    runs = {
        "greedy": {
            "ctcc, 1 thread": lambda: ctcc.greedy_decode(x, lengths, blank=-1, num_threads=1),
            "ctcc, all threads": lambda: ctcc.greedy_decode(x, lengths, blank=-1),
            "tf.nn (TF threads)": lambda: tf.nn.ctc_greedy_decoder(xt, lt, blank_index=C - 1),
        },
        "beam": {
            "ctcc, 1 thread": lambda: ctcc.beam_search_decode(
                x, lengths, beam_width=BEAM, top_paths=TOP, blank=-1, num_threads=1
            ),
            "ctcc, all threads": lambda: ctcc.beam_search_decode(
                x, lengths, beam_width=BEAM, top_paths=TOP, blank=-1
            ),
            "tf.nn (TF threads)": lambda: tf.nn.ctc_beam_search_decoder(
                xt, lt, beam_width=BEAM, top_paths=TOP
            ),
        },
    }
    outputs = {}
    for decoder, variants in runs.items():
        medians = {}
        for v, fn in variants.items():
            medians[v], outputs[decoder, v] = _time(fn, args.repeats, args.budget)
        tf_median = medians["tf.nn (TF threads)"]
        for v, m in medians.items():
            print(f"{name:26} {decoder:7} {v:22} {m * 1e3:8.2f} ms {tf_median / m:9.1f}x")

    # The answers, from the timed calls.
    tf_greedy = _sparse_rows(tf, outputs["greedy", "tf.nn (TF threads)"][0][0], N)
    ours = [tuple(int(v) for v in d) for d in outputs["greedy", "ctcc, 1 thread"]]
    tf_beam = _sparse_rows(tf, outputs["beam", "tf.nn (TF threads)"][0][0], N)
    paths = outputs["beam", "ctcc, 1 thread"][0]
    agree = sum(tuple(int(v) for v in p[0]) == q for p, q in zip(paths, tf_beam))
    same = sum(a == b for a, b in zip(ours, tf_greedy))
    print(f"{name:26} greedy labellings equal to TensorFlow's: {same}/{N}")
    print(f"{name:26} beam top-1 labellings equal to TensorFlow's: {agree}/{N}")


if __name__ == "__main__":
    main()
