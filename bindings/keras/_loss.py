"""`CTCLoss` and `ctc_loss`: the ctcc CTC loss in Keras 3, on every backend.

This module holds everything that does not depend on the backend, written
with ``keras.ops``: the argument checks (with `ctcc._checks`), the Keras
conventions (labels padded with `padding_value`, frames from the Keras mask,
the lengths and dtypes of ``keras.ops.ctc_loss``) and the reductions (by
``keras.losses.Loss``). The loss itself and its gradient come from the ctcc
adapter of the backend Keras runs on, through a glue module of a few lines
each: `_tensorflow` (`ctcc.tensorflow`), `_jax` (`ctcc.jax`) and `_torch`
(`ctcc.torch`). Each glue module has ``NAME``, ``ADAPTER``,
``check(ok, message)`` (raise unless every entry of ``ok`` is true, when the
step runs) and ``ctc(labels, logits, label_length, logit_length, *, blank,
zero_infinity, num_threads, alpha, gamma)``: per-sample losses ``[N]`` of
batch-major logits.
"""

from __future__ import annotations

import importlib
from typing import Any

import keras
from keras import ops

from ctcc._checks import (
    INT32_MAX,
    INT32_MIN,
    as_flag,
    as_int,
    as_num_threads,
    describe,
    reject_masked,
)
from ctcc._loss import _check_modifications

try:  # Keras 3 keeps the mask accessor private; the attribute is the fallback.
    from keras.src.backend import get_keras_mask as _get_keras_mask
except ImportError:  # pragma: no cover - depends on the Keras version

    def _get_keras_mask(x):
        return getattr(x, "_keras_mask", None)


_LOSS = "ctcc.keras.CTCLoss"
_FUNCTION = "ctcc.keras.ctc_loss"

# Keras backend -> (glue module, the pip extra that brings the adapter)
_GLUES = {
    "tensorflow": ("ctcc.keras._tensorflow", "ctcc[tensorflow]"),
    "jax": ("ctcc.keras._jax", "ctcc[jax]"),
    "torch": ("ctcc.keras._torch", "ctcc[torch]"),
}
BACKEND = keras.backend.backend()
if BACKEND in _GLUES:
    _module, _extra = _GLUES[BACKEND]
    try:
        _GLUE = importlib.import_module(_module)
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError(
            f"ctcc.keras needs ctcc's adapter of the {BACKEND} backend of Keras: "
            f"pip install '{_extra}' ({e})"
        ) from e
else:  # numpy, openvino: no ctcc adapter; refused when used
    _GLUE = None


def _glue(fn: str):
    if _GLUE is None:
        raise ValueError(
            f"{fn}: Keras runs on the {BACKEND!r} backend, which ctcc does not support: "
            "set KERAS_BACKEND to 'tensorflow', 'jax' or 'torch' before importing keras"
        )
    return _GLUE


# --------------------------------------------------------------------------
# Checks and conversions shared by CTCLoss and ctc_loss

# Float labels are compared with the int32 bounds in their own dtype: both
# bounds are powers of two, exact in every float dtype.
_LOW, _HIGH = float(INT32_MIN), float(INT32_MAX) + 1.0


def _rank(x: Any) -> int:
    return len(x.shape)


def _integers(x: Any, name: str, fn: str, glue: Any) -> Any:
    """An integer tensor: integers as they are (values outside int32 reach
    ctcc, which reports them); floats holding integers (as Keras hands
    ``y_true`` over) rounded, checked for the int32 range and cast."""
    dtype = keras.backend.standardize_dtype(x.dtype)
    if keras.backend.is_int_dtype(dtype):
        return x
    if not keras.backend.is_float_dtype(dtype):
        raise TypeError(f"{fn}: {name} must hold integers, got dtype {dtype}")
    rounded = ops.round(x)
    inside = ops.logical_and(ops.greater_equal(rounded, _LOW), ops.less(rounded, _HIGH))
    glue.check(inside, f"{fn}: {name} holds a value outside the int32 range (or NaN)")
    return ops.cast(rounded, "int32")


def _count_before_first(is_pad: Any) -> Any:
    """``[N]``: the number of entries of each row before its first true one."""
    return ops.sum(ops.cumprod(ops.cast(ops.logical_not(is_pad), "int32"), axis=1), axis=1)


def _frames_from_mask(mask: Any, glue: Any) -> Any:
    """``[N]`` frame counts of a Keras mask ``[N, T]`` whose true entries
    come first in each row (another mask is an error)."""
    if _rank(mask) != 2:
        raise ValueError(
            f"CTCLoss: the Keras mask of y_pred must have shape [batch, frames], "
            f"got shape {tuple(mask.shape)}"
        )
    valid = ops.cast(ops.cast(mask, "bool"), "int32")
    glue.check(
        ops.equal(valid, ops.cumprod(valid, axis=1)),
        "CTCLoss: the Keras mask of y_pred must be a prefix of each sample (valid "
        "frames first, padding at the end)",
    )
    return ops.sum(valid, axis=1)


