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
    """The result of `ctcc.forced_align`: a named tuple (frames, scores, spans).

    Parameters
    ----------
    frames : numpy.ndarray of int32, shape [N, T]
        The class the best path emits at each frame, batch-major whatever
        the layout of the logits; -1 past the sample's length and on every
        frame of a sample without a path.
    scores : numpy.ndarray, shape [N]
        The log-probability of each path (the sum of its log-softmax values,
        or of the log-probabilities), in the dtype of the logits; at most
        ``-ctc_loss``. ``-inf`` when the labels cannot be aligned (too few
        frames, or probability 0), NaN when a valid frame holds NaN or
        ``+inf``.
    spans : list of numpy.ndarray of int32
        N arrays ``[L_n, 2]``: for label i of sample n, the first frame the
        path spends on it and one past its last frame; ``(-1, -1)`` when the
        sample has no path.

    See Also
    --------
    ctcc.forced_align : Computes it.

    Examples
    --------
    >>> import numpy as np
    >>> import ctcc
    >>> result = ctcc.forced_align(np.zeros((3, 1, 3)), [[1, 2]])
    >>> result.frames.shape, result.scores.shape, len(result.spans)
    ((1, 3), (1,), 1)
    >>> frames, scores, spans = result  # a tuple
    """

    frames: np.ndarray
    scores: np.ndarray
    spans: list[np.ndarray]


Alignment.frames.__doc__ = "int32 [N, T]: the class emitted at each frame, -1 past the length."
Alignment.scores.__doc__ = "[N]: the log-probability of each path (-inf without a path)."
Alignment.spans.__doc__ = "N int32 arrays [L_n, 2]: first frame and one past the last, per label."


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

    The same states and transitions as the loss, with a maximum in place of
    the sum, in double precision for float32 and float64 alike; the samples
    run in parallel (OpenMP) with the GIL released. Takes the arguments of
    `ctcc.ctc_loss`: the same shapes, label forms and conventions.

    Parameters
    ----------
    logits : array_like of float32 or float64
        ``[T, N, C]`` when `time_major`, else ``[N, T, C]``: unnormalised
        scores, or log-probabilities with ``log_probs=True``.
    labels : sequence of int sequences or array_like of int
        A list of N integer sequences, a padded 2-D integer array ``[N, S]``
        (lengths from `label_lengths` or the first negative entry), or a
        flat 1-D integer array with `label_lengths`, as in `ctcc.ctc_loss`.
    logit_lengths : array_like of int, shape [N], optional
        Frames of each sample, each in ``[0, T]``; default all T. Frames past
        it are never read.
    label_lengths : array_like of int, shape [N], optional
        Labels of each sample (see `ctcc.ctc_loss`).
    blank : int, default 0
        Index of the blank class, in ``[-C, C)``; negative values count from
        the end.
    time_major : bool, default True
        Layout of `logits`: ``[T, N, C]`` if True, ``[N, T, C]`` if False.
    log_probs : bool, default False
        True if `logits` already holds log-probabilities.
    num_threads : int, optional
        OpenMP threads of the C core; None or 0 uses every available thread.
        Results are bitwise identical for every thread count.

    Returns
    -------
    Alignment
        ``(frames, scores, spans)``: the class emitted at each frame
        (``[N, T]``, -1 past the length), the path's log-probability
        (``[N]``) and the ``[L_n, 2]`` frame span of each label; see
        `ctcc.Alignment`.

    Raises
    ------
    TypeError
        As `ctcc.ctc_loss`: a wrong dtype, a masked array, labels in no
        accepted form, or a scalar argument of the wrong type.
    ValueError
        As `ctcc.ctc_loss`: a wrong shape, a bad label or length, or `blank`
        out of range.

    See Also
    --------
    ctcc.ctc_loss : The loss sums over every alignment.

    Notes
    -----
    Ties between equally probable paths are broken deterministically: at
    each frame towards staying in the same state, then towards the previous
    state; at the last frame towards ending on the final blank rather than
    on the last label. A sample with too few frames for its labels (label
    count plus adjacent repeats), or with probability 0, gets score
    ``-inf`` and frames and spans -1; one with NaN or ``+inf`` on a valid
    frame gets score NaN. No labels: every frame is blank; no labels and no
    frames: score 0. Memory: one byte of back-pointer per state per frame,
    ``sum(logit_lengths[n] * (2 * label_lengths[n] + 1))`` bytes, plus two
    rows of doubles per sample.

    Examples
    --------
    >>> import numpy as np
    >>> import ctcc
    >>> probs = np.array([[0.1, 0.8, 0.1],
    ...                   [0.1, 0.8, 0.1],
    ...                   [0.8, 0.1, 0.1],
    ...                   [0.1, 0.1, 0.8]])  # [T, C]; the blank is class 0
    >>> result = ctcc.forced_align(np.log(probs)[:, None, :], [[1, 2]], log_probs=True)
    >>> result.frames
    array([[1, 1, 0, 2]], dtype=int32)
    >>> result.spans[0]
    array([[0, 2],
           [3, 4]], dtype=int32)
    >>> bool(np.isclose(result.scores[0], 4 * np.log(0.8)))
    True
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
