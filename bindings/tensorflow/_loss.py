"""The TensorFlow CTC loss functions on ctcc's C core.

One graph node does the work: ``tf.numpy_function`` pinned to the CPU calls
``ctcc.ctc_loss``, which checks the arguments and computes the loss and the
gradient together in one C call (with the GIL released). ``tf.custom_gradient``
keeps that gradient and, on the backward pass, only scales it by the upstream
gradient of each sample. Labels and lengths get no gradient.

The host function hands ``ctcc.ctc_loss`` its gradient array (``grad_out``,
and ``out`` of ``ctcc.ctc_posteriors``) aligned to 64 bytes: TensorFlow
turns a NumPy result so aligned into a tensor that shares its memory, and
copies any other (a NumPy array is only 16-byte aligned), so the gradient
[T, N, C] is written once, by the C core, and never copied.

Argument errors that depend only on shapes known at trace time raise
``ValueError``/``TypeError`` at once; those that depend on values (labels out
of range, lengths too long) are found on the host when the op runs and raise
``tf.errors.InvalidArgumentError``, eagerly and in graphs alike, with a
message that names the function, the argument, the sample and the value.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf

import ctcc
from ctcc import _core
from ctcc._checks import as_flag, as_num_threads, as_optional_int, reject_masked
from ctcc._loss import _check_modifications

_V2 = "ctcc.tensorflow.ctc_loss"
_V1 = "ctcc.tensorflow.ctc_loss_v1"
_POSTERIORS = "ctcc.tensorflow.ctc_posteriors"

_FLOAT_DTYPES = (tf.float16, tf.bfloat16, tf.float32, tf.float64)
_HALF_DTYPES = (tf.float16, tf.bfloat16)

_SECOND_ORDER = (
    "ctcc.tensorflow: the CTC loss has no second derivative here (its gradient is "
    "computed in the forward pass, by the C core)"
)


class _HostError(ValueError):
    """An argument error found by the host function while the op runs."""


# TensorFlow's tensor alignment (EIGEN_MAX_ALIGN_BYTES, 64 in its x86-64
# builds): tf.numpy_function wraps a result whose data is aligned to it
# without a copy, and copies any other into a buffer of its own. ctcc's
# output arrays start at multiples of 64 bytes, and from 1 MiB on reuse
# the memory of outputs already released (_outputs.pxi).
_output_array = _core.output_array


def _xla_error(fn: str) -> RuntimeError:
    return RuntimeError(
        f"{fn} cannot be compiled with XLA: ctcc's loss runs as C code on the host "
        "CPU through tf.numpy_function, which XLA cannot compile. Compute the loss "
        "outside the jit_compile=True function (tf.function(..., jit_compile=False) "
        "for the function that calls it; with Keras, "
        "model.compile(..., jit_compile=False))."
    )


def _in_xla_context() -> bool:
    """True while tracing inside an XLA-compiled function (jit_compile=True)."""
    if tf.executing_eagerly():
        return False
    try:
        from tensorflow.python.ops import control_flow_util
    except ImportError:  # pragma: no cover - TF moved it; XLA then reports PyFunc itself
        return False
    return bool(control_flow_util.GraphOrParentsInXlaContext(tf.compat.v1.get_default_graph()))


def _to_tensor(value: Any, name: str, fn: str, integer: bool) -> tf.Tensor:
    reject_masked(value, name, fn)
    t = tf.convert_to_tensor(value, name=name)
    if integer and not t.dtype.is_integer:
        raise TypeError(f"{fn}: {name} must hold integers, got dtype {t.dtype.name}")
    return t


def _check_rank(t: tf.Tensor, rank: int, name: str, layout: str, fn: str) -> None:
    if t.shape.rank is not None and t.shape.rank != rank:
        raise ValueError(f"{fn}: {name} must be a {rank}-D tensor {layout}, got shape {t.shape}")


class _Batch:
    """Reconciles the static batch sizes of the arguments."""

    def __init__(self, fn: str) -> None:
        self.fn = fn
        self.size: int | None = None
        self.source = ""

    def add(self, size: int | None, source: str) -> None:
        if size is None:
            return
        if self.size is None:
            self.size, self.source = size, source
        elif size != self.size:
            raise ValueError(
                f"{self.fn}: the batch sizes disagree: {self.source} has {self.size} "
                f"samples, {source} has {size}"
            )


def _dim(t: tf.Tensor, axis: int) -> int | None:
    if t.shape.rank is None:
        return None
    return tf.compat.dimension_value(t.shape[axis])


def _check_lengths(value: np.ndarray, name: str, N: int, upper: int, what: str) -> np.ndarray:
    arr = np.asarray(value)
    if arr.shape != (N,):
        raise ValueError(
            f"{name} must have shape [{N}], one per sample, got shape {list(arr.shape)}"
        )
    bad = np.flatnonzero((arr < 0) | (arr > upper))
    if bad.size:
        i = int(bad[0])
        raise ValueError(f"{name}[{i}] = {int(arr[i])} is outside [0, {upper}] ({what})")
    return arr


def _sparse_rows(
    indices: np.ndarray, values: np.ndarray, shape: np.ndarray, N: int
) -> tuple[np.ndarray, np.ndarray]:
    """(flat values in sample order, batch index of each value) of a
    SparseTensor's labels, after checking the indices: inside the dense
    shape, whose first dimension is the batch size, and in row-major order."""
    if (
        indices.ndim != 2
        or indices.shape[1] != 2
        or values.shape != (indices.shape[0],)
        or shape.shape != (2,)
    ):
        raise ValueError(
            f"labels must be a 2-D SparseTensor [batch_size, max_label_length], got "
            f"indices of shape {list(indices.shape)}, values of shape {list(values.shape)} "
            f"and dense_shape {shape.tolist()}"
        )
    if int(shape[0]) != N:
        raise ValueError(
            f"labels: the SparseTensor's dense_shape {shape.tolist()} does not match the "
            f"batch of {N} samples (dense_shape[0] must be the batch size)"
        )
    rows, cols = indices[:, 0], indices[:, 1]
    bad = np.flatnonzero((rows < 0) | (rows >= N) | (cols < 0) | (cols >= shape[1]))
    if bad.size:
        k = int(bad[0])
        raise ValueError(
            f"labels: SparseTensor entry {k} has index {indices[k].tolist()}, outside the "
            f"dense_shape {shape.tolist()} (out of bounds: need 0 <= index < dense_shape)"
        )
    later = (rows[1:] > rows[:-1]) | ((rows[1:] == rows[:-1]) & (cols[1:] > cols[:-1]))
    bad = np.flatnonzero(~later)
    if bad.size:
        k = int(bad[0]) + 1
        raise ValueError(
            f"labels: SparseTensor entry {k} has index {indices[k].tolist()}, which does not "
            f"come after {indices[k - 1].tolist()}: the indices must be unique and in "
            "row-major order (apply tf.sparse.reorder first)"
        )
    return values, rows


def _check_ragged_lengths(given: np.ndarray, rows: np.ndarray, N: int) -> None:
    """label_length given with RaggedTensor labels must be their row lengths."""
    given = _check_lengths(given, "label_length", N, int(np.iinfo(np.int64).max), "int64")
    bad = np.flatnonzero(given != rows)
    if bad.size:
        n = int(bad[0])
        raise ValueError(
            f"label_length[{n}] = {int(given[n])} but labels (a RaggedTensor) has row "
            f"length {int(rows[n])} there: with RaggedTensor labels, pass label_length=None "
            "or the row lengths"
        )


class _Spec:
    """What the host function needs to know besides the arrays."""

    def __init__(self, **kw: Any) -> None:
        self.fn: str = kw["fn"]
        # "dense", "sparse" or "ragged": the aux arrays of the labels are
        # [labels, label_length], [indices, values, dense_shape] and
        # [padded labels, row lengths] (+ the given label_length to check)
        self.form: str = kw["form"]
        self.check_ragged: bool = kw.get("check_ragged", False)
        self.time_major: bool = kw["time_major"]
        self.blank: int = kw["blank"]
        self.has_logit_length: bool = kw["has_logit_length"]
        self.length_name: str = kw["length_name"]
        self.logits_name: str = kw.get("logits_name", "logits")
        self.collapse: bool = kw.get("collapse", False)
        # None (v2: infeasible samples get loss inf), "error" or "ignore" (v1)
        self.longer: str | None = kw.get("longer")
        self.zero_infinity: bool = kw.get("zero_infinity", False)
        self.num_threads: int | None = kw.get("num_threads")
        self.alpha: float | None = kw.get("alpha")
        self.gamma: float = kw.get("gamma", 0.0)
        # "loss" (loss and gradient) or "posteriors" (targets and weights)
        self.output: str = kw.get("output", "loss")


def _host(spec: _Spec, x: np.ndarray, *aux: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Checks the arrays and calls ctcc; runs on the host when the op runs."""
    layout = (
        "[max_time, batch_size, num_classes]"
        if spec.time_major
        else "[batch_size, max_time, num_classes]"
    )
    if x.ndim != 3:
        raise ValueError(
            f"{spec.logits_name} must be a 3-D tensor {layout}, got shape {list(x.shape)}"
        )
    T, N, C = x.shape if spec.time_major else (x.shape[1], x.shape[0], x.shape[2])
    if N < 1 or C < 1:
        raise ValueError(
            f"{spec.logits_name} {layout} needs batch_size >= 1 and num_classes >= 1, "
            f"got shape {list(x.shape)}"
        )
    if not -C <= spec.blank < C:
        raise ValueError(f"blank_index = {spec.blank} is outside [-{C}, {C}) for {C} classes")

    rest = list(aux)
    if spec.has_logit_length:
        frames = _check_lengths(
            rest.pop(), spec.length_name, N, T, f"max_time, the frames in {spec.logits_name}"
        )
    else:
        frames = np.full(N, T, np.int64)

    if spec.form == "sparse":
        labels, rows = _sparse_rows(rest[0], rest[1], rest[2], N)
        # TensorFlow compares the number of labels before collapsing with the frames
        raw_lengths = np.bincount(rows, minlength=N)
        if spec.collapse and labels.size:
            keep = np.ones(labels.shape, bool)
            keep[1:] = (rows[1:] != rows[:-1]) | (labels[1:] != labels[:-1])
            labels, rows = labels[keep], rows[keep]
        label_lengths = np.bincount(rows, minlength=N)
    else:
        labels = rest[0]
        if labels.ndim != 2 or labels.shape[0] != N:
            raise ValueError(
                f"labels must be a 2-D tensor [batch_size, max_label_length] with "
                f"batch_size = {N}, got shape {list(labels.shape)}"
            )
        label_lengths = _check_lengths(
            rest[1], "label_length", N, labels.shape[1], "max_label_length, the width of labels"
        )
        if spec.check_ragged:
            _check_ragged_lengths(rest[2], label_lengths, N)
        raw_lengths = label_lengths

    too_long = raw_lengths > frames
    if spec.longer == "error" and too_long.any():
        n = int(np.flatnonzero(too_long)[0])
        before = " (counted before collapsing repeats, as TensorFlow does)" if spec.collapse else ""
        raise ValueError(
            f"labels: sample {n} has {int(raw_lengths[n])} labels{before} but only "
            f"{spec.length_name}[{n}] = {int(frames[n])} frames (not enough time for the "
            "label sequence; ignore_longer_outputs_than_inputs=True gives such samples "
            "loss 0 and gradient 0)"
        )

    if spec.output == "posteriors":
        return ctcc.ctc_posteriors(
            x,
            labels,
            frames,
            label_lengths,
            blank=spec.blank,
            time_major=spec.time_major,
            alpha=spec.alpha,
            gamma=spec.gamma,
            num_threads=spec.num_threads,
            return_weights=True,
            out=_output_array(x.shape, x.dtype),
        )
    loss, grad = ctcc.ctc_loss(
        x,
        labels,
        frames,
        label_lengths,
        blank=spec.blank,
        time_major=spec.time_major,
        zero_infinity=spec.zero_infinity,
        num_threads=spec.num_threads,
        alpha=spec.alpha,
        gamma=spec.gamma,
        grad_out=_output_array(x.shape, x.dtype),
    )
    if spec.longer == "ignore" and too_long.any():
        # As TensorFlow: loss 0 and gradient 0, even where collapsing the
        # repeats left few enough labels for the frames.
        loss[too_long] = 0
        if spec.time_major:
            grad[:, too_long] = 0
        else:
            grad[too_long] = 0
    return loss, grad