def _check_blank(blank: int, classes: int | None, name: str, fn: str) -> None:
    """``blank`` in ``[-C, C)`` when the number of classes is known here
    (else ctcc checks it when the loss runs)."""
    if classes is not None and not -classes <= blank < classes:
        raise ValueError(
            f"{fn}: {name} must be in [{-classes}, {classes}) for {classes} classes "
            f"(negative values count from the end), got {blank}"
        )


def _check_batch(name: str, x: Any, batch: int | None, fn: str) -> None:
    if None not in (batch, x.shape[0]) and x.shape[0] != batch:
        raise ValueError(
            f"{fn}: {name} has {x.shape[0]} rows for a batch of {batch} (output has "
            f"{batch} samples), got shape {tuple(x.shape)}"
        )


# --------------------------------------------------------------------------
# keras.ops.ctc_loss


def ctc_loss(
    target: Any,
    output: Any,
    target_length: Any,
    output_length: Any,
    mask_index: int = 0,
    *,
    zero_infinity: bool = False,
    num_threads: int | None = None,
) -> Any:
    """Per-sample CTC loss with the signature and results of ``keras.ops.ctc_loss``.

    A drop-in for ``keras.ops.ctc_loss`` on the TensorFlow, JAX and PyTorch
    backends of Keras: the same arguments, shapes and result, computed by
    ctcc's C core (through `ctcc.tensorflow`, `ctcc.jax` or `ctcc.torch`,
    following the backend) and differentiable with respect to `output` with
    ctcc's exact gradient.

    Parameters
    ----------
    target : tensor or array_like of int, shape [N, S]
        Padded label sequences: the first ``target_length[n]`` entries of row
        n are its labels, the others are never read. Integers, or floats
        holding integers (rounded; outside the int32 range is an error).
        Labels must lie in ``[0, C)`` and differ from `mask_index`.
    output : tensor or array_like of float, shape [N, T, C]
        Logits, batch-major (not softmax-normalised: a log-softmax is
        applied inside, as ``keras.ops.ctc_loss`` does on every backend).
        Computed in ``keras.backend.result_type(output.dtype, "float32")``:
        float16 and bfloat16 in float32, float64 in float64.
    target_length : tensor or array_like of int, shape [N]
        The number of labels of each sample, in ``[0, S]``.
    output_length : tensor or array_like of int, shape [N]
        The number of frames of each sample, in ``[0, T]``; frames past it
        are never read and get gradient 0.
    mask_index : int, default 0
        The blank class (``keras.ops.ctc_loss`` calls it the mask
        index), in ``[-C, C)``; negative values count from the end.
    zero_infinity : bool, default False
        Infeasible samples (too few frames for their labels) get loss 0
        instead of ``inf``; their gradient is 0 either way.
    num_threads : int, optional
        OpenMP threads of the C core; None or 0 uses every available thread.

    Returns
    -------
    loss : tensor, shape [N]
        The loss of each sample (its negative log-likelihood), a tensor of
        the backend, in ``keras.backend.result_type(output.dtype,
        "float32")``.

    Raises
    ------
    TypeError
        If a scalar argument has the wrong type (a flag that is not a bool,
        an integer argument that is a bool or not an integer), an array is a
        ``numpy.ma`` array, `output` is not floating point, or `target` or a
        length holds something other than numbers.
    ValueError
        If Keras runs on a backend other than TensorFlow, JAX or PyTorch, a
        shape is wrong (`output` not 3-D, `target` not 2-D, lengths not
        ``[N]``, batch sizes that differ), or `mask_index` is outside
        ``[-C, C)``. Values are checked when the loss runs: a length outside
        its range, a label outside ``[0, C)`` or equal to `mask_index` (the
        message names the sample and position), a float outside the int32
        range. On the TensorFlow backend these raise
        ``tf.errors.InvalidArgumentError``; inside a jit-compiled JAX step,
        JAX's runtime error with the same message.

    See Also
    --------
    CTCLoss : The loss for ``model.compile``.
    ctcc.ctc_loss : The NumPy function underneath the adapters.

    Notes
    -----
    ``keras.ops.ctc_loss`` runs ``tf.nn.ctc_loss`` on TensorFlow (in
    float32, even for float64 input), ``torch.nn.functional.ctc_loss`` on
    PyTorch and an optax-style float32 recursion on JAX, which gives an
    infeasible sample a large finite loss (about 1e5) where the others give
    ``inf``. ctcc computes in the dtype of the result on every backend and
    gives ``inf`` (or 0 with `zero_infinity`). Elsewhere the results agree
    to float32 rounding.

    Examples
    --------
    >>> import numpy as np
    >>> import keras
    >>> import ctcc.keras
    >>> logits = np.zeros((1, 2, 2), np.float32)  # [N, T, C]: uniform
    >>> loss = ctcc.keras.ctc_loss(np.array([[1]]), logits, np.array([1]), np.array([2]))
    >>> print(keras.ops.convert_to_numpy(loss).round(6))  # -log(3/4)
    [0.287682]
    >>> ref = keras.ops.ctc_loss(np.array([[1]]), logits, np.array([1]), np.array([2]))
    >>> bool(np.allclose(keras.ops.convert_to_numpy(ref), keras.ops.convert_to_numpy(loss)))
    True
    """
    fn = _FUNCTION
    glue = _glue(fn)
    mask_index = as_int(mask_index, "mask_index", fn, low=INT32_MIN, high=INT32_MAX)
    zero_infinity = as_flag(zero_infinity, "zero_infinity", fn)
    num_threads = as_num_threads(num_threads, fn)
    args = {
        "target": target,
        "output": output,
        "target_length": target_length,
        "output_length": output_length,
    }
    for name, value in args.items():
        reject_masked(value, name, fn)
        if value is None or isinstance(value, (str, bytes)):
            raise TypeError(f"{fn}: {name} must be a tensor or an array, got {describe(value)}")

    output = ops.convert_to_tensor(output)
    dtype = keras.backend.standardize_dtype(output.dtype)
    if not keras.backend.is_float_dtype(dtype):
        raise TypeError(f"{fn}: output must hold floating-point logits, got dtype {dtype}")
    if _rank(output) != 3:
        raise ValueError(
            f"{fn}: output must be logits of shape [batch, frames, classes], got shape "
            f"{tuple(output.shape)}"
        )
    result_dtype = keras.backend.result_type(dtype, "float32")
    output = ops.cast(output, result_dtype)
    target = ops.convert_to_tensor(target)
    if _rank(target) != 2:
        raise ValueError(
            f"{fn}: target must be padded labels of shape [batch, max_label_length], got "
            f"shape {tuple(target.shape)}"
        )
    batch, frames, classes = output.shape
    _check_batch("target", target, batch, fn)
    target = _integers(target, "target", fn, glue)
    _check_blank(mask_index, classes, "mask_index", fn)

    lengths = []
    for name, size in (("target_length", target.shape[1]), ("output_length", frames)):
        length = ops.convert_to_tensor(args[name])
        if _rank(length) != 1:
            raise ValueError(
                f"{fn}: {name} must have shape [batch], got shape {tuple(length.shape)}"
            )
        _check_batch(name, length, batch, fn)
        length = _integers(length, name, fn, glue)
        if size is not None:
            in_range = ops.logical_and(ops.greater_equal(length, 0), ops.less_equal(length, size))
            glue.check(in_range, f"{fn}: {name} must be in [0, {size}]")
        lengths.append(ops.cast(length, "int32"))
    loss = glue.ctc(
        target,
        output,
        lengths[0],
        lengths[1],
        blank=mask_index,
        zero_infinity=zero_infinity,
        num_threads=num_threads,
        alpha=None,
        gamma=0.0,
    )
    return ops.cast(loss, result_dtype)


