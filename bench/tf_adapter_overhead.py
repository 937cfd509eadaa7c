#!/usr/bin/env python3
"""Overhead of the TensorFlow adapter over a direct ctcc call.

Times loss + gradient with respect to the logits, on one thread everywhere
(TensorFlow's intra/inter-op pools are set to 1 before TensorFlow starts,
ctcc gets num_threads=1):

- ``ctcc.ctc_loss`` on NumPy arrays (the reference: the C core alone);
- ``ctcc.tensorflow.ctc_loss`` through ``tf.GradientTape``, eagerly and in a
  ``tf.function``;
- ``tf.nn.ctc_loss`` with SparseTensor labels (TensorFlow's C++ CPU
  kernel) the same two ways; with ``--dense`` also with dense labels in a
  ``tf.function`` (about 20 s a call at the default shape; eagerly, the dense
  path needed more than 20 GB there, so it is never run eagerly).

With ``--unaligned`` also the adapter in a ``tf.function`` with its gradient
array at NumPy's usual 16-byte alignment instead of 64 bytes, which makes
TensorFlow copy it (what the adapter did before it aligned it; on
ocr-large-vocab, ``--shape 64 64 5000 20``, that is an 82 MB copy a call).

Each round calls every variant once, in a rotating order; the script prints
the median, minimum and maximum per variant and the adapter/direct ratios.

    python bench/tf_adapter_overhead.py [--shape T N C L] [--repeats K] [--dense] [--unaligned]
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import numpy as np  # noqa: E402
from _interleaved import check_agreement, print_table, time_interleaved  # bench/


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shape", type=int, nargs=4, default=[700, 32, 29, 100])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--dense", action="store_true", help="also time TF's dense path")
    parser.add_argument(
        "--unaligned",
        action="store_true",
        help="also time the adapter with a gradient array TensorFlow must copy",
    )
    args = parser.parse_args()
    T, N, C, L = args.shape

    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)

    import ctcc
    import ctcc.tensorflow as ctcc_tf

    rng = np.random.default_rng(0)
    x_np = rng.normal(size=(T, N, C)).astype(np.float32)
    labels_np = rng.integers(1, C, size=(N, L)).astype(np.int32)  # blank 0
    label_len_np = np.full(N, L, np.int32)
    logit_len_np = np.full(N, T, np.int32)
    x = tf.constant(x_np)
    labels, label_len, logit_len = map(tf.constant, (labels_np, label_len_np, logit_len_np))

    def direct():
        return ctcc.ctc_loss(x_np, labels_np, logit_len_np, label_len_np, num_threads=1)

    from ctcc.tensorflow import _loss as adapter

    def misaligned(shape, dtype):
        """An output array 16 bytes past a multiple of 64 (NumPy's usual
        alignment for large arrays), which TensorFlow copies."""
        nbytes = int(np.prod(shape)) * np.dtype(dtype).itemsize
        raw = np.empty(nbytes + 64, np.uint8)
        start = (16 - raw.ctypes.data) % 64
        return raw[start : start + nbytes].view(dtype).reshape(shape)

    def unaligned(run):
        def call():
            aligned, adapter._output_array = adapter._output_array, misaligned
            try:
                return run()
            finally:
                adapter._output_array = aligned

        return call

    sparse_labels = tf.sparse.from_dense(labels)  # labels hold no 0: all kept

    def tape_step(fn, labels_, **kw):
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = fn(labels_, x, label_len, logit_len, **kw)
            total = tf.reduce_sum(loss)
        return loss, tape.gradient(total, x)

    def eager(fn, labels_, **kw):
        def run():
            loss, grad = tape_step(fn, labels_, **kw)
            return loss.numpy(), grad.numpy()

        return run

    def graph(fn, labels_, **kw):
        compiled = tf.function(lambda: tape_step(fn, labels_, **kw))

        def run():
            loss, grad = compiled()
            return loss.numpy(), grad.numpy()

        return run

    variants = {
        "ctcc.ctc_loss (direct, NumPy)": direct,
        "ctcc.tensorflow.ctc_loss eager": eager(ctcc_tf.ctc_loss, labels, num_threads=1),
        "ctcc.tensorflow.ctc_loss tf.function": graph(ctcc_tf.ctc_loss, labels, num_threads=1),
        "tf.nn.ctc_loss sparse eager": eager(tf.nn.ctc_loss, sparse_labels, blank_index=0),
        "tf.nn.ctc_loss sparse tf.function": graph(tf.nn.ctc_loss, sparse_labels, blank_index=0),
    }
    if args.dense:
        variants["tf.nn.ctc_loss dense tf.function"] = graph(tf.nn.ctc_loss, labels)
    if args.unaligned:
        variants["ctcc.tensorflow tf.function, 16-byte aligned"] = unaligned(
            graph(ctcc_tf.ctc_loss, labels, num_threads=1)
        )

    # agreement first (also the first warm-up call)
    check_agreement(variants, direct)
    times = time_interleaved(variants, args.repeats, args.warmup)
    names = list(variants)

    print(
        f"T={T} N={N} C={C} L={L} float32, loss + gradient, 1 thread "
        f"(TF intra/inter-op = 1, ctcc num_threads=1), {args.repeats} rounds; "
        f"TensorFlow {tf.__version__}, ctcc {ctcc.__version__}"
    )
    medians = print_table(times)
    base = medians[names[0]]
    base_min = min(times[names[0]])
    for name in names[1:3]:
        print(
            f"ratio {name} / direct: median {medians[name] / base:.3f}, "
            f"min {min(times[name]) / base_min:.3f}"
        )
    pairs = [(names[1], names[3]), (names[2], names[4])]
    if args.dense:
        pairs.append((names[2], "tf.nn.ctc_loss dense tf.function"))
    if args.unaligned:
        name = "ctcc.tensorflow tf.function, 16-byte aligned"
        print(f"{names[2]} speed-up over {name}: {medians[name] / medians[names[2]]:.2f}x")
    for mine, theirs in pairs:
        print(f"{mine} speed-up over {theirs}: {medians[theirs] / medians[mine]:.2f}x")


if __name__ == "__main__":
    main()
