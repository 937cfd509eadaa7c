"""The CTC decoders for TensorFlow, on ctcc's C core.

One ``tf.numpy_function`` node pinned to the CPU calls ``ctcc.greedy_decode``
or ``ctcc.beam_search_decode`` (which check the arguments, then run the C
decoder with the GIL released); the variable-length results come back as
``tf.RaggedTensor``. The decoders have no gradient.

Argument errors that depend only on what is known when the graph is built
raise ``ValueError``/``TypeError`` at once; those that depend on values
(lengths out of range, a non-finite prior) raise
``tf.errors.InvalidArgumentError`` when the op runs.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf

import ctcc
from ctcc._checks import as_flag, as_int, as_num_threads, as_real, reject_masked
from ctcc.tensorflow._loss import (
    _HALF_DTYPES,
    _Batch,
    _check_blank,
    _check_lengths,
    _HostError,
    _in_xla_context,
    _lengths_tensor,
    _prepare_logits,
)

_GREEDY = "ctcc.tensorflow.greedy_decode"
_BEAM = "ctcc.tensorflow.beam_search_decode"


def _xla_error(fn: str) -> RuntimeError:
    return RuntimeError(
        f"{fn} cannot be compiled with XLA: ctcc's decoders run as C code on the host "
        "CPU through tf.numpy_function, which XLA cannot compile. Decode outside the "
        "jit_compile=True function."
    )


def _host_call(fn: str, body):
    """Wraps body so that argument errors surface as _HostError."""

    def host(*args: np.ndarray):
        try:
            return body(*args)
        except (ValueError, TypeError) as e:
            raise _HostError(f"{fn}: {e}") from None

    return host


def _run(fn: str, host, inputs: list[tf.Tensor], dtypes: list[tf.DType]) -> list[tf.Tensor]:
    with tf.device("/CPU:0"):
        try:
            return tf.numpy_function(host, inputs, dtypes, stateful=False, name="ctcc_decode")
        except _HostError as e:  # eager execution: the same type as in graphs
            raise tf.errors.InvalidArgumentError(None, None, str(e)) from None


def _frames(x: np.ndarray, lengths: np.ndarray, time_major: bool) -> np.ndarray:
    """logit_length checked with TensorFlow's argument name."""
    if x.ndim != 3:
        return lengths  # ctcc reports the shape of the logits
    T, N = (x.shape[0], x.shape[1]) if time_major else (x.shape[1], x.shape[0])
    return _check_lengths(lengths, "logit_length", N, T, "max_time, the frames in logits")


def _setup(logits, logit_length, logits_time_major, blank_index, num_threads, fn):
    blank = as_int(blank_index, "blank_index", fn)
    time_major = as_flag(logits_time_major, "logits_time_major", fn)
    threads = as_num_threads(num_threads, fn)
    x, n, classes = _prepare_logits(logits, time_major, fn)
    _check_blank(blank, classes, fn)
    batch = _Batch(fn)
    batch.add(n, "logits")
    aux = []
    if logit_length is not None:
        aux.append(_lengths_tensor(logit_length, "logit_length", batch, fn))
    if _in_xla_context():
        raise _xla_error(fn)
    compute = tf.cast(x, tf.float32) if x.dtype in _HALF_DTYPES else x
    return compute, x.dtype, aux, blank, time_major, threads, batch.size


