"""Forced alignment for TensorFlow on ctcc's C core.

One graph node does the work: ``tf.numpy_function`` pinned to the CPU calls
``ctcc.forced_align``, which checks the arguments and finds every sample's
most probable path in one C call. Errors follow ``ctcc.tensorflow.ctc_loss``:
static problems raise ``ValueError``/``TypeError`` at once, value errors
raise ``tf.errors.InvalidArgumentError`` when the op runs. The outputs have
no gradient.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf

import ctcc
from ctcc._align import STAR_PENALTY
from ctcc._checks import as_flag, as_int, as_num_threads, as_real, short
from ctcc.tensorflow._loss import (
    _HALF_DTYPES,
    _Batch,
    _check_blank,
    _check_lengths,
    _check_ragged_lengths,
    _check_rank,
    _dim,
    _HostError,
    _in_xla_context,
    _lengths_tensor,
    _prepare_logits,
    _ragged_labels,
    _to_tensor,
)

_FN = "ctcc.tensorflow.forced_align"


def _host(
    x: np.ndarray,
    labels: np.ndarray,
    *aux: np.ndarray,
    time_major: bool,
    blank: int,
    log_probs: bool,
    has_label_length: bool,
    has_logit_length: bool,
    check_ragged: bool,
    num_threads: int | None,
    star_penalty: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Checks the arrays and calls ctcc; runs on the host when the op runs.
    aux: [label_length] if has_label_length, [the label_length given with
    RaggedTensor labels] if check_ragged, [logit_length] if has_logit_length."""
    T, N = (x.shape[0], x.shape[1]) if time_major else (x.shape[1], x.shape[0])
    rest = list(aux)
    label_length = rest.pop(0) if has_label_length else None
    if labels.ndim != 2 or labels.shape[0] != N:
        raise ValueError(
            f"labels must be a 2-D tensor [batch_size, max_label_length] with "
            f"batch_size = {N}, got shape {list(labels.shape)}"
        )
    if label_length is not None:
        label_length = _check_lengths(
            label_length,
            "label_length",
            N,
            labels.shape[1],
            "max_label_length, the width of labels",
        )
    if check_ragged:
        _check_ragged_lengths(rest.pop(0), label_length, N)
    frames = None
    if has_logit_length:
        frames = _check_lengths(rest.pop(0), "logit_length", N, T, "max_time, the frames in logits")
    result = ctcc.forced_align(
        x,
        labels,
        frames,
        label_length,
        blank=blank,
        time_major=time_major,
        log_probs=log_probs,
        num_threads=num_threads,
        star_penalty=star_penalty,
    )
    rows = np.array([s.shape[0] for s in result.spans], np.int64)
    flat = np.concatenate(result.spans) if result.spans else np.zeros((0, 2), np.int32)
    return result.frames, result.scores, flat.astype(np.int32), rows


