"""Forced alignment: the most probable CTC path of known labels.

Arguments are checked and converted with the loss's helpers
(``ctcc._loss``), so both functions accept the same inputs and report
errors with the same messages.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from ctcc import _core
from ctcc._checks import INT32_MAX, as_choice, as_flag, as_real, short
from ctcc._loss import ArrayLike, _check_blank, _check_logits, _normalise_labels, _prepare

STAR = -2
"""The star (wildcard) label of `ctcc.forced_align`: zero or more frames of
content the transcript lacks. C's ``CTCC_LABEL_STAR``."""

STAR_PENALTY = -2.0
"""Default `star_penalty` of `ctcc.forced_align` (C's
``CTCC_STAR_PENALTY_DEFAULT``)."""


def _is_int_array(value: Any) -> np.ndarray | None:
    """value as an integer ndarray, or None when it is not one (the label
    checks then report it)."""
    if isinstance(value, (str, bytes, dict, set)) or value is None or hasattr(value, "__next__"):
        return None
    try:
        arr = np.asarray(value)
    except (ValueError, TypeError):
        return None
    if arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.integer):
        return None
    return arr


def _split_stars(labels: Any, placeholder: int) -> tuple[Any, Any] | None:
    """(labels with every STAR replaced by `placeholder`, the same form with
    STAR -> 2, other entries >= 0 -> 1, negative entries kept), or None
    when `labels` holds no star. Both keep the form of `labels`, so the
    loss's label checks flatten them to the same positions."""

    def split(arr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        wide = arr.astype(np.int64)
        star = wide == STAR
        marks = np.where(star, 2, np.where(wide >= 0, 1, wide))
        return np.where(star, placeholder, wide), marks

    if isinstance(labels, (list, tuple)) or (
        isinstance(labels, np.ndarray) and labels.dtype == object and labels.ndim == 1
    ):
        rows = [_is_int_array(row) for row in labels]
        if not any(r is not None and r.ndim == 1 and (r == STAR).any() for r in rows):
            return None
        values, marks = [], []
        for row, arr in zip(labels, rows):
            if arr is None or arr.ndim != 1:
                values.append(row)  # reported by the label checks
                marks.append(row)
            else:
                v, m = split(arr)
                values.append(v)
                marks.append(m)
        return values, marks
    arr = _is_int_array(labels)
    if arr is None or not (arr == STAR).any():
        return None
    return split(arr)


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
    star_penalty: float = STAR_PENALTY,
    end_tie: str = "blank",
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
        (lengths from `label_lengths` or the first negative entry other
        than `ctcc.STAR`), or a flat 1-D integer array with
        `label_lengths`, as in `ctcc.ctc_loss`. Besides classes, a label
        may be `ctcc.STAR` (-2), the wildcard: see Notes.
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
        Results are bitwise identical for every thread count; with fewer
        samples than threads, each sample is split over the threads.
    star_penalty : float, default -2.0
        Cost of a content frame absorbed by a `ctcc.STAR`, relative to the
        frame's best class (a number <= 0, or ``-inf`` for a star that
        absorbs blank frames only). Changes nothing without stars.
    end_tie : {"blank", "label"}, default "blank"
        Where a path ends when ending on the final blank and ending on the
        last label score exactly the same: on the final blank, or on the
        last label as ``torchaudio.functional.forced_align`` does (what
        `ctcc.torch.forced_align` uses). Changes nothing without such a
        tie.

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
        out of range; a `star_penalty` that is NaN or positive; an
        `end_tie` other than "blank" or "label".

    See Also
    --------
    ctcc.ctc_loss : The loss sums over every alignment.

    Notes
    -----
    Ties between equally probable paths are broken deterministically: at
    each frame towards staying in the same state, then towards the previous
    state; at the last frame towards ending on the final blank rather than
    on the last label (the other way round with ``end_tie="label"``). A
    sample with too few frames for its labels (label count plus adjacent
    repeats), or with probability 0, gets score ``-inf`` and frames and
    spans -1; one with NaN or ``+inf`` on a valid frame gets score NaN. No
    labels: every frame is blank; no labels and no frames: score 0.

    The star, ``ctcc.STAR`` (-2, the C header's ``CTCC_LABEL_STAR``), stands
    for zero or more frames of content the transcript lacks (a missing
    word, noise, music), so that the other labels still align where they
    are. It takes the place of the optional blank between its neighbours:
    the path may spend zero or more frames there, and at each such frame
    it reads the better of ``log p(blank)`` (reported as the blank) and
    ``max_c log p(c) + star_penalty`` over all classes (reported as
    ``ctcc.STAR`` in `frames`); a tie reads as the blank. A content frame
    absorbed by the star thus costs exactly ``-star_penalty`` whatever the
    model's confidence, a label keeps its frames unless the model gives it
    less than ``exp(star_penalty)`` times the frame's best probability, and
    adding stars never lowers the score. The path may skip a star entirely
    unless the labels on both sides are equal (``[a, STAR, a]`` needs one
    frame between them, as ``[a, a]`` does); stars in a row act as one;
    a star at the start or end absorbs content before the first or after
    the last label; feasibility counts only the other labels. The span of
    a star runs from its first to one past its last frame read as star; a
    star without such frames (and every later star of a run) gets the
    empty span ``(e, e)``, ``e`` the end of the span before it (0 first).
    `ctcc.ctc_loss` rejects the star (it is outside the alphabet).

    Memory does not grow with ``T * (2L + 1)``: the Viterbi scores are
    kept every ``K = ceil(sqrt(T))`` frames and each segment's two-bit
    back-pointers are recomputed during the trace back, within the states
    that reach the segment's known end state: ``O(sqrt(T) * L)`` bytes per
    sample in flight (about 82 MB for T = 180000, L = 12000).

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

    A transcript missing its first word: the star absorbs it.

    >>> probs = np.full((6, 4), 0.02)
    >>> probs[np.arange(6), [3, 3, 0, 1, 0, 2]] = 0.94  # "3 _ 1 _ 2" spoken
    >>> result = ctcc.forced_align(np.log(probs)[:, None, :], [[ctcc.STAR, 1, 2]],
    ...                            log_probs=True)
    >>> result.frames
    array([[-2, -2,  0,  1,  0,  2]], dtype=int32)
    >>> result.spans[0]
    array([[0, 2],
           [3, 4],
           [5, 6]], dtype=int32)
    """
    time_major = as_flag(time_major, "time_major")
    log_probs = as_flag(log_probs, "log_probs")
    penalty = as_real(star_penalty, "star_penalty", finite=False)
    end_on_label = as_choice(end_tie, "end_tie", ("blank", "label")) == "label"
    if not penalty <= 0.0:
        raise ValueError(f"star_penalty must be a number <= 0 (or -inf), got {short(star_penalty)}")
    # Stars pass the loss's label checks as a placeholder class (not the
    # blank); the same checks over a copy of the labels' form marking the
    # stars find where they sit in the flat labels.
    _, _, N, C = _check_logits(logits, time_major)
    placeholder = (_check_blank(blank, C) + 1) % C
    parts = _split_stars(labels, placeholder)
    if parts is None:
        b = _prepare(logits, labels, logit_lengths, label_lengths, blank, time_major, num_threads)
    else:
        values, marks = parts
        if C == 1:  # only the blank: a star is the one possible label
            b = _prepare(logits, [[]] * N, logit_lengths, None, blank, time_major, num_threads)
            flat, lengths = _normalise_labels(values, label_lengths, N, INT32_MAX, -1)
        else:
            b = _prepare(
                logits, values, logit_lengths, label_lengths, blank, time_major, num_threads
            )
            flat, lengths = b.flat_labels, b.label_lengths
        star = _normalise_labels(marks, label_lengths, N, 3, 0)[0] == 2
        if C == 1 and not star.all():
            i = int(np.flatnonzero(~star)[0])
            raise ValueError(
                f"labels: entry {i} of the flattened labels holds {int(flat[i])}; with one "
                "class (the blank) only ctcc.STAR can be a label"
            )
        flat = np.where(star, STAR, flat).astype(np.int32)
        b = b._replace(flat_labels=flat, label_lengths=lengths.astype(np.int32))
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
        penalty,
        end_on_label,
    )
    ends = np.cumsum(b.label_lengths.astype(np.int64))
    return Alignment(frames, scores, list(np.split(spans, ends[:-1])))