def greedy_decode(
    logits: Any,
    logit_length: Any = None,
    logits_time_major: bool = True,
    blank_index: int = 0,
    name: str | None = None,
    *,
    num_threads: int | None = None,
) -> tf.RaggedTensor:
    """Best-path (greedy) CTC decoding into a ``tf.RaggedTensor``.

    The TensorFlow counterpart of `ctcc.greedy_decode`: the most probable
    class of each frame (ties to the lowest index), repeats merged, blanks
    removed. It runs on the host CPU (eagerly and in ``tf.function``, not
    under XLA) and has no gradient.

    Parameters
    ----------
    logits : tf.Tensor of float
        ``[max_time, batch_size, num_classes]`` (or batch-major if
        `logits_time_major` is False); float32, float64, float16 or
        bfloat16.
    logit_length : tf.Tensor of int, shape [batch_size], optional
        Frames of each sample; None means every frame.
    logits_time_major : bool, default True
        Layout of `logits`.
    blank_index : int, default 0
        The blank class; negative values count from the end (``-1`` is the
        last class, the blank of TensorFlow's decoders).
    name : str, optional
        A name scope for the op.
    num_threads : int, optional
        Keyword-only: OpenMP threads of the C core; None or 0 uses every
        available thread.

    Returns
    -------
    tf.RaggedTensor
        int64 ``[batch_size, None]``: the decoded labels of each sample.

    Raises
    ------
    ValueError
        At once: wrong ranks, disagreeing batch sizes, `blank_index` out of
        range.
    TypeError
        At once: non-float logits, non-integer lengths, a ``numpy.ma``
        array, or a scalar argument of the wrong type.
    RuntimeError
        When traced for XLA (``jit_compile=True``).
    tf.errors.InvalidArgumentError
        When the op runs: a length out of range.

    See Also
    --------
    ctcc.tensorflow.beam_search_decode : Prefix beam search.

    Examples
    --------
    >>> import tensorflow as tf
    >>> import ctcc.tensorflow
    >>> probs = tf.constant([[[0.1, 0.9]], [[0.1, 0.9]], [[0.9, 0.1]], [[0.1, 0.9]]])
    >>> ctcc.tensorflow.greedy_decode(tf.math.log(probs)).to_list()  # 1 1 - 1
    [[1, 1]]
    """
    fn = _GREEDY
    with tf.name_scope(name or "ctcc_greedy_decode"):
        x, _, aux, blank, time_major, threads, batch = _setup(
            logits, logit_length, logits_time_major, blank_index, num_threads, fn
        )
        has_length = logit_length is not None

        def body(xv: np.ndarray, *lengths: np.ndarray):
            decoded = ctcc.greedy_decode(
                xv,
                _frames(xv, lengths[0], time_major) if has_length else None,
                blank=blank,
                time_major=time_major,
                num_threads=threads,
            )
            rows = np.array([d.shape[0] for d in decoded], np.int64)
            return np.concatenate(decoded).astype(np.int64), rows

        values, rows = _run(fn, _host_call(fn, body), [x, *aux], [tf.int64, tf.int64])
        values.set_shape([None])
        rows.set_shape([batch])
        return tf.RaggedTensor.from_row_lengths(values, rows, validate=False)


