"""TensorFlow: ``tf.nn.ctc_loss`` (sparse and dense labels), the classic
``tf.compat.v1.nn.ctc_loss``, and the adapter ``ctcc.tensorflow.ctc_loss``
in the place of the first, each under ``tf.GradientTape`` in a
``tf.function``."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any, Callable

import numpy as np

from ctcc._bench.runners.base import Impl, ImplSpec, Outputs, Runner, adapter_spec, add_impl


def set_threads(threads: int) -> Any:
    """Imports TensorFlow and sizes its thread pools (possible only before
    it runs its first operation); returns the module."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    return tf


def thread_info() -> dict[str, Any]:
    import tensorflow as tf

    return {
        "intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
        "inter_op_threads": tf.config.threading.get_inter_op_parallelism_threads(),
    }


def loss_and_grad(loss_fn: Callable[[Any], Any], x_np: np.ndarray) -> Impl:
    """``loss_fn`` (a tensor to per-sample losses) and the gradient of their
    sum with respect to ``x_np``'s tensor, in a ``tf.function``; outputs in
    ``x_np``'s layout."""
    import tensorflow as tf

    x = tf.constant(x_np)

    @tf.function
    def step(inputs: Any) -> Any:
        with tf.GradientTape() as tape:
            tape.watch(inputs)
            loss = loss_fn(inputs)
            total = tf.reduce_sum(loss)
        return loss, tape.gradient(total, inputs)

    def outputs(out: Any) -> Outputs:
        loss, grad = out
        return loss.numpy().astype(np.float64), grad.numpy()

    return (lambda: step(x)), outputs


def build(
    threads: int, logits: np.ndarray, labels: np.ndarray, names: Sequence[str]
) -> tuple[dict[str, Impl], dict[str, Any]]:
    tf = set_threads(threads)
    T, N, C = logits.shape
    L = labels.shape[1]
    logit_length = tf.fill([N], T)
    label_length = tf.fill([N], L)
    dense_labels = tf.constant(labels)
    # from_dense keeps the nonzero entries: all of them, labels are >= 1.
    sparse_labels = tf.sparse.from_dense(dense_labels)

    def v2(ctc_loss: Callable[..., Any], labels: Any, label_length: Any) -> Impl:
        return loss_and_grad(
            lambda x: ctc_loss(
                labels=labels,
                logits=x,
                label_length=label_length,
                logit_length=logit_length,
                logits_time_major=True,
                blank_index=0,
            ),
            logits,
        )

    def v1() -> Impl:
        # Classic op: blank is the last class. Move class 0 to the end (outside
        # the timed region) and shift the labels down by one.
        grid = np.meshgrid(np.arange(N), np.arange(L), indexing="ij")
        indices = np.stack(grid, -1).reshape(-1, 2).astype(np.int64)
        sparse_v1 = tf.SparseTensor(indices, (labels - 1).reshape(-1), [N, L])
        call, outputs = loss_and_grad(
            lambda x: tf.compat.v1.nn.ctc_loss(
                labels=sparse_v1, inputs=x, sequence_length=logit_length, time_major=True
            ),
            np.roll(logits, -1, axis=2),
        )

        def rolled_back(out: Any) -> Outputs:
            loss, grad = outputs(out)
            return loss, np.roll(grad, 1, axis=2)

        return call, rolled_back

    def ctcc_adapter() -> Impl:
        import ctcc.tensorflow

        def ctc_loss(**kwargs: Any) -> Any:
            return ctcc.tensorflow.ctc_loss(**kwargs, num_threads=threads)

        return v2(ctc_loss, sparse_labels, None)

    impls: dict[str, Impl] = {}
    info: dict[str, Any] = {"versions": {"tensorflow": tf.__version__, "numpy": np.__version__}}
    add_impl(impls, info, names, "tf-v2-sparse", lambda: v2(tf.nn.ctc_loss, sparse_labels, None))
    add_impl(
        impls, info, names, "tf-v2-dense", lambda: v2(tf.nn.ctc_loss, dense_labels, label_length)
    )
    add_impl(impls, info, names, "tf-v1", v1)
    add_impl(impls, info, names, "ctcc-tf", ctcc_adapter)
    info.update(thread_info())
    return impls, info


RUNNER = Runner(
    kind="tf",
    module="tensorflow",
    impls=(
        ImplSpec(
            "tf-v2-sparse",
            "tf.nn.ctc_loss, SparseTensor labels, blank_index=0 (classic op)",
            group="tf",
        ),
        ImplSpec(
            "tf-v2-dense",
            "tf.nn.ctc_loss, dense labels, blank_index=0 (ctc_loss_dense)",
            group="tf",
        ),
        ImplSpec(
            "tf-v1",
            "tf.compat.v1.nn.ctc_loss, blank last (logits rolled outside timing)",
            group="tf",
        ),
        adapter_spec(
            "ctcc-tf",
            "ctcc.tensorflow.ctc_loss in the place of tf.nn.ctc_loss (tf-v2-sparse)",
            "tf-v2-sparse",
        ),
    ),
    build=build,
)
