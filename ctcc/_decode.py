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

    Takes the most probable class at each of a sample's ``logit_lengths``
    frames (the lowest class index among equal ones), merges repeats and
    drops blanks. ``logits`` is ``[T, N, C]`` (``[N, T, C]`` when
    ``time_major`` is False), float32 or float64, logits or (with
    ``log_probs=True``) log-probabilities. Returns a list of N int32
    arrays, the decoded labels of each sample.
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
    """CTC prefix beam search.

    Keeps the ``beam_width`` most probable label prefixes at each frame
    (probability summed over all their alignments) and returns the
    ``top_paths`` best label sequences of each sample, best first.

    ``blank_penalty`` is subtracted from the blank's log-probability at
    every frame (> 0 favours emitting labels); ``log_prior`` (``[C]``,
    finite) is subtracted from every class's log-probability at every frame
    (pass ``weight * log(prior)`` for prior-normalised decoding).

    Returns ``(paths, scores)``: ``paths[n][j]`` is the j-th best label
    sequence of sample n (int32), ``scores[n, j]`` its log score (its
    log-probability when ``blank_penalty`` is 0 and ``log_prior`` is None),
    an array ``[N, top_paths]`` in the dtype of ``logits``. When fewer than
    ``top_paths`` distinct labellings exist, the missing ones are empty
    with score ``-inf``. The search is exact when ``beam_width`` is at
    least the number of distinct prefixes.
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