def beam_search_decode(
    logits: Any,
    logit_length: Any = None,
    beam_width: int = 16,
    top_paths: int = 1,
    logits_time_major: bool = True,
    blank_index: int = 0,
    blank_penalty: float = 0.0,
    log_prior: Any = None,
    name: str | None = None,
    *,
    num_threads: int | None = None,
) -> tuple[tf.RaggedTensor, tf.Tensor]:
    """CTC prefix beam search into a ``tf.RaggedTensor`` of label sequences.

    The TensorFlow counterpart of `ctcc.beam_search_decode` (see it for the
    search and its exactness). It runs on the host CPU (eagerly and in
    ``tf.function``, not under XLA) and has no gradient.

    Parameters
    ----------
    logits : tf.Tensor of float
        ``[max_time, batch_size, num_classes]`` (or batch-major if
        `logits_time_major` is False); float32, float64, float16 or
        bfloat16.
    logit_length : tf.Tensor of int, shape [batch_size], optional
        Frames of each sample; None means every frame.
    beam_width : int, default 16
        Prefixes kept per frame, at least 1.
    top_paths : int, default 1
        Label sequences returned per sample, in ``[1, beam_width]``.
    logits_time_major : bool, default True
        Layout of `logits`.
    blank_index : int, default 0
        The blank class; negative values count from the end (``-1`` is the
        last class, as in ``tf.nn.ctc_beam_search_decoder``).
    blank_penalty : float, default 0.0
        Finite value subtracted from the blank's log-probability at every
        frame.
    log_prior : tf.Tensor of float, shape [num_classes], optional
        Finite values subtracted from the log-probabilities at every frame.
    name : str, optional
        A name scope for the op.
    num_threads : int, optional
        Keyword-only: OpenMP threads of the C core; None or 0 uses every
        available thread.

    Returns
    -------
    paths : tf.RaggedTensor
        int64 ``[batch_size, top_paths, None]``: the label sequences of each
        sample, best first; missing paths are empty.
    scores : tf.Tensor
        ``[batch_size, top_paths]`` in the dtype of `logits`: the log score
        of each path (the log-probability of the labelling when
        `blank_penalty` is 0 and `log_prior` is None), ``-inf`` for a missing
        path.

    Raises
    ------
    ValueError
        At once: `beam_width` or `top_paths` out of range, a non-finite
        `blank_penalty`, wrong ranks, `blank_index` out of range.
    TypeError
        At once: non-float logits, non-integer lengths, a ``numpy.ma``
        array, or a scalar argument of the wrong type.
    RuntimeError
        When traced for XLA (``jit_compile=True``).
    tf.errors.InvalidArgumentError
        When the op runs: a length out of range, a non-finite `log_prior`.

    See Also
    --------
    ctcc.beam_search_decode : The NumPy function.

    Examples
    --------
    >>> import numpy as np
    >>> import tensorflow as tf
    >>> import ctcc.tensorflow
    >>> paths, scores = ctcc.tensorflow.beam_search_decode(
    ...     tf.zeros([2, 1, 2]), beam_width=4, top_paths=2)
    >>> paths.to_list()
    [[[1], []]]
    >>> print(np.exp(scores.numpy()).round(4))
    [[0.75 0.25]]
    """
    fn = _BEAM
    width = as_int(beam_width, "beam_width", fn, low=1)
    k = as_int(top_paths, "top_paths", fn, low=1)
    if k > width:
        raise ValueError(f"{fn}: top_paths = {k} must be in [1, beam_width = {width}]")
    penalty = as_real(blank_penalty, "blank_penalty", fn)
    with tf.name_scope(name or "ctcc_beam_search_decode"):
        x, out_dtype, aux, blank, time_major, threads, batch = _setup(
            logits, logit_length, logits_time_major, blank_index, num_threads, fn
        )
        has_length = logit_length is not None
        has_prior = log_prior is not None
        if has_prior:
            reject_masked(log_prior, "log_prior", fn)
            prior = tf.convert_to_tensor(log_prior, name="log_prior")
            if not (prior.dtype.is_floating or prior.dtype.is_integer):
                raise TypeError(f"{fn}: log_prior must hold real numbers, got {prior.dtype.name}")
            aux = [*aux, tf.cast(prior, tf.float64)]

        def body(xv: np.ndarray, *rest: np.ndarray):
            paths, scores = ctcc.beam_search_decode(
                xv,
                _frames(xv, rest[0], time_major) if has_length else None,
                beam_width=width,
                top_paths=k,
                blank=blank,
                time_major=time_major,
                blank_penalty=penalty,
                log_prior=rest[-1] if has_prior else None,
                num_threads=threads,
            )
            flat = [p for sample in paths for p in sample]
            rows = np.array([p.shape[0] for p in flat], np.int64)
            return np.concatenate(flat).astype(np.int64), rows, scores

        values, rows, scores = _run(
            fn, _host_call(fn, body), [x, *aux], [tf.int64, tf.int64, x.dtype]
        )
        values.set_shape([None])
        rows.set_shape([None if batch is None else batch * k])
        scores.set_shape([batch, k])
        inner = tf.RaggedTensor.from_row_lengths(values, rows, validate=False)
        paths = tf.RaggedTensor.from_uniform_row_length(inner, k, validate=False)
        if out_dtype in _HALF_DTYPES:
            scores = tf.cast(scores, out_dtype)
        return paths, scores