def forced_align(
    logits: Any,
    labels: Any,
    logit_length: Any = None,
    label_length: Any = None,
    *,
    blank_index: int = 0,
    logits_time_major: bool = True,
    log_probs: bool = False,
    num_threads: int | None = None,
    star_penalty: float = STAR_PENALTY,
) -> ctcc.Alignment:
    """Most probable CTC alignment (Viterbi path) of each sample's labels.

    The TensorFlow counterpart of `ctcc.forced_align`, eagerly and in
    ``tf.function`` (not under XLA); the outputs have no gradient.

    Parameters
    ----------
    logits : tf.Tensor of float
        ``[frames, batch_size, num_classes]``, or ``[batch_size, frames,
        num_classes]`` if `logits_time_major` is False; float32, float64, or
        float16/bfloat16 (computed in float32).
    labels : tf.Tensor or tf.RaggedTensor of int
        A dense ``[batch_size, max_label_length]`` tensor (a row ends at
        `label_length`, or without it at its first negative entry other
        than `ctcc.STAR`) or a ``tf.RaggedTensor`` ``[batch_size, None]``.
        A label may be `ctcc.STAR` (-2), the wildcard of
        `ctcc.forced_align`: it absorbs zero or more frames of content the
        transcript lacks.
    logit_length : tf.Tensor of int, shape [batch_size], optional
        Frames of each sample; None means every frame.
    label_length : tf.Tensor of int, shape [batch_size], optional
        Labels of each sample; for a RaggedTensor None or its row lengths.
    blank_index : int, default 0
        Keyword-only: the blank class; negative values count from the end.
    logits_time_major : bool, default True
        Keyword-only: the layout of `logits`.
    log_probs : bool, default False
        Keyword-only: `logits` already holds log-probabilities (no softmax).
    num_threads : int, optional
        Keyword-only: OpenMP threads of the C core; None or 0 uses every
        available thread.
    star_penalty : float, default -2.0
        Keyword-only: the log-probability a `ctcc.STAR` adds to a frame it
        reads as content (a number <= 0, or ``-inf``); see
        `ctcc.forced_align`.

    Returns
    -------
    ctcc.Alignment
        ``(frames, scores, spans)`` of tensors: `frames` int32
        ``[batch_size, frames]`` (batch-major, -1 past each length and for a
        sample without a path), `scores` ``[batch_size]`` in the dtype of
        `logits` (the path's log-probability, ``-inf`` without a path), and
        `spans` an int32 ``tf.RaggedTensor`` ``[batch_size, None, 2]``: the
        first frame and one past the last frame of each label. Frames a
        star reads as content hold `ctcc.STAR`.

    Raises
    ------
    ValueError
        At once: wrong ranks, disagreeing batch sizes, `blank_index` out of
        range, a `star_penalty` that is NaN or positive.
    TypeError
        At once: non-float logits, non-integer labels or lengths, a
        ``numpy.ma`` array, or a scalar argument of the wrong type.
    RuntimeError
        When traced for XLA (``jit_compile=True``).
    tf.errors.InvalidArgumentError
        When the op runs, for an error in the values: a label outside the
        alphabet or equal to the blank, a length out of range.

    See Also
    --------
    ctcc.forced_align : The NumPy function, with the tie-breaking rules.

    Examples
    --------
    >>> import numpy as np
    >>> import tensorflow as tf
    >>> import ctcc.tensorflow
    >>> probs = np.array([[0.1, 0.8, 0.1], [0.1, 0.8, 0.1], [0.8, 0.1, 0.1], [0.1, 0.1, 0.8]])
    >>> logits = tf.math.log(tf.constant(probs[:, None, :], tf.float32))
    >>> result = ctcc.tensorflow.forced_align(logits, tf.ragged.constant([[1, 2]]), log_probs=True)
    >>> result.frames.numpy().tolist(), result.spans.to_list()
    ([[1, 1, 0, 2]], [[[0, 2], [3, 4]]])
    """
    fn = _FN
    blank = as_int(blank_index, "blank_index", fn)
    time_major = as_flag(logits_time_major, "logits_time_major", fn)
    lp = as_flag(log_probs, "log_probs", fn)
    threads = as_num_threads(num_threads, fn)
    penalty = as_real(star_penalty, "star_penalty", fn, finite=False)
    if not penalty <= 0.0:
        raise ValueError(
            f"{fn}: star_penalty must be a number <= 0 (or -inf), got {short(star_penalty)}"
        )
    if _in_xla_context():
        raise RuntimeError(
            f"{fn} cannot be compiled with XLA (jit_compile=True): it runs as C code "
            "on the host CPU through tf.numpy_function"
        )

    with tf.name_scope("forced_align"):
        x, n, classes = _prepare_logits(logits, time_major, fn)
        _check_blank(blank, classes, fn)
        out_dtype = x.dtype
        if out_dtype in _HALF_DTYPES:
            x = tf.cast(x, tf.float32)
        batch = _Batch(fn)
        batch.add(n, "logits")
        check_ragged = False
        if isinstance(labels, tf.RaggedTensor):
            aux, check_ragged = _ragged_labels(labels, label_length, batch, fn)
            has_label_length = True
        else:
            lab = _to_tensor(labels, "labels", fn, integer=True)
            _check_rank(lab, 2, "labels", "[batch_size, max_label_length]", fn)
            batch.add(_dim(lab, 0), "labels")
            aux = [lab]
            has_label_length = label_length is not None
            if has_label_length:
                aux.append(_lengths_tensor(label_length, "label_length", batch, fn))
        if logit_length is not None:
            aux.append(_lengths_tensor(logit_length, "logit_length", batch, fn))

        def host(xv: np.ndarray, *arrays: np.ndarray):
            try:
                return _host(
                    xv,
                    *arrays,
                    time_major=time_major,
                    blank=blank,
                    log_probs=lp,
                    has_label_length=has_label_length,
                    has_logit_length=logit_length is not None,
                    check_ragged=check_ragged,
                    num_threads=threads,
                    star_penalty=penalty,
                )
            except (ValueError, TypeError) as e:
                raise _HostError(f"{fn}: {e}") from None

        with tf.device("/CPU:0"):
            try:
                frames, scores, flat, rows = tf.numpy_function(
                    host,
                    [x, *aux],
                    [tf.int32, x.dtype, tf.int32, tf.int64],
                    stateful=False,
                    name="ctcc_forced_align",
                )
            except _HostError as e:  # eager execution: the same type as in graphs
                raise tf.errors.InvalidArgumentError(None, None, str(e)) from None
        time = _dim(x, 0) if time_major else _dim(x, 1)
        frames.set_shape([batch.size, time])
        scores.set_shape([batch.size])
        flat.set_shape([None, 2])
        rows.set_shape([batch.size])
        if out_dtype in _HALF_DTYPES:
            scores = tf.cast(scores, out_dtype)
        spans = tf.RaggedTensor.from_row_lengths(flat, rows, validate=False)
        return ctcc.Alignment(frames, scores, spans)
