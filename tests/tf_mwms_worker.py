"""Training with ctcc under tf.distribute.MultiWorkerMirroredStrategy, for
test_tf_distributed.py.

``train(strategy)`` trains a small Keras model (Masking, Dense + tanh,
Dense; float64) for a few SGD steps in a custom training loop: a
``tf.function`` that runs ``strategy.run`` on a step computing the
per-sample losses and ``tf.nn.compute_average_loss(per_sample,
global_batch_size=N)``, the optimizer summing the gradients over the
replicas. Each worker's input pipeline (``distribute_datasets_from_function``)
gives its replica its share of a fixed batch. The per-sample losses come
from ``ctcc.tensorflow.ctc_loss`` (``tf``) and from
``ctcc.keras.CTCLoss(reduction=None)`` (``keras``: frames from the mask),
each from the same initial weights. (Keras 3's ``model.fit`` fails under
MultiWorkerMirroredStrategy before any loss runs, when it reduces the first
distributed batch: keras-team/keras#20585.)

It returns the final weights and the per-step losses of each. With
``strategy`` None it is the single-process reference on the whole batch; as
a script it is one worker of a two-worker cluster that ``TF_CONFIG``
describes (with WORKERS 1, the reference), and writes what ``train`` returns
to OUT.npz:

    TF_CONFIG='{"cluster": {"worker": ["127.0.0.1:P0", "127.0.0.1:P1"]},
                "task": {"type": "worker", "index": I}}' \\
        python tests/tf_mwms_worker.py I WORKERS OUT.npz

Equal shares, and a loss averaged over the global batch, make the summed
gradient that of the whole batch's mean.
"""

from __future__ import annotations

import contextlib
import sys

import numpy as np

N, T, FEATURES, HIDDEN, C = 8, 12, 5, 6, 7
STEPS = 3
LR = 0.5


def batch() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Features [N, T, FEATURES], labels padded with -1 [N, S] (an empty
    sample, repeats), and both lengths."""
    rng = np.random.default_rng(11)
    features = rng.standard_normal((N, T, FEATURES))
    frames = rng.integers(7, T + 1, N)
    label_length = np.array([3, 0, 4, 2, 1, 3, 4, 2])
    labels = rng.integers(1, C, (N, 4))
    labels[0, 1] = labels[0, 0]  # a repeat
    labels[np.arange(4)[None, :] >= label_length[:, None]] = -1
    for n in range(N):
        features[n, frames[n] :] = 0.0  # the Masking layer's padding, for fit
    return features, labels, label_length, frames


def _model(keras):
    keras.utils.set_random_seed(3)
    inputs = keras.Input((T, FEATURES), dtype="float64")
    h = keras.layers.Masking(0.0, dtype="float64")(inputs)
    h = keras.layers.Dense(HIDDEN, activation="tanh", dtype="float64")(h)
    return keras.Model(inputs, keras.layers.Dense(C, dtype="float64")(h))


def _data(tf, strategy):
    """Batches of (features, labels, label_length, frames): the whole batch
    for one process; under the strategy, each worker's input pipeline gives
    its replica its share (the per-replica batch size of the global N)."""

    def pipeline(context):
        parts = context.num_input_pipelines if context else 1
        i = context.input_pipeline_id if context else 0
        size = context.get_per_replica_batch_size(N) if context else N
        arrays = tuple(a[i * N // parts : (i + 1) * N // parts] for a in batch())
        return tf.data.Dataset.from_tensor_slices(arrays).batch(size).repeat()

    if strategy is None:
        return pipeline(None)
    return strategy.distribute_datasets_from_function(pipeline)


def _loop(tf, keras, strategy, way: str) -> tuple[list[np.ndarray], list[float]]:
    import ctcc.keras
    import ctcc.tensorflow

    with strategy.scope() if strategy else contextlib.nullcontext():
        model = _model(keras)
        optimizer = keras.optimizers.SGD(LR)
        criterion = ctcc.keras.CTCLoss(reduction=None, num_threads=1)

    def replica_step(x, y, y_len, x_len):
        with tf.GradientTape() as tape:
            logits = model(x)  # [n, T, C], with the Masking layer's mask
            if way == "keras":  # frames from the mask, label lengths from the padding
                per_sample = criterion(y, logits)
            else:
                per_sample = ctcc.tensorflow.ctc_loss(
                    y, logits, y_len, x_len, logits_time_major=False, num_threads=1
                )
            loss = tf.nn.compute_average_loss(per_sample, global_batch_size=N)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))  # summed over replicas
        return loss

    @tf.function
    def step(inputs):
        if strategy is None:
            return replica_step(*inputs)
        losses = strategy.run(replica_step, args=inputs)
        return strategy.reduce(tf.distribute.ReduceOp.SUM, losses, axis=None)

    batches = iter(_data(tf, strategy))
    losses = [float(step(next(batches))) for _ in range(STEPS)]
    return model.get_weights(), losses


def train(strategy) -> dict[str, np.ndarray]:
    """The weights and per-step losses of both ways of training, by name."""
    import keras
    import tensorflow as tf

    out = {}
    for way in ("tf", "keras"):
        weights, losses = _loop(tf, keras, strategy, way)
        out.update({f"{way}_w{i}": w for i, w in enumerate(weights)})
        out[f"{way}_losses"] = np.array(losses)
    return out


def main() -> None:
    worker, workers, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    if workers == 1:  # the reference: one process, the whole batch, no strategy
        np.savez(out, **train(None))
        return
    strategy = tf.distribute.MultiWorkerMirroredStrategy()  # reads TF_CONFIG
    if strategy.num_replicas_in_sync != workers:
        raise SystemExit(f"{strategy.num_replicas_in_sync} replicas, expected {workers}")
    if strategy.cluster_resolver.task_id != worker:
        raise SystemExit(f"task {strategy.cluster_resolver.task_id}, expected {worker}")
    np.savez(out, **train(strategy))


if __name__ == "__main__":
    main()