def _host_function(spec: _Spec):
    def host(x: np.ndarray, *aux: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        try:
            return _host(spec, x, *aux)
        except (ValueError, TypeError) as e:
            raise _HostError(f"{spec.fn}: {e}") from None

    return host


@tf.custom_gradient
def _first_order_only(grad: tf.Tensor, x: tf.Tensor):
    """``grad``, tied to ``x`` on the tape so that differentiating the
    gradient again raises LookupError (as TensorFlow's sparse CTC path does)
    instead of silently returning None."""

    def refuse(upstream: tf.Tensor):
        raise LookupError(_SECOND_ORDER)

    return tf.identity(grad), refuse


def _run(spec: _Spec, logits: tf.Tensor, aux: list[tf.Tensor], batch: int | None) -> tf.Tensor:
    """The loss op: forward on the host, stored gradient scaled on the way back."""
    if _in_xla_context():
        raise _xla_error(spec.fn)
    out_dtype = logits.dtype
    x = tf.cast(logits, tf.float32) if out_dtype in _HALF_DTYPES else logits
    host = _host_function(spec)
    scale_shape = [1, -1, 1] if spec.time_major else [-1, 1, 1]

    @tf.custom_gradient
    def ctc(x: tf.Tensor, *aux_t: tf.Tensor):
        with tf.device("/CPU:0"):
            try:
                loss, grad = tf.numpy_function(
                    host, [x, *aux_t], [x.dtype, x.dtype], stateful=False, name="ctcc_ctc_loss"
                )
            except _HostError as e:  # eager execution: the same type as in graphs
                raise tf.errors.InvalidArgumentError(None, None, str(e)) from None
        loss.set_shape(tf.TensorShape([batch]))
        grad.set_shape(x.shape)

        def backward(upstream: tf.Tensor):
            g = _first_order_only(grad, x)
            return [tf.reshape(upstream, scale_shape) * g] + [None] * len(aux_t)

        return loss, backward

    loss = ctc(x, *aux)
    return tf.cast(loss, out_dtype) if out_dtype in _HALF_DTYPES else loss


def _run_posteriors(spec: _Spec, logits: tf.Tensor, aux: list[tf.Tensor]):
    """The posteriors op: targets and frame weights, computed on the host."""
    if _in_xla_context():
        raise _xla_error(spec.fn)
    out_dtype = logits.dtype
    x = tf.cast(logits, tf.float32) if out_dtype in _HALF_DTYPES else logits
    with tf.device("/CPU:0"):
        try:
            targets, weights = tf.numpy_function(
                _host_function(spec),
                [x, *aux],
                [x.dtype, x.dtype],
                stateful=False,
                name="ctcc_ctc_posteriors",
            )
        except _HostError as e:
            raise tf.errors.InvalidArgumentError(None, None, str(e)) from None
    targets.set_shape(x.shape)
    weights.set_shape(x.shape[:2])
    targets = tf.stop_gradient(targets)
    weights = tf.stop_gradient(weights)
    if out_dtype in _HALF_DTYPES:
        return tf.cast(targets, out_dtype), tf.cast(weights, out_dtype)
    return targets, weights


def _prepare_logits(logits: Any, time_major: bool, fn: str, name: str = "logits"):
    reject_masked(logits, name, fn)
    t = tf.convert_to_tensor(logits, name=name)
    if t.dtype not in _FLOAT_DTYPES:
        raise TypeError(
            f"{fn}: {name} must be float16, bfloat16, float32 or float64, got dtype {t.dtype.name}"
        )
    layout = (
        "[max_time, batch_size, num_classes]"
        if time_major
        else "[batch_size, max_time, num_classes]"
    )
    _check_rank(t, 3, name, layout, fn)
    return t, (_dim(t, 1) if time_major else _dim(t, 0)), _dim(t, 2)


def _check_blank(blank: int, classes: int | None, fn: str) -> None:
    if classes is not None and not -classes <= blank < classes:
        raise ValueError(
            f"{fn}: blank_index = {blank} is outside [-{classes}, {classes}) for {classes} classes"
        )


def _sparse_labels(labels: tf.SparseTensor, batch: _Batch, fn: str) -> list[tf.Tensor]:
    """[indices, values, dense_shape] of SparseTensor labels, after the
    static checks."""
    if not labels.values.dtype.is_integer:
        raise TypeError(f"{fn}: labels must hold integers, got dtype {labels.values.dtype.name}")
    if labels.shape.rank is not None and labels.shape.rank != 2:
        raise ValueError(
            f"{fn}: labels must be a 2-D SparseTensor [batch_size, max_label_length], got "
            f"shape {labels.shape}"
        )
    if labels.shape.rank is not None:
        batch.add(tf.compat.dimension_value(labels.shape[0]), "labels")
    return [labels.indices, labels.values, labels.dense_shape]


def _ragged_labels(
    labels: tf.RaggedTensor, label_length: Any, batch: _Batch, fn: str
) -> tuple[list[tf.Tensor], bool]:
    """([padded labels, row lengths] + [label_length] when given, whether it
    was given) of RaggedTensor labels, after the static checks."""
    if not labels.dtype.is_integer:
        raise TypeError(f"{fn}: labels must hold integers, got dtype {labels.dtype.name}")
    if labels.shape.rank != 2 or labels.ragged_rank != 1:
        raise ValueError(
            f"{fn}: labels must be a 2-D RaggedTensor [batch_size, None] (ragged_rank 1), "
            f"got shape {labels.shape} with ragged_rank {labels.ragged_rank}"
        )
    batch.add(tf.compat.dimension_value(labels.shape[0]), "labels")
    # the padding is never read: the row lengths say where each row ends
    aux = [labels.to_tensor(default_value=0), labels.row_lengths()]
    if label_length is None:
        return aux, False
    return aux + [_lengths_tensor(label_length, "label_length", batch, fn)], True


def _lengths_tensor(value: Any, name: str, batch: _Batch, fn: str) -> tf.Tensor:
    t = _to_tensor(value, name, fn, integer=True)
    _check_rank(t, 1, name, "[batch_size]", fn)
    batch.add(_dim(t, 0), name)
    return t


def ctc_loss(
    labels: Any,
    logits: Any,
    label_length: Any,
    logit_length: Any,
    logits_time_major: bool = True,
    unique: Any = None,
    blank_index: int | None = None,
    name: str | None = None,
    *,
    zero_infinity: bool = False,
    num_threads: int | None = None,
    alpha: float | None = None,
    gamma: float = 0.0,
) -> tf.Tensor:
    """CTC loss with the signature, defaults and results of ``tf.nn.ctc_loss``.

    Differentiable with respect to `logits`, eagerly, in ``tf.function``
    (unknown batch and time dimensions included) and in Keras
    ``model.fit``. One ``tf.numpy_function`` placed on the CPU calls
    `ctcc.ctc_loss`, which computes the loss and the gradient in one C call
    with the GIL released; ``tf.custom_gradient`` keeps the gradient and
    scales it by the upstream gradient of each sample on the backward pass.

    Parameters
    ----------
    labels : tf.Tensor, tf.SparseTensor or tf.RaggedTensor of int
        A dense ``[batch_size, max_label_length]`` tensor (entries past
        `label_length` are padding and never read), a ``tf.SparseTensor``
        (indices in row-major order and inside its dense shape, whose first
        dimension is the batch size; `label_length` is ignored, as in
        TensorFlow) or a ``tf.RaggedTensor`` ``[batch_size, None]`` (its row
        lengths are the label lengths). Labels index the classes of `logits`
        and differ from the blank.
    logits : tf.Tensor of float
        ``[frames, batch_size, num_classes]``, or ``[batch_size, frames,
        num_classes]`` if `logits_time_major` is False; float32 or float64,
        or float16/bfloat16 (computed in float32, loss and gradient returned
        in the input dtype). Unnormalised: a log-softmax is applied inside.
    label_length : tf.Tensor of int, shape [batch_size], or None
        Labels of each sample: required for dense labels, ignored for a
        SparseTensor, and for a RaggedTensor None or equal to its row
        lengths.
    logit_length : tf.Tensor of int, shape [batch_size], or None
        Frames of each sample; frames past it get gradient 0 and are never
        read. None means every frame (an extension).
    logits_time_major : bool, default True
        Layout of `logits`; both layouts are read in place.
    unique : object, optional
        Accepted and ignored: in TensorFlow a performance hint
        (``tf.nn.ctc_unique_labels``) that never changes the result.
    blank_index : int, optional
        The blank class; None means 0 for dense and ragged labels and is an
        error for a SparseTensor (as in TensorFlow). Negative values count
        from the end (``-1`` is the last class).
    name : str, optional
        A name scope for the op.
    zero_infinity : bool, default False
        Keyword-only (ctcc extension): infeasible samples get loss 0 instead
        of ``inf``; their gradient is 0 either way.
    num_threads : int, optional
        Keyword-only (ctcc extension): OpenMP threads of the C core; None or
        0 uses every available thread.
    alpha : float, optional
        Keyword-only (ctcc extension): non-blank proportion in [0, 1] of the
        training targets (Li and Wang, eq. 13-16), over the batch of this
        call; None is plain CTC. Changes the gradient only.
    gamma : float, default 0.0
        Keyword-only (ctcc extension): key-frame reweighting exponent in
        ``[0, 1e300]`` (eq. 17-18); 0 is plain CTC. Changes the gradient
        only.

    Returns
    -------
    tf.Tensor
        The per-sample negative log-likelihood, ``[batch_size]``, in the
        dtype of `logits` (the plain CTC loss whatever `alpha` and `gamma`).

    Raises
    ------
    ValueError
        At once (or when traced): `blank_index` missing with SparseTensor
        labels, wrong ranks, disagreeing batch sizes, `blank_index` out of
        range, `label_length` missing for dense labels, `alpha` or `gamma`
        out of range.
    TypeError
        At once: non-float logits, non-integer labels or lengths, a
        ``numpy.ma`` array, a scalar argument of the wrong type (a flag that
        is not a bool, an integer argument that is a bool...).
    RuntimeError
        When traced for XLA (``jit_compile=True``).
    tf.errors.InvalidArgumentError
        When the op runs (eagerly and in graphs alike), for an error in the
        values: a label outside ``[0, num_classes)`` or equal to the blank, a
        length out of range, a SparseTensor index outside its dense shape or
        out of order, a `label_length` that differs from a RaggedTensor's
        row lengths. The message names the function, the argument, the
        sample and the value.

    See Also
    --------
    ctcc.ctc_loss : The NumPy function that computes it.
    ctcc.tensorflow.ctc_loss_v1 : ``tf.compat.v1.nn.ctc_loss``'s signature.

    Notes
    -----
    Differences from ``tf.nn.ctc_loss``: an infeasible sample (too few
    frames for its labels) gets loss ``inf`` and gradient 0, where
    TensorFlow's dense path returns a large finite loss; labels outside the
    alphabet raise an error, where TensorFlow's dense kernel returns a
    finite number; empty label sequences are allowed with sparse labels
    (TensorFlow's sparse kernel rejects them); float64 works with dense
    labels (TensorFlow's dense path rejects it); a SparseTensor whose
    indices lie outside its ``dense_shape`` (or whose ``dense_shape[0]`` is
    not the batch size) is refused, where TensorFlow's kernel ignores the
    dense shape.

    The loss cannot be compiled with XLA: it is Python calling C on the
    host. Compute it outside the ``jit_compile=True`` function, and in Keras
    use ``model.compile(..., jit_compile=False)``. A second derivative raises
    ``LookupError``. Scalar arguments follow ctcc's rule: flags accept only
    bools, integer arguments integers but not bools.

    Examples
    --------
    >>> import numpy as np
    >>> import tensorflow as tf
    >>> import ctcc.tensorflow

    Two uniform frames over the blank and one label: ``p([1]) = 3/4``.

    >>> loss = ctcc.tensorflow.ctc_loss(tf.constant([[1]]), tf.zeros([2, 1, 2]),
    ...                                 label_length=[1], logit_length=[2])
    >>> print(loss.numpy().round(6))
    [0.287682]

    Dense, sparse and ragged labels give the loss of ``tf.nn.ctc_loss``:

    >>> logits = tf.random.normal([50, 2, 20], seed=1)
    >>> dense = tf.constant([[3, 4, 4, 7], [1, 0, 0, 0]])
    >>> ragged = tf.ragged.constant([[3, 4, 4, 7], [1]])
    >>> with tf.GradientTape() as tape:
    ...     tape.watch(logits)
    ...     loss = ctcc.tensorflow.ctc_loss(ragged, logits, None, [50, 42])
    >>> grad = tape.gradient(loss, logits)
    >>> want = tf.nn.ctc_loss(dense, logits, [4, 1], [50, 42])
    >>> bool(np.allclose(loss, want, rtol=1e-5)), grad.shape
    (True, TensorShape([50, 2, 20]))
    """
    del unique  # a performance hint in TensorFlow; the result does not depend on it
    return _v2_op(
        _V2,
        "loss",
        labels,
        logits,
        label_length,
        logit_length,
        logits_time_major,
        blank_index,
        name or "ctc_loss",
        zero_infinity=zero_infinity,
        num_threads=num_threads,
        alpha=alpha,
        gamma=gamma,
    )


def ctc_posteriors(
    labels: Any,
    logits: Any,
    label_length: Any,
    logit_length: Any,
    logits_time_major: bool = True,
    blank_index: int | None = None,
    name: str | None = None,
    *,
    alpha: float | None = None,
    gamma: float = 0.0,
    num_threads: int | None = None,
) -> tuple[tf.Tensor, tf.Tensor]:
    """The CTC training targets and frame weights, with `ctc_loss`'s arguments.

    The TensorFlow counterpart of `ctcc.ctc_posteriors`: the targets the
    gradient of `ctcc.tensorflow.ctc_loss` fits the softmax to, and the
    weight of each frame. Not differentiable (no gradient flows through
    it).

    Parameters
    ----------
    labels : tf.Tensor, tf.SparseTensor or tf.RaggedTensor of int
        Dense ``[batch_size, max_label_length]``, sparse or ragged labels, as
        in `ctcc.tensorflow.ctc_loss`.
    logits : tf.Tensor of float
        ``[frames, batch_size, num_classes]``, or batch-major if
        `logits_time_major` is False; float32, float64, float16 or bfloat16.
    label_length : tf.Tensor of int, shape [batch_size], or None
        Labels of each sample: required for dense labels, ignored for a
        SparseTensor, None or the row lengths for a RaggedTensor.
    logit_length : tf.Tensor of int, shape [batch_size], or None
        Frames of each sample; None means every frame.
    logits_time_major : bool, default True
        Layout of `logits` and of the results.
    blank_index : int, optional
        The blank class; None means 0 (an error for a SparseTensor).
        Negative values count from the end.
    name : str, optional
        A name scope for the op.
    alpha : float, optional
        Keyword-only: non-blank proportion in [0, 1] (eq. 13-16); with it
        set the modified targets are returned, computed over the batch.
    gamma : float, default 0.0
        Keyword-only: key-frame reweighting exponent in ``[0, 1e300]``
        (eq. 17-18); it sets the weights, not the targets.
    num_threads : int, optional
        Keyword-only: OpenMP threads of the C core; None or 0 uses every
        available thread.

    Returns
    -------
    targets : tf.Tensor
        The shape, layout and dtype of `logits`: ``p(frame t emits class c |
        labels)`` (the alpha-modified targets with `alpha` set). Rows sum to
        1 on valid frames; frames past the length and infeasible samples
        hold 0.
    weights : tf.Tensor
        ``[frames, batch_size]`` (time-major) or ``[batch_size, frames]``:
        the gradient weight of each frame, 1 on valid frames unless `gamma`
        > 0, 0 past the length. `ctcc.tensorflow.ctc_loss`'s gradient is
        ``weights * (softmax(logits) - targets)``.

    Raises
    ------
    ValueError
        At once, as `ctcc.tensorflow.ctc_loss`.
    TypeError
        At once, as `ctcc.tensorflow.ctc_loss`.
    RuntimeError
        When traced for XLA (``jit_compile=True``).
    tf.errors.InvalidArgumentError
        When the op runs, for an error in the values, as
        `ctcc.tensorflow.ctc_loss`.

    See Also
    --------
    ctcc.ctc_posteriors : The NumPy function that computes them.

    Examples
    --------
    >>> import tensorflow as tf
    >>> import ctcc.tensorflow
    >>> targets, weights = ctcc.tensorflow.ctc_posteriors(
    ...     tf.constant([[1]]), tf.zeros([2, 1, 2]), label_length=[1], logit_length=[2])
    >>> print(targets[:, 0].numpy().round(4))
    [[0.3333 0.6667]
     [0.3333 0.6667]]
    >>> print(weights.numpy())
    [[1.]
     [1.]]
    """
    return _v2_op(
        _POSTERIORS,
        "posteriors",
        labels,
        logits,
        label_length,
        logit_length,
        logits_time_major,
        blank_index,
        name or "ctc_posteriors",
        zero_infinity=False,
        num_threads=num_threads,
        alpha=alpha,
        gamma=gamma,
    )


def _v2_op(
    fn: str,
    output: str,
    labels: Any,
    logits: Any,
    label_length: Any,
    logit_length: Any,
    logits_time_major: Any,
    blank_index: Any,
    name: str,
    *,
    zero_infinity: Any,
    num_threads: Any,
    alpha: Any,
    gamma: Any,
):
    """ctc_loss and ctc_posteriors: the trace-time checks and the op."""
    sparse = isinstance(labels, tf.SparseTensor)
    if sparse and blank_index is None:
        # tf.nn.ctc_loss's own error, word for word
        raise ValueError(
            "Argument `blank_index` must be provided when `labels` is a `SparseTensor`."
        )
    blank = as_optional_int(blank_index, "blank_index", fn)
    blank = 0 if blank is None else blank
    time_major = as_flag(logits_time_major, "logits_time_major", fn)
    zero_inf = as_flag(zero_infinity, "zero_infinity", fn)
    threads = as_num_threads(num_threads, fn)
    alpha, gamma = _check_modifications(alpha, gamma, fn)

    with tf.name_scope(name):
        x, n, classes = _prepare_logits(logits, time_major, fn)
        _check_blank(blank, classes, fn)
        batch = _Batch(fn)
        batch.add(n, "logits")
        check_ragged = False
        if sparse:
            form = "sparse"
            aux = _sparse_labels(labels, batch, fn)
        elif isinstance(labels, tf.RaggedTensor):
            form = "ragged"
            aux, check_ragged = _ragged_labels(labels, label_length, batch, fn)
        else:
            form = "dense"
            lab = _to_tensor(labels, "labels", fn, integer=True)
            _check_rank(lab, 2, "labels", "[batch_size, max_label_length]", fn)
            batch.add(_dim(lab, 0), "labels")
            if label_length is None:
                raise ValueError(
                    f"{fn}: label_length is required when labels is a dense tensor: "
                    "pass the number of labels of each sample, shape [batch_size] (or pass "
                    "a tf.RaggedTensor or a tf.SparseTensor)"
                )
            aux = [lab, _lengths_tensor(label_length, "label_length", batch, fn)]
        if logit_length is not None:
            aux.append(_lengths_tensor(logit_length, "logit_length", batch, fn))
        spec = _Spec(
            fn=fn,
            form=form,
            check_ragged=check_ragged,
            time_major=time_major,
            blank=blank,
            has_logit_length=logit_length is not None,
            length_name="logit_length",
            zero_infinity=zero_inf,
            num_threads=threads,
            alpha=None if alpha < 0 else alpha,
            gamma=gamma,
            output=output,
        )
        if output == "posteriors":
            return _run_posteriors(spec, x, aux)
        return _run(spec, x, aux, batch.size)


def ctc_loss_v1(
    labels: tf.SparseTensor,
    inputs: Any = None,
    sequence_length: Any = None,
    preprocess_collapse_repeated: bool = False,
    ctc_merge_repeated: bool = True,
    ignore_longer_outputs_than_inputs: bool = False,
    time_major: bool = True,
    logits: Any = None,
    *,
    num_threads: int | None = None,
) -> tf.Tensor:
    """CTC loss with the signature and results of ``tf.compat.v1.nn.ctc_loss``.

    The blank is the last class (``num_classes - 1``) and `labels` is a
    ``tf.SparseTensor`` whose values lie in ``[0, num_classes - 1)``.
    Differentiable with respect to the logits, like
    `ctcc.tensorflow.ctc_loss`.

    Parameters
    ----------
    labels : tf.SparseTensor of int
        ``[batch_size, max_label_length]``, indices in row-major order
        (``tf.sparse.reorder``) and inside its dense shape, whose first
        dimension is the batch size.
    inputs : tf.Tensor of float
        Logits ``[max_time, batch_size, num_classes]``, or batch-major if
        `time_major` is False; float32, float64, float16 or bfloat16.
    sequence_length : tf.Tensor of int, shape [batch_size], optional
        Frames of each sample; None means every frame (an extension).
    preprocess_collapse_repeated : bool, default False
        Collapse runs of equal labels into one label before computing the
        loss. The length check below counts the labels before collapsing,
        as TensorFlow does.
    ctc_merge_repeated : bool, default True
        Must be True: the variant of CTC that does not merge repeated
        outputs is not implemented (``NotImplementedError``).
    ignore_longer_outputs_than_inputs : bool, default False
        Samples with more labels than frames get loss 0 and gradient 0
        instead of raising an error.
    time_major : bool, default True
        Layout of `inputs`.
    logits : tf.Tensor of float, optional
        Alias for `inputs` (pass one of the two).
    num_threads : int, optional
        Keyword-only (ctcc extension): OpenMP threads of the C core; None or
        0 uses every available thread.

    Returns
    -------
    tf.Tensor
        The per-sample negative log-likelihood, ``[batch_size]``, in the
        dtype of the logits.

    Raises
    ------
    TypeError
        If `labels` is not a SparseTensor, the logits are not floats, the
        labels or lengths are not integers, or a scalar argument has the
        wrong type (a flag that is not a bool...).
    NotImplementedError
        With ``ctc_merge_repeated=False``.
    ValueError
        At once: both `inputs` and `logits`, or neither; wrong ranks or
        disagreeing batch sizes.
    tf.errors.InvalidArgumentError
        When the op runs: a sample with more labels (before collapsing) than
        frames without `ignore_longer_outputs_than_inputs`, a label outside
        ``[0, num_classes - 1)``, a length out of range, a SparseTensor
        index outside its dense shape or out of order.

    See Also
    --------
    ctcc.tensorflow.ctc_loss : ``tf.nn.ctc_loss``'s signature.

    Notes
    -----
    A sample with fewer labels than frames that still cannot be aligned
    (adjacent repeats need a blank between them) gets loss ``inf``, as in
    TensorFlow. Empty label sequences are allowed (TensorFlow's kernel
    rejects them).

    Examples
    --------
    >>> import tensorflow as tf
    >>> import ctcc.tensorflow
    >>> labels = tf.SparseTensor(indices=[[0, 0]], values=[0], dense_shape=[1, 1])
    >>> loss = ctcc.tensorflow.ctc_loss_v1(labels, tf.zeros([2, 1, 2]), [2])  # blank = 1
    >>> print(loss.numpy().round(6))
    [0.287682]

    The labels ``1 1 1 2`` do not fit in 3 frames, even though ``1 2`` would:

    >>> labels = tf.sparse.from_dense(tf.constant([[1, 1, 1, 2]]))
    >>> loss = ctcc.tensorflow.ctc_loss_v1(labels, tf.zeros([3, 1, 4]), [3],
    ...                                    preprocess_collapse_repeated=True,
    ...                                    ignore_longer_outputs_than_inputs=True)
    >>> print(loss.numpy())
    [0.]
    """
    fn = _V1
    if not isinstance(labels, tf.SparseTensor):
        raise TypeError(
            "Expected argument `labels` to be a SparseTensor. "
            f"Received labels={labels} of type: {type(labels).__name__}"
        )
    if not as_flag(ctc_merge_repeated, "ctc_merge_repeated", fn):
        raise NotImplementedError(
            f"{fn}: ctc_merge_repeated=False (CTC whose repeated outputs are not merged, "
            "a different model) is not supported by ctcc; use "
            "tf.compat.v1.nn.ctc_loss for it"
        )
    collapse = as_flag(preprocess_collapse_repeated, "preprocess_collapse_repeated", fn)
    ignore = as_flag(ignore_longer_outputs_than_inputs, "ignore_longer_outputs_than_inputs", fn)
    tm = as_flag(time_major, "time_major", fn)
    threads = as_num_threads(num_threads, fn)
    if inputs is not None and logits is not None:
        raise ValueError(f"{fn}: pass inputs or its alias logits, not both")
    if inputs is None:
        inputs = logits
    if inputs is None:
        raise ValueError(f"{fn}: inputs (the logits) is required")

    with tf.name_scope("ctc_loss"):
        x, n, _ = _prepare_logits(inputs, tm, fn, name="inputs")
        batch = _Batch(fn)
        batch.add(n, "inputs")
        aux = _sparse_labels(labels, batch, fn)
        if sequence_length is not None:
            aux.append(_lengths_tensor(sequence_length, "sequence_length", batch, fn))
        spec = _Spec(
            fn=fn,
            form="sparse",
            time_major=tm,
            blank=-1,
            has_logit_length=sequence_length is not None,
            length_name="sequence_length",
            logits_name="inputs",
            collapse=collapse,
            longer="ignore" if ignore else "error",
            num_threads=threads,
        )
        return _run(spec, x, aux, batch.size)
