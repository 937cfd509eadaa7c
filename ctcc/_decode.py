"""The public CTC decoders: argument checks and conversions.

As in ``ctcc._loss``, everything a user can get wrong is checked here with a
message naming the argument and the value, before the C core (which checks
again) runs.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ctcc import _core
from ctcc._checks import INT32_MAX, as_flag, as_int, as_real
from ctcc._loss import (
    ArrayLike,
    _as_array,
    _check_blank,
    _check_lengths,
    _check_logits,
    _check_threads,
)


def _common(
    logits: ArrayLike,
    logit_lengths: ArrayLike | None,
    blank: Any,
    time_major: bool,
    num_threads: Any,
) -> tuple[np.ndarray, int, int, int, int, int, np.ndarray]:
    """(flat C-contiguous inputs, T, N, C, blank index, threads, int32
    input lengths) after the checks the two decoders share."""
    arr, T, N, C = _check_logits(logits, time_major)
    blank_index = _check_blank(blank, C)
    threads = _check_threads(num_threads)
    if logit_lengths is None:
        lengths = np.full(N, T, dtype=np.int32)
    else:
        lengths = _check_lengths(
            logit_lengths, "logit_lengths", N, T, "T, the time dimension of logits"
        )
    data = np.ascontiguousarray(arr)
    flat = data.reshape(-1) if data.size else np.zeros(1, data.dtype)
    return flat, T, N, C, blank_index, threads, lengths


def greedy_decode(
    logits: ArrayLike,
    logit_lengths: ArrayLike | None = None,
    *,
    blank: int = 0,
    time_major: bool = True,
    log_probs: bool = False,
    num_threads: int | None = None,
) -> list[np.ndarray]:
    """Best-path (greedy) CTC decoding.

    Takes the most probable class at each of a sample's frames (the lowest
    class index among equal ones), merges repeats and drops blanks.

    Parameters
    ----------
    logits : array_like of float32 or float64
        ``[T, N, C]`` when `time_major`, else ``[N, T, C]``: unnormalised
        scores, or log-probabilities with ``log_probs=True`` (the decoded
        labels are the same either way).
    logit_lengths : array_like of int, shape [N], optional
        Frames of each sample, each in ``[0, T]``; default all T. Frames past
        it are never read.
    blank : int, default 0
        Index of the blank class, in ``[-C, C)``; negative values count from
        the end (``-1`` is the last class, the blank of TensorFlow's
        decoders).
    time_major : bool, default True
        Layout of `logits`: ``[T, N, C]`` if True, ``[N, T, C]`` if False.
    log_probs : bool, default False
        True if `logits` already holds log-probabilities.
    num_threads : int, optional
        OpenMP threads of the C core; None or 0 uses every available thread.
        Results are bitwise identical for every thread count.

    Returns
    -------
    list of numpy.ndarray
        N int32 arrays, the decoded labels of each sample. A sample with NaN
        or ``+inf`` on a valid frame decodes to an empty array.

    Raises
    ------
    TypeError
        If `logits` is not float32 or float64, `logit_lengths` does not hold
        integers, an array is a ``numpy.ma.MaskedArray``, or a scalar
        argument has the wrong type.
    ValueError
        If a shape is wrong, a length is outside ``[0, T]``, or `blank` is
        outside ``[-C, C)``.

    See Also
    --------
    ctcc.beam_search_decode : Prefix beam search.

    Notes
    -----
    ``tf.nn.ctc_greedy_decoder`` returns the same labels (with the blank as
    the last class: pass ``blank=-1``).

    Examples
    --------
    >>> import numpy as np
    >>> import ctcc
    >>> probs = np.array([[0.1, 0.9],
    ...                   [0.1, 0.9],
    ...                   [0.9, 0.1],
    ...                   [0.1, 0.9]])  # [T, C]: 1 1 - 1
    >>> decoded = ctcc.greedy_decode(np.log(probs)[:, None, :])
    >>> [d.tolist() for d in decoded]
    [[1, 1]]
    """
    time_major = as_flag(time_major, "time_major")
    log_probs = as_flag(log_probs, "log_probs")
    flat, T, N, C, blank_index, threads, lengths = _common(
        logits, logit_lengths, blank, time_major, num_threads
    )
    decoded = np.empty(max(N * T, 1), np.int32)
    decoded_lengths = np.empty(N, np.int32)
    scores = np.empty(0, flat.dtype)  # not returned: skip the normaliser
    _core.greedy_decode_raw(
        flat,
        lengths,
        decoded,
        decoded_lengths,
        scores,
        T,
        N,
        C,
        blank_index,
        threads,
        log_probs,
        not time_major,
    )
    rows = decoded[: N * T].reshape(N, T)
    return [rows[n, : decoded_lengths[n]].copy() for n in range(N)]


def beam_search_decode(
    logits: ArrayLike,
    logit_lengths: ArrayLike | None = None,
    *,
    beam_width: int = 16,
    top_paths: int = 1,
    blank: int = 0,
    time_major: bool = True,
    log_probs: bool = False,
    blank_penalty: float = 0.0,
    log_prior: ArrayLike | None = None,
    num_threads: int | None = None,
) -> tuple[list[list[np.ndarray]], np.ndarray]:
    """CTC prefix beam search: the most probable label sequences of each sample.

    Keeps the `beam_width` most probable label prefixes at each frame, each
    with the probability of all its alignments (blank-ending and
    label-ending kept apart, identical prefixes merged), in double precision
    for both dtypes, and returns the `top_paths` best label sequences of each
    sample, best first.

    Parameters
    ----------
    logits : array_like of float32 or float64
        ``[T, N, C]`` when `time_major`, else ``[N, T, C]``: unnormalised
        scores, or log-probabilities with ``log_probs=True``.
    logit_lengths : array_like of int, shape [N], optional
        Frames of each sample, each in ``[0, T]``; default all T.
    beam_width : int, default 16
        Prefixes kept per frame, at least 1 (and ``T * beam_width + 1`` at
        most ``2**31 - 1``).
    top_paths : int, default 1
        Label sequences returned per sample, in ``[1, beam_width]``.
    blank : int, default 0
        Index of the blank class, in ``[-C, C)``; negative values count from
        the end.
    time_major : bool, default True
        Layout of `logits`: ``[T, N, C]`` if True, ``[N, T, C]`` if False.
    log_probs : bool, default False
        True if `logits` already holds log-probabilities.
    blank_penalty : float, default 0.0
        Finite value subtracted from the blank's log-probability at every
        frame (> 0 favours emitting labels).
    log_prior : array_like of float, shape [C], optional
        Finite values subtracted from every class's log-probability at every
        frame (pass ``weight * log(prior)`` for prior-normalised decoding).
    num_threads : int, optional
        OpenMP threads of the C core; None or 0 uses every available thread.
        Results are bitwise identical for every thread count.

    Returns
    -------
    paths : list of list of numpy.ndarray
        ``paths[n][j]`` is the j-th best label sequence of sample n (int32).
        When fewer than `top_paths` distinct labellings exist, the missing
        ones are empty; a sample with NaN or ``+inf`` on a valid frame gets
        empty paths.
    scores : numpy.ndarray, shape [N, top_paths]
        The log score of each path, in the dtype of `logits`: the
        log-probability of the labelling summed over the alignments that
        stayed in the beam (with `blank_penalty` 0 and no `log_prior`);
        ``-inf`` for a missing path, NaN for a sample with NaN or ``+inf``.

    Raises
    ------
    TypeError
        If `logits` is not float32 or float64, `logit_lengths` does not hold
        integers, `log_prior` does not hold real numbers, an array is a
        ``numpy.ma.MaskedArray``, or a scalar argument has the wrong type.
    ValueError
        If a shape is wrong, a length or `blank` is out of range,
        `beam_width` or `top_paths` is out of range, or `blank_penalty` or
        `log_prior` is not finite.

    See Also
    --------
    ctcc.greedy_decode : Best-path decoding.

    Notes
    -----
    With `beam_width` at least the number of distinct prefixes (at most
    ``sum((C - 1)**k for k <= T)``) the search is exact: the true most
    probable labellings, each scored ``log p(labelling) = -ctc_loss``.
    Narrower beams lose the alignments of pruned prefixes, so their scores
    are lower bounds. Only the ``beam_width + 1`` best classes of a frame
    are tried as extensions, which cannot change the result, so large
    alphabets are cheap. `blank_penalty` and `log_prior` act exactly as
    decoding the shifted log-probabilities.

    Unlike ``tf.nn.ctc_beam_search_decoder`` (whose blank is the last class:
    pass ``blank=-1``), fewer than `top_paths` labellings is not an error:
    the missing paths are padded.

    Examples
    --------
    >>> import numpy as np
    >>> import ctcc

    Two uniform frames over the blank and one label: ``[1]`` has
    probability 3/4 (``1 1``, ``1 -``, ``- 1``), the empty labelling 1/4.

    >>> paths, scores = ctcc.beam_search_decode(np.zeros((2, 1, 2)), beam_width=4, top_paths=2)
    >>> [p.tolist() for p in paths[0]]
    [[1], []]
    >>> np.exp(scores).round(4)
    array([[0.75, 0.25]])
    """
    time_major = as_flag(time_major, "time_major")
    log_probs = as_flag(log_probs, "log_probs")
    flat, T, N, C, blank_index, threads, lengths = _common(
        logits, logit_lengths, blank, time_major, num_threads
    )
    width = as_int(beam_width, "beam_width", low=1, high=INT32_MAX)
    paths_wanted = as_int(top_paths, "top_paths", low=1, high=INT32_MAX)
    if paths_wanted > width:
        raise ValueError(
            f"top_paths = {paths_wanted} must not exceed beam_width = {width} "
            "(the beam holds at most beam_width prefixes)"
        )
    if T * width + 1 > INT32_MAX:
        raise ValueError(
            f"beam_width = {width} is too large for T = {T} frames: T * beam_width + 1 "
            f"must not exceed {INT32_MAX}"
        )
    penalty = as_real(blank_penalty, "blank_penalty")
    if log_prior is None:
        prior = np.zeros(0, np.float64)
    else:
        p = _as_array(log_prior, "log_prior")
        if p.dtype == np.bool_ or not (
            np.issubdtype(p.dtype, np.floating) or np.issubdtype(p.dtype, np.integer)
        ):
            raise TypeError(f"log_prior must hold real numbers, got dtype {p.dtype}")
        if p.shape != (C,):
            raise ValueError(
                f"log_prior must have shape ({C},), one value per class, got shape {p.shape}"
            )
        prior = np.ascontiguousarray(p, dtype=np.float64)
        bad = np.flatnonzero(~np.isfinite(prior))
        if bad.size:
            i = int(bad[0])
            raise ValueError(f"log_prior[{i}] = {prior[i]} is not finite")

    K = paths_wanted
    out = np.empty(max(N * K * T, 1), np.int32)
    out_lengths = np.empty(N * K, np.int32)
    scores = np.empty(N * K, flat.dtype)
    _core.beam_search_decode_raw(
        flat,
        lengths,
        out,
        out_lengths,
        scores,
        prior,
        T,
        N,
        C,
        width,
        K,
        penalty,
        blank_index,
        threads,
        log_probs,
        not time_major,
    )
    rows = out[: N * K * T].reshape(N, K, T)
    out_lengths = out_lengths.reshape(N, K)
    paths = [[rows[n, j, : out_lengths[n, j]].copy() for j in range(K)] for n in range(N)]
    return paths, scores.reshape(N, K)
