"""Forced alignment: the most probable CTC path of known labels.

Arguments are checked and converted with the loss's helpers
(``ctcc._loss``), so both functions accept the same inputs and report
errors with the same messages.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from ctcc import _core
from ctcc._loss import (
    _INT32_MAX,
    ArrayLike,
    _as_int,
    _check_lengths,
    _check_logits,
    _normalise_labels,
)


class Alignment(NamedTuple):
    """The result of :func:`forced_align`.

    frames: int32 [N, T], the class the best path emits at each frame
        (batch-major whatever the input layout); -1 past the sample's
        length and on every frame of a sample without a path.
    scores: [N], the log-probability of each path, in the dtype of the
        logits: -inf when the labels cannot be aligned (too few frames, or
        probability 0), NaN when a valid frame holds NaN or +inf.
    spans: list of N int32 arrays [L_n, 2]: for each label of sample n, the
        first frame of the path on it and one past its last frame (-1, -1
        when the sample has no path).
    """

    frames: np.ndarray
    scores: np.ndarray
    spans: list[np.ndarray]


def forced_align(
    logits: ArrayLike,
    labels: Any,
    logit_lengths: ArrayLike | None = None,
    label_lengths: ArrayLike | None = None,
    *,
    blank: int = 0,
    time_major: bool = True,
    log_probs: bool = False,
    num_threads: int | None = None,
) -> Alignment:
    """Most probable CTC alignment (Viterbi path) of each sample's labels.

    Takes the arguments of :func:`ctcc.ctc_loss` (same shapes, label forms
    and conventions): ``logits`` [T, N, C] (``time_major``) or [N, T, C],
    float32 or float64, logits or log-probabilities (``log_probs``).
    Ties between equally probable paths go, at each frame, to staying in
    the same state, then to the previous state, and the path ends on the
    final blank rather than on the last label. Returns an
    :class:`Alignment` (frames, scores, spans).
    """
    arr, T, N, C = _check_logits(logits, time_major)
    dtype = arr.dtype

    blank = _as_int(blank, "blank")
    if not -C <= blank < C:
        raise ValueError(f"blank = {blank} is outside [-{C}, {C}) for an alphabet of {C} classes")
    blank_index = blank + C if blank < 0 else blank

    if num_threads is None:
        threads = 0
    else:
        threads = _as_int(num_threads, "num_threads")
        if not 0 <= threads <= _INT32_MAX:
            raise ValueError(
                f"num_threads must be in [0, {_INT32_MAX}] (0 = all available), got {threads}"
            )

    if logit_lengths is None:
        input_lengths = np.full(N, T, dtype=np.int32)
    else:
        input_lengths = _check_lengths(
            logit_lengths, "logit_lengths", N, T, "T, the time dimension of logits"
        )

    flat32, lengths = _normalise_labels(labels, label_lengths, N, C, blank_index)

    data = np.ascontiguousarray(arr)
    flat_inputs = data.reshape(-1) if data.size else np.zeros(1, dtype)
    frames = np.empty((N, T), np.int32)
    spans = np.empty((flat32.shape[0], 2), np.int32)
    scores = np.empty(N, dtype)
    _core.forced_align_raw(
        flat_inputs,
        frames.reshape(-1),
        spans.reshape(-1),
        scores,
        flat32,
        lengths,
        input_lengths,
        T,
        N,
        C,
        blank_index,
        threads,
        bool(log_probs),
        not time_major,
    )
    ends = np.cumsum(lengths.astype(np.int64))
    return Alignment(frames, scores, list(np.split(spans, ends[:-1])))
