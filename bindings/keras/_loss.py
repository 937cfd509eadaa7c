"""`CTCLoss`: the ctcc CTC loss as a Keras 3 loss (TensorFlow backend).

Keras conventions: `y_pred` holds batch-major logits `[N, T, C]` (no
softmax), `y_true` padded integer labels `[N, S]`. The number of frames of
each sample comes from the Keras mask of `y_pred` when the model produces
one (a `Masking` or `Embedding(mask_zero=True)` layer upstream), otherwise
every frame counts. The loss itself and its gradient come from
`ctcc.tensorflow.ctc_loss`, which runs the C core.
"""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf

from ctcc._checks import INT32_MAX, INT32_MIN, as_flag, as_int, as_num_threads, reject_masked
from ctcc._loss import _check_modifications
from ctcc.tensorflow import ctc_loss as _tf_ctc_loss

_FN = "ctcc.keras.CTCLoss"

try:  # Keras 3 keeps the mask accessor private; the attribute is the fallback.
    from keras.src.backend import get_keras_mask as _get_keras_mask
except ImportError:  # pragma: no cover - depends on the Keras version

    def _get_keras_mask(x):
        return getattr(x, "_keras_mask", None)


@keras.saving.register_keras_serializable(package="ctcc")
class CTCLoss(keras.losses.Loss):
    """CTC loss for `model.compile(loss=ctcc.keras.CTCLoss())`.

    Args:
        blank: index of the blank class; negative counts from the end
            (`-1` = the last class). Default 0, as `keras.losses.CTC`.
        padding_value: the value that pads `y_true`. The label length of a
            sample is the number of entries before the first padding value;
            the entries after it are ignored. Default -1.
        zero_infinity: infeasible samples (too few frames for their labels)
            get loss 0 instead of `inf`; their gradient is 0 either way.
        num_threads: OpenMP threads of the C core; `None` uses all cores.
        alpha: non-blank proportion in [0, 1] of the training targets (Li
            and Wang, "Reinterpreting CTC training as iterative fitting",
            eq. 13-16), computed over each batch; `None` (default) is
            plain CTC. Changes the gradient only, not the reported loss.
        gamma: key-frame reweighting exponent >= 0 (eq. 17-18); 0
            (default) is plain CTC. Changes the gradient only.
        reduction: a Keras reduction: `"sum_over_batch_size"` (the default:
            the mean of the per-sample losses), `"sum"`, `"mean"`,
            `"mean_with_sample_weight"`, `"none"` or `None` (the `[N]`
            per-sample losses).
        name: the loss name.
        dtype: the dtype of the loss computation (default:
            `keras.backend.floatx()`); `y_pred` is cast to it.

    Inputs:
        y_true: `[N, S]` integer labels (Keras may pass them as floats:
            they are cast to int32). No label may equal the blank.
        y_pred: `[N, T, C]` logits. If `y_pred` carries a Keras mask
            `[N, T]`, sample n has `sum(mask[n])` frames; the mask must be a
            prefix (right padding), the frames past it are never read. The
            mask selects frames here: it is not applied again to the
            per-sample losses.
    """

    def __init__(
        self,
        blank: int = 0,
        padding_value: int = -1,
        zero_infinity: bool = False,
        num_threads: int | None = None,
        alpha: float | None = None,
        gamma: float = 0.0,
        reduction: str | None = "sum_over_batch_size",
        name: str = "ctcc_ctc_loss",
        dtype: Any = None,
    ) -> None:
        fn = _FN
        blank = as_int(blank, "blank", fn, low=INT32_MIN, high=INT32_MAX)
        # int32, the range of ctcc's labels: a larger value would never match a label
        padding_value = as_int(padding_value, "padding_value", fn, low=INT32_MIN, high=INT32_MAX)
        zero_infinity = as_flag(zero_infinity, "zero_infinity", fn)
        num_threads = as_num_threads(num_threads, fn)
        checked_alpha, gamma = _check_modifications(alpha, gamma, fn)
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.blank = blank
        self.padding_value = padding_value
        self.zero_infinity = zero_infinity
        self.num_threads = num_threads
        self.alpha = None if checked_alpha < 0 else checked_alpha
        self.gamma = gamma

    def __call__(self, y_true, y_pred, sample_weight=None):
        reject_masked(y_true, "y_true", _FN)
        reject_masked(y_pred, "y_pred", _FN)
        # Keras would multiply the [N] per-sample losses by the [N, T] mask
        # of y_pred. The mask gives the logit lengths instead: it travels
        # next to y_pred, and the tuple carries no mask for Keras to apply.
        mask = _get_keras_mask(y_pred)
        if mask is None:
            return super().__call__(y_true, y_pred, sample_weight)
        return super().__call__(y_true, (y_pred, mask), sample_weight)

    def call(self, y_true, y_pred):
        if isinstance(y_pred, (tuple, list)):
            y_pred, mask = y_pred
        else:
            mask = None
        logits = tf.convert_to_tensor(y_pred)
        labels = tf.convert_to_tensor(y_true)
        if logits.shape.rank != 3:
            raise ValueError(
                "CTCLoss: y_pred must be logits of shape [batch, frames, classes], "
                f"got shape {logits.shape}"
            )
        if labels.shape.rank != 2:
            raise ValueError(
                "CTCLoss: y_true must be padded integer labels of shape "
                f"[batch, max_label_length], got shape {labels.shape}"
            )
        if labels.dtype.is_integer:
            # int64 labels beyond int32 must not wrap into valid ones: they
            # reach ctcc as they are, which reports them
            labels = tf.cast(labels, tf.int64)
        else:  # floats from Keras hold integer values
            labels = tf.round(tf.cast(labels, tf.float64))
            outside = tf.logical_not(tf.abs(labels) <= INT32_MAX)  # NaN too
            tf.debugging.assert_equal(
                tf.reduce_any(outside),
                False,
                message=f"{_FN}: y_true holds a value outside the int32 range (or NaN)",
            )
            labels = tf.cast(labels, tf.int64)

        shape = tf.shape(logits)
        batch, frames = shape[0], shape[1]
        is_pad = tf.equal(labels, tf.constant(self.padding_value, tf.int64))
        label_length = tf.where(
            tf.reduce_any(is_pad, axis=1),
            tf.cast(tf.argmax(tf.cast(is_pad, tf.int32), axis=1), tf.int32),
            tf.shape(labels)[1],
        )

        if mask is None:
            logit_length = tf.fill([batch], frames)
        else:
            mask = tf.cast(tf.convert_to_tensor(mask), tf.bool)
            if mask.shape.rank != 2:
                raise ValueError(
                    "CTCLoss: the Keras mask of y_pred must have shape [batch, frames], "
                    f"got shape {mask.shape}"
                )
            logit_length = tf.reduce_sum(tf.cast(mask, tf.int32), axis=1)
            prefix = tf.range(frames)[None, :] < logit_length[:, None]
            tf.debugging.assert_equal(
                mask,
                prefix,
                message=(
                    "CTCLoss: the Keras mask of y_pred must be a prefix of each "
                    "sample (valid frames first, padding at the end)"
                ),
            )

        return _tf_ctc_loss(
            labels,
            logits,
            label_length,
            logit_length,
            logits_time_major=False,
            blank_index=self.blank,
            zero_infinity=self.zero_infinity,
            num_threads=self.num_threads,
            alpha=self.alpha,
            gamma=self.gamma,
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            blank=self.blank,
            padding_value=self.padding_value,
            zero_infinity=self.zero_infinity,
            num_threads=self.num_threads,
            alpha=self.alpha,
            gamma=self.gamma,
            dtype=self.dtype,
        )
        return config
