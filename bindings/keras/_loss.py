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
    """CTC loss for Keras 3 (TensorFlow backend): ``model.compile(loss=CTCLoss())``.

    `y_pred` holds batch-major logits ``[N, T, C]`` (no softmax), `y_true`
    padded integer labels ``[N, S]``. The number of frames of each sample
    comes from the Keras mask of `y_pred` when the model makes one,
    otherwise every frame counts. The loss and its gradient come from
    `ctcc.tensorflow.ctc_loss`, which runs the C core on the host CPU.

    Parameters
    ----------
    blank : int, default 0
        The blank class; negative values count from the end (``-1`` is the
        last class). 0, as ``keras.losses.CTC``.
    padding_value : int, default -1
        The value that pads `y_true`, in the int32 range: a sample's label
        length is the number of entries before its first `padding_value`;
        the entries after it are ignored. ``keras.losses.CTC`` pads with 0:
        ``CTCLoss(padding_value=0)`` gives its losses.
    zero_infinity : bool, default False
        Infeasible samples (too few frames for their labels) get loss 0
        instead of ``inf``; their gradient is 0 either way.
    num_threads : int, optional
        OpenMP threads of the C core; None or 0 uses every available thread.
    alpha : float, optional
        Non-blank proportion in [0, 1] of the training targets (Li and Wang,
        "Reinterpreting CTC training as iterative fitting", eq. 13-16),
        computed over each batch; None (the default) is plain CTC. Changes
        the gradient only, not the reported loss.
    gamma : float, default 0.0
        Key-frame reweighting exponent in ``[0, 1e300]`` (eq. 17-18); 0 is
        plain CTC. Changes the gradient only.
    reduction : str or None, default "sum_over_batch_size"
        A Keras reduction: ``"sum_over_batch_size"`` (the mean of the
        per-sample losses), ``"sum"``, ``"mean"``,
        ``"mean_with_sample_weight"``, ``"none"`` or None (the ``[N]``
        per-sample losses). ``sample_weight`` weighs samples.
    name : str, default "ctcc_ctc_loss"
        The loss name.
    dtype : str or keras.DTypePolicy, optional
        The dtype of the loss computation (default
        ``keras.backend.floatx()``); `y_pred` is cast to it.

    Raises
    ------
    TypeError
        If a scalar argument has the wrong type (a flag that is not a bool,
        an integer argument that is a bool or not an integer, a real
        argument that is not a real number), or, when called, `y_true` or
        `y_pred` is a ``numpy.ma`` array.
    ValueError
        If `padding_value` or `blank` is outside the int32 range, `alpha`
        or `gamma` is out of range, `reduction` is unknown, or, when called,
        `y_pred` is not 3-D or `y_true` not 2-D.
    tf.errors.InvalidArgumentError
        When called, for a label outside ``[0, C)`` or equal to the blank
        (naming the sample and position), a label outside the int32 range,
        or a mask that is not a prefix of each sample.

    See Also
    --------
    ctcc.tensorflow.ctc_loss : The function it calls.

    Notes
    -----
    Inputs: `y_true` ``[N, S]`` integer labels (Keras hands them over as
    floats: they are rounded and cast, and a value outside the int32 range
    raises an error); no label may equal the blank. `y_pred` ``[N, T, C]``
    logits; if it carries a Keras mask ``[N, T]`` (a ``Masking`` or
    ``Embedding(mask_zero=True)`` layer upstream), sample n has
    ``sum(mask[n])`` frames, which must come first (right padding; another
    mask raises an error), and the frames past them are never read. The
    mask selects frames here: it is not applied again to the per-sample
    losses, as Keras would otherwise do.

    The class is registered for serialization as ``ctcc>CTCLoss``: a model
    saved to ``.keras`` reloads with ``keras.models.load_model`` after
    ``import ctcc.keras``. It trains under
    ``tf.distribute.MirroredStrategy`` like on one device. The loss runs
    through ``tf.numpy_function``, so the model cannot be compiled with XLA:
    where Keras' default ``jit_compile="auto"`` turns XLA on (a visible
    GPU), use ``model.compile(..., jit_compile=False)``.

    Examples
    --------
    >>> import numpy as np
    >>> import ctcc.keras
    >>> loss = ctcc.keras.CTCLoss(blank=0, padding_value=-1, reduction="none")
    >>> y_true = np.array([[1, -1]])  # one label, then padding
    >>> y_pred = np.zeros((1, 2, 2), np.float32)  # [N, T, C]: uniform
    >>> print(np.asarray(loss(y_true, y_pred)).round(6))  # -log(3/4)
    [0.287682]

    In a model (frames of 40 features, 29 classes with the blank 0):

    >>> import keras
    >>> inputs = keras.Input((None, 40))
    >>> h = keras.layers.Masking(0.0)(inputs)  # all-zero frames are padding
    >>> model = keras.Model(inputs, keras.layers.Dense(29)(h))
    >>> model.compile(optimizer="adam", loss=ctcc.keras.CTCLoss(), jit_compile=False)
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
