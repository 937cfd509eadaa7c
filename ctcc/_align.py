"""Forced alignment: the most probable CTC path of known labels.

Arguments are checked and converted with the loss's helpers
(``ctcc._loss``), so both functions accept the same inputs and report
errors with the same messages.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from ctcc import _core
from ctcc._checks import as_flag
from ctcc._loss import ArrayLike, _prepare


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
    time_major = as_flag(time_major, "time_major")
    log_probs = as_flag(log_probs, "log_probs")
    b = _prepare(logits, labels, logit_lengths, label_lengths, blank, time_major, num_threads)
    T, N, C = b.T, b.N, b.C
    frames = np.empty((N, T), np.int32)
    spans = np.empty((b.flat_labels.shape[0], 2), np.int32)
    scores = np.empty(N, b.data.dtype)
    _core.forced_align_raw(
        b.flat_inputs,
        frames.reshape(-1),
        spans.reshape(-1),
        scores,
        b.flat_labels,
        b.label_lengths,
        b.input_lengths,
        T,
        N,
        C,
        b.blank,
        b.threads,
        log_probs,
        not time_major,
    )
    ends = np.cumsum(b.label_lengths.astype(np.int64))
    return Alignment(frames, scores, list(np.split(spans, ends[:-1])))
