"""Token and word spans of an alignment for TensorFlow.

Thin wrappers: each converts its tensors, runs the NumPy function of ctcc
(``ctcc.token_spans``, ``ctcc.merge_tokens``, ``ctcc.word_spans``) in one
``tf.numpy_function`` pinned to the CPU, and returns the fields as tensors.
They work eagerly and in ``tf.function`` (not under XLA). Static problems
(types, ranks) raise ``TypeError``/``ValueError`` at once, problems in the
values ``tf.errors.InvalidArgumentError`` when the op runs.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf

import ctcc
from ctcc._checks import as_choice, as_flag, as_int, as_num_threads, describe
from ctcc.tensorflow._loss import (
    _HALF_DTYPES,
    _check_blank,
    _HostError,
    _in_xla_context,
    _prepare_logits,
    _to_tensor,
)

_SCORES = ("logprob", "posterior")


def _no_xla(fn: str) -> None:
    if _in_xla_context():
        raise RuntimeError(
            f"{fn} cannot be compiled with XLA (jit_compile=True): it runs as NumPy and C "
            "code on the host CPU through tf.numpy_function"
        )


def _call(fn: str, host: Any, inputs: list, dtypes: list, name: str) -> list:
    """tf.numpy_function(host, inputs) on the CPU, with host errors as
    InvalidArgumentError (eagerly too)."""

    def wrapped(*arrays):
        try:
            return host(*arrays)
        except (ValueError, TypeError) as e:
            raise _HostError(f"{fn}: {e}") from None

    with tf.device("/CPU:0"):
        try:
            return tf.numpy_function(wrapped, inputs, dtypes, stateful=False, name=name)
        except _HostError as e:  # eager execution: the same type as in graphs
            raise tf.errors.InvalidArgumentError(None, None, str(e)) from None


def _flat_spans(spans: Any, fn: str) -> tuple[tf.Tensor, tf.Tensor]:
    """(values [K, 2], row lengths [N]) of the spans of an alignment: a
    RaggedTensor [N, None, 2] or a list of [L_n, 2] arrays."""
    if isinstance(spans, tf.RaggedTensor):
        if spans.ragged_rank != 1:
            raise ValueError(
                f"{fn}: alignment.spans must be a RaggedTensor [batch_size, None, 2] "
                f"(ragged rank 1), got ragged rank {spans.ragged_rank}"
            )
        return tf.cast(spans.values, tf.int32), tf.cast(spans.row_lengths(), tf.int64)
    if isinstance(spans, (list, tuple)):
        arrays = [np.asarray(s) for s in spans]
        if any(a.ndim != 2 or a.shape[1] != 2 for a in arrays):
            raise ValueError(f"{fn}: alignment.spans must hold [L, 2] arrays, one per sample")
        flat = np.concatenate(arrays) if arrays else np.zeros((0, 2), np.int32)
        rows = np.array([a.shape[0] for a in arrays], np.int64)
        return tf.constant(flat.astype(np.int32).reshape(-1, 2)), tf.constant(rows)
    raise TypeError(
        f"{fn}: alignment.spans must be a tf.RaggedTensor [batch_size, None, 2] or a list of "
        f"arrays, got {describe(spans)}"
    )


def token_spans(
    alignment: Any,
    logits: Any,
    *,
    blank_index: int = 0,
    logits_time_major: bool = True,
    log_probs: bool = False,
    score: str = "logprob",
    num_threads: int | None = None,
) -> ctcc.TokenSpans:
    """Frame span and confidence of each label of a forced alignment.

    The TensorFlow counterpart of `ctcc.token_spans`, for the result of
    `ctcc.tensorflow.forced_align`; the fields come back as ragged tensors.

    Parameters
    ----------
    alignment : ctcc.Alignment
        The result of ``ctcc.tensorflow.forced_align(logits, ...)`` (or of
        `ctcc.forced_align`): `frames` ``[batch_size, frames]`` and `spans`
        ``[batch_size, None, 2]``.
    logits : tf.Tensor of float
        The logits that were aligned, ``[frames, batch_size, num_classes]``
        or ``[batch_size, frames, num_classes]`` if `logits_time_major` is
        False; float16 and bfloat16 are read in float32.
    blank_index : int, default 0
        Keyword-only: the blank class; negative values count from the end.
    logits_time_major : bool, default True
        Keyword-only: the layout of `logits`.
    log_probs : bool, default False
        Keyword-only: `logits` already holds log-probabilities.
    score : {'logprob', 'posterior'}, default 'logprob'
        Keyword-only: the confidence, the mean over each label's frames of
        its log-probability or of its CTC posterior (see
        `ctcc.token_spans`, which says which to use when).
    num_threads : int, optional
        Keyword-only: OpenMP threads of ``score='posterior'``; None or 0
        uses every available thread.

    Returns
    -------
    ctcc.TokenSpans
        ``(token, start, end, score)`` as ``tf.RaggedTensor``
        ``[batch_size, None]``: int32 label, first frame and one past the
        last frame of each label, and its float64 confidence (NaN for a
        `ctcc.STAR`; -1, -1, -1 and NaN on a sample without a path).

    Raises
    ------
    TypeError
        At once: non-float logits, an `alignment` that is not a ``(frames,
        scores, spans)`` triple, or a scalar argument of the wrong type.
    ValueError
        At once: wrong ranks, an unknown `score`, `blank_index` out of
        range.
    RuntimeError
        When traced for XLA (``jit_compile=True``).
    tf.errors.InvalidArgumentError
        When the op runs: an `alignment` that does not fit `logits` (see
        `ctcc.token_spans`).

    See Also
    --------
    ctcc.token_spans : The NumPy function, with the scores explained.
    ctcc.tensorflow.word_spans : Groups a sample's token spans into words.

    Examples
    --------
    >>> import numpy as np
    >>> import tensorflow as tf
    >>> import ctcc.tensorflow
    >>> probs = np.array([[0.1, 0.8, 0.1], [0.1, 0.8, 0.1], [0.8, 0.1, 0.1], [0.1, 0.1, 0.8]])
    >>> logits = tf.math.log(tf.constant(probs[:, None, :], tf.float32))
    >>> result = ctcc.tensorflow.forced_align(logits, tf.constant([[1, 2]]), log_probs=True)
    >>> spans = ctcc.tensorflow.token_spans(result, logits, log_probs=True)
    >>> spans.token.to_list(), spans.start.to_list(), spans.end.to_list()
    ([[1, 2]], [[0, 3]], [[2, 4]])
    >>> np.exp(spans.score.to_list()).round(3)
    array([[0.8, 0.8]])
    """
    fn = "ctcc.tensorflow.token_spans"
    blank = as_int(blank_index, "blank_index", fn)
    time_major = as_flag(logits_time_major, "logits_time_major", fn)
    lp = as_flag(log_probs, "log_probs", fn)
    kind = as_choice(score, "score", _SCORES, fn)
    threads = as_num_threads(num_threads, fn)
    _no_xla(fn)
    if not isinstance(alignment, tuple) or len(alignment) != 3:
        raise TypeError(
            f"{fn}: alignment must be the ctcc.Alignment (frames, scores, spans) of "
            f"ctcc.tensorflow.forced_align, got {describe(alignment)}"
        )
    with tf.name_scope("token_spans"):
        x, _, classes = _prepare_logits(logits, time_major, fn)
        _check_blank(blank, classes, fn)
        if x.dtype in _HALF_DTYPES:
            x = tf.cast(x, tf.float32)
        frames = _to_tensor(alignment[0], "alignment.frames", fn, integer=True)
        if frames.shape.rank is not None and frames.shape.rank != 2:
            raise ValueError(
                f"{fn}: alignment.frames must be a 2-D tensor [batch_size, frames], got shape "
                f"{frames.shape}"
            )
        values, rows = _flat_spans(alignment[2], fn)

        def host(xv, fv, sv, rv):
            spans = np.split(sv.reshape(-1, 2), np.cumsum(rv)[:-1]) if rv.size else []
            got = ctcc.token_spans(
                ctcc.Alignment(fv, None, spans),
                xv,
                blank=blank,
                time_major=time_major,
                log_probs=lp,
                score=kind,
                num_threads=threads,
            )
            cat = [np.concatenate([g[i] for g in got]) if got else np.zeros(0) for i in range(4)]
            lengths = np.array([g.token.shape[0] for g in got], np.int64)
            return (
                cat[0].astype(np.int32),
                cat[1].astype(np.int32),
                cat[2].astype(np.int32),
                cat[3].astype(np.float64),
                lengths,
            )

        token, start, end, conf, lengths = _call(
            fn,
            host,
            [x, tf.cast(frames, tf.int32), values, rows],
            [tf.int32, tf.int32, tf.int32, tf.float64, tf.int64],
            "ctcc_token_spans",
        )
        fields = []
        for t in (token, start, end, conf):
            t.set_shape([None])
            fields.append(tf.RaggedTensor.from_row_lengths(t, lengths, validate=False))
        return ctcc.TokenSpans(*fields)


def merge_tokens(tokens: Any, scores: Any, blank_index: int = 0) -> ctcc.TokenSpans:
    """Token spans of one sample's frame-level path: runs of a class, blanks dropped.

    The TensorFlow counterpart of `ctcc.merge_tokens` (torchaudio's
    ``merge_tokens``): each maximal run of equal, non-blank tokens becomes a
    span scored with the mean of `scores` over it.

    Parameters
    ----------
    tokens : tf.Tensor of int, shape [frames]
        One sample's path, e.g. a row of the frames of
        `ctcc.tensorflow.forced_align`; negative entries (the -1 past the
        length, `ctcc.STAR` frames) are dropped like blanks.
    scores : tf.Tensor of float, shape [frames]
        A score per frame (log-probabilities, probabilities, ...).
    blank_index : int, default 0
        The blank class (its index, at least 0), dropped.

    Returns
    -------
    ctcc.TokenSpans
        ``(token, start, end, score)`` as 1-D tensors: int32 class, first
        frame and one past the last frame of each run, and the float64 mean
        of `scores` over it.

    Raises
    ------
    TypeError
        At once: non-integer `tokens`, non-float `scores`, a non-integer
        `blank_index`.
    ValueError
        At once: `tokens` or `scores` not 1-D, or a negative `blank_index`.
    RuntimeError
        When traced for XLA (``jit_compile=True``).
    tf.errors.InvalidArgumentError
        When the op runs: `tokens` and `scores` of different lengths.

    See Also
    --------
    ctcc.merge_tokens : The NumPy function.

    Examples
    --------
    >>> import tensorflow as tf
    >>> import ctcc.tensorflow
    >>> spans = ctcc.tensorflow.merge_tokens(tf.constant([0, 3, 3, 0, 5]),
    ...                                      tf.constant([0.0, -1.0, -3.0, 0.0, -2.0]))
    >>> [field.numpy().tolist() for field in spans]  # token, start, end, score
    [[3, 5], [1, 4], [3, 5], [-2.0, -2.0]]
    """
    fn = "ctcc.tensorflow.merge_tokens"
    blank = as_int(blank_index, "blank_index", fn, low=0)
    _no_xla(fn)
    t = _to_tensor(tokens, "tokens", fn, integer=True)
    s = _to_tensor(scores, "scores", fn, integer=False)
    if not s.dtype.is_floating:
        raise TypeError(f"{fn}: scores must be a float tensor, got dtype {s.dtype.name}")
    for name, v in (("tokens", t), ("scores", s)):
        if v.shape.rank is not None and v.shape.rank != 1:
            raise ValueError(f"{fn}: {name} must be 1-D (one sample's frames), got shape {v.shape}")
    if s.dtype in _HALF_DTYPES:
        s = tf.cast(s, tf.float32)

    def host(tv, sv):
        got = ctcc.merge_tokens(tv, sv, blank=blank)
        return tuple(got[:3]) + (got.score.astype(np.float64),)

    out = _call(
        fn,
        host,
        [tf.cast(t, tf.int64), s],
        [tf.int32, tf.int32, tf.int32, tf.float64],
        "ctcc_merge_tokens",
    )
    for v in out:
        v.set_shape([None])
    return ctcc.TokenSpans(*out)


def word_spans(
    token_spans: Any,
    *,
    separator: int | Any | None = None,
    word_lengths: Any = None,
) -> ctcc.WordSpans:
    """Groups one sample's token spans into words, by separator or by length.

    The TensorFlow counterpart of `ctcc.word_spans`.

    Parameters
    ----------
    token_spans : ctcc.TokenSpans
        One sample's token spans as 1-D tensors or arrays, e.g.
        ``ctcc.TokenSpans(*(field[n] for field in spans))`` of the ragged
        result of `ctcc.tensorflow.token_spans`, or a
        `ctcc.tensorflow.merge_tokens` result.
    separator : int or sequence of int, optional
        Keyword-only: the class (or classes) between words.
    word_lengths : tf.Tensor of int, shape [words], optional
        Keyword-only: tokens per word, each at least 1, adding up to the
        number of tokens.

    Returns
    -------
    ctcc.WordSpans
        ``(start, end, score, token_start, token_end)`` as 1-D tensors (int32,
        int32, float64, int32, int32); see `ctcc.word_spans`.

    Raises
    ------
    TypeError
        At once: `token_spans` not a 4-field ``TokenSpans``, a non-integer
        `separator` or `word_lengths`.
    ValueError
        At once: both or neither of `separator` and `word_lengths`.
    RuntimeError
        When traced for XLA (``jit_compile=True``).
    tf.errors.InvalidArgumentError
        When the op runs: fields of different lengths, a word length below
        1, or word lengths that do not add up to the number of tokens.

    See Also
    --------
    ctcc.word_spans : The NumPy function, with the score explained.

    Examples
    --------
    >>> import numpy as np
    >>> import tensorflow as tf
    >>> import ctcc.tensorflow
    >>> path = tf.constant([0, 5, 5, 0, 1, 0, 6, 0, 7, 7, 7])  # 1 separates words
    >>> spans = ctcc.tensorflow.merge_tokens(path, tf.fill([11], -0.5))
    >>> words = ctcc.tensorflow.word_spans(spans, separator=1)
    >>> words.start.numpy().tolist(), words.end.numpy().tolist(), words.score.numpy().tolist()
    ([1, 6], [3, 11], [-0.5, -0.5])
    """
    fn = "ctcc.tensorflow.word_spans"
    _no_xla(fn)
    if (separator is None) == (word_lengths is None):
        raise ValueError(f"{fn}: give exactly one of separator and word_lengths")
    if not isinstance(token_spans, tuple) or len(token_spans) != 4:
        raise TypeError(
            f"{fn}: token_spans must be a ctcc.TokenSpans (token, start, end, score) of one "
            f"sample, got {describe(token_spans)}"
        )
    names = ("token", "start", "end", "score")
    fields = []
    for name, v in zip(names, token_spans):
        t = _to_tensor(v, f"token_spans.{name}", fn, integer=name != "score")
        if t.shape.rank is not None and t.shape.rank != 1:
            raise ValueError(f"{fn}: token_spans.{name} must be 1-D, got shape {t.shape}")
        fields.append(tf.cast(t, tf.float64 if name == "score" else tf.int64))
    seps = None
    if separator is not None:
        if isinstance(separator, (bool, np.bool_)):
            raise TypeError(f"{fn}: separator must be an integer class, got {separator!r}")
        seps = np.atleast_1d(np.asarray(separator))
        if seps.dtype.kind not in "iu" or seps.ndim != 1:
            raise TypeError(
                f"{fn}: separator must be an integer class or a sequence of them, got "
                f"{describe(separator)}"
            )
    extra = []
    if word_lengths is not None:
        wl = _to_tensor(word_lengths, "word_lengths", fn, integer=True)
        if wl.shape.rank is not None and wl.shape.rank != 1:
            raise ValueError(f"{fn}: word_lengths must be 1-D, got shape {wl.shape}")
        extra = [tf.cast(wl, tf.int64)]

    def host(tok, st, en, sc, *rest):
        got = ctcc.word_spans(
            ctcc.TokenSpans(tok, st, en, sc),
            separator=None if seps is None else seps.tolist(),
            word_lengths=rest[0] if rest else None,
        )
        return tuple(f.astype(np.float64 if i == 2 else np.int32) for i, f in enumerate(got))

    out = _call(
        fn,
        host,
        fields + extra,
        [tf.int32, tf.int32, tf.float64, tf.int32, tf.int32],
        "ctcc_word_spans",
    )
    for v in out:
        v.set_shape([None])
    return ctcc.WordSpans(*out)
