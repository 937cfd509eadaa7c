"""The TensorFlow backend of `ctcc.keras`: `ctcc.tensorflow.ctc_loss`.

Only the glue: the checks and the Keras conventions are in `_loss.py`.
"""

from __future__ import annotations

import tensorflow as tf

from ctcc.tensorflow import ctc_loss as _ctc_loss

NAME = "tensorflow"
ADAPTER = "ctcc.tensorflow"


def check(ok, message: str) -> None:
    """Raise ``tf.errors.InvalidArgumentError(message)`` unless every entry
    of ``ok`` is true (when the step runs, inside a ``tf.function``)."""
    tf.debugging.assert_equal(tf.reduce_all(tf.cast(ok, tf.bool)), True, message=message)


def ctc(
    labels, logits, label_length, logit_length, *, blank, zero_infinity, num_threads, alpha, gamma
):
    """Per-sample losses ``[N]`` of batch-major logits ``[N, T, C]``."""
    return _ctc_loss(
        labels,
        logits,
        label_length,
        logit_length,
        logits_time_major=False,
        blank_index=blank,
        zero_infinity=zero_infinity,
        num_threads=num_threads,
        alpha=alpha,
        gamma=gamma,
    )