# --------------------------------------------------------------------------
# keras.losses.CTC


@keras.saving.register_keras_serializable(package="ctcc")
class CTCLoss(keras.losses.Loss):
    """CTC loss for Keras 3 on every backend: ``model.compile(loss=CTCLoss())``.

    `y_pred` holds batch-major logits ``[N, T, C]`` (no softmax), `y_true`
    padded integer labels ``[N, S]``. The number of frames of each sample
    comes from the Keras mask of `y_pred` when the model makes one,
    otherwise every frame counts. It works with ``KERAS_BACKEND`` set to
    ``tensorflow``, ``jax`` or ``torch``, with the same arguments and
    results on each: the loss and its gradient come from the ctcc adapter of
    the backend (`ctcc.tensorflow`, `ctcc.jax` or `ctcc.torch`), which runs
    the C core on the host CPU.

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
        the gradient only, not the reported loss. The same on every backend;
        under distributed training each replica computes it over its own
        part of the batch.
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
        or `gamma` is out of range, `reduction` is unknown, Keras runs on a backend other than
        TensorFlow, JAX or PyTorch, or, when called, `y_pred` is not 3-D,
        `y_true` not 2-D or `blank` outside ``[-C, C)``. On the JAX and
        PyTorch backends, also for the value errors below.
    tf.errors.InvalidArgumentError
        On the TensorFlow backend, when called, for a label outside
        ``[0, C)`` or equal to the blank (naming the sample and position), a
        label outside the int32 range, or a mask that is not a prefix of
        each sample. Inside a jit-compiled JAX step these come as JAX's
        runtime error, with the same message.

    See Also
    --------
    ctc_loss : The drop-in for ``keras.ops.ctc_loss``.
    ctcc.tensorflow.ctc_loss : The adapter of the TensorFlow backend.
    ctcc.jax.ctc_loss : The adapter of the JAX backend.
    ctcc.torch.ctc_loss : The adapter of the PyTorch backend.

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
    ``import ctcc.keras``. On TensorFlow it trains under
    ``tf.distribute.MirroredStrategy`` like on one device; the loss runs
    through ``tf.numpy_function``, so the model cannot be compiled with XLA:
    where Keras' default ``jit_compile="auto"`` turns XLA on (a visible
    GPU), use ``model.compile(..., jit_compile=False)``. On JAX the loss is
    a ``jax.pure_callback`` and the jit-compiled train step (Keras' default)
    works. On PyTorch, ``torch.compile`` (``jit_compile=True``) traces the
    loss without a graph break, and tensors on a GPU are moved to the CPU
    for the loss (the gradient flows back).

    Examples
    --------
    >>> import numpy as np
    >>> import keras
    >>> import ctcc.keras
    >>> loss = ctcc.keras.CTCLoss(blank=0, padding_value=-1, reduction="none")
    >>> y_true = np.array([[1, -1]])  # one label, then padding
    >>> y_pred = np.zeros((1, 2, 2), np.float32)  # [N, T, C]: uniform
    >>> print(keras.ops.convert_to_numpy(loss(y_true, y_pred)).round(6))  # -log(3/4)
    [0.287682]

    In a model (frames of 40 features, 29 classes with the blank 0):

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
        fn = _LOSS
        _glue(fn)  # ValueError for a backend ctcc does not support
        blank = as_int(blank, "blank", fn, low=INT32_MIN, high=INT32_MAX)
        # int32, the range of ctcc's labels: a larger value would never match a label
        padding_value = as_int(padding_value, "padding_value", fn, low=INT32_MIN, high=INT32_MAX)
        zero_infinity = as_flag(zero_infinity, "zero_infinity", fn)
        num_threads = as_num_threads(num_threads, fn)
        checked_alpha, gamma = _check_modifications(alpha, gamma, fn)
        alpha = None if checked_alpha < 0 else checked_alpha
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.blank = blank
        self.padding_value = padding_value
        self.zero_infinity = zero_infinity
        self.num_threads = num_threads
        self.alpha = alpha
        self.gamma = gamma

    def __call__(self, y_true, y_pred, sample_weight=None):
        reject_masked(y_true, "y_true", _LOSS)
        reject_masked(y_pred, "y_pred", _LOSS)
        # Keras would multiply the [N] per-sample losses by the [N, T] mask
        # of y_pred. The mask gives the logit lengths instead: it travels
        # next to y_pred, and the tuple carries no mask for Keras to apply.
        mask = _get_keras_mask(y_pred)
        if mask is None:
            return super().__call__(y_true, y_pred, sample_weight)
        return super().__call__(y_true, (y_pred, mask), sample_weight)

    def call(self, y_true, y_pred):
        glue = _glue(_LOSS)
        if isinstance(y_pred, (tuple, list)):
            y_pred, mask = y_pred
        else:
            mask = None
        logits = ops.convert_to_tensor(y_pred)
        labels = ops.convert_to_tensor(y_true)
        if _rank(logits) != 3:
            raise ValueError(
                "CTCLoss: y_pred must be logits of shape [batch, frames, classes], "
                f"got shape {tuple(logits.shape)}"
            )
        if _rank(labels) != 2:
            raise ValueError(
                "CTCLoss: y_true must be padded integer labels of shape "
                f"[batch, max_label_length], got shape {tuple(labels.shape)}"
            )
        _check_blank(self.blank, logits.shape[2], "blank", _LOSS)
        labels = _integers(labels, "y_true", _LOSS, glue)
        label_length = _count_before_first(ops.equal(labels, self.padding_value))
        if mask is None:  # every frame
            logit_length = ops.sum(ops.ones_like(logits[:, :, 0], dtype="int32"), axis=1)
        else:
            logit_length = _frames_from_mask(ops.convert_to_tensor(mask), glue)
        return glue.ctc(
            labels,
            logits,
            ops.cast(label_length, "int32"),
            ops.cast(logit_length, "int32"),
            blank=self.blank,
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
