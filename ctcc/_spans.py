"""Token and word spans of an alignment, with a confidence score for each.

Everything here works on the output of `ctcc.forced_align` (or on any
frame-level path): no dynamic programme of its own. ``token_spans`` scores
each label of the path (the mean log-probability of its frames, or their
mean CTC posterior from the loss's forward-backward), ``merge_tokens`` is
torchaudio's ``merge_tokens`` on NumPy arrays, and ``word_spans`` groups
token spans into words.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from ctcc._align import STAR
from ctcc._checks import INT32_MAX, as_choice, as_flag, as_int, describe, reject_masked
from ctcc._loss import ArrayLike, _check_blank, _check_logits, _check_threads, ctc_posteriors

_SCORES = ("logprob", "posterior")
# Rows of logits normalised at once by the log-softmax of "logprob" scores,
# so that the float64 temporaries stay small whatever the alphabet size.
_CHUNK_ELEMENTS = 1 << 22


class TokenSpans(NamedTuple):
    """Token spans of one sample: a named tuple of equally long arrays.

    Returned by `ctcc.token_spans` (one per sample) and `ctcc.merge_tokens`.
    Token ``i`` occupies frames ``start[i]`` to ``end[i] - 1``.

    Parameters
    ----------
    token : numpy.ndarray of int32, shape [K]
        The class of each token (its label).
    start : numpy.ndarray of int32, shape [K]
        The first frame of each token; -1 for a sample without a path.
    end : numpy.ndarray of int32, shape [K]
        One past the last frame of each token (end exclusive, as in
        `ctcc.Alignment.spans`); -1 for a sample without a path.
    score : numpy.ndarray of float64, shape [K]
        The confidence of each token (see `ctcc.token_spans`); NaN for a
        token without frames or a sample without a path.

    See Also
    --------
    ctcc.token_spans : Token spans of an alignment, with confidences.
    ctcc.word_spans : Groups token spans into words.

    Examples
    --------
    >>> import numpy as np
    >>> import ctcc
    >>> spans = ctcc.merge_tokens(np.array([0, 3, 3, 0, 5]), np.array([0.0, -1, -3, 0, -2]))
    >>> spans.token.tolist(), spans.start.tolist(), spans.end.tolist(), spans.score.tolist()
    ([3, 5], [1, 4], [3, 5], [-2.0, -2.0])
    >>> len(spans.token)
    2
    """

    token: np.ndarray
    start: np.ndarray
    end: np.ndarray
    score: np.ndarray


class WordSpans(NamedTuple):
    """Word spans of one sample: a named tuple of equally long arrays.

    Returned by `ctcc.word_spans`. Word ``w`` is made of the tokens
    ``token_start[w]`` to ``token_end[w] - 1`` of the token spans it was
    grouped from, and occupies frames ``start[w]`` to ``end[w] - 1``.

    Parameters
    ----------
    start : numpy.ndarray of int32, shape [W]
        The first frame of the word's first token; -1 without a path.
    end : numpy.ndarray of int32, shape [W]
        One past the last frame of the word's last token (end exclusive);
        -1 without a path.
    score : numpy.ndarray of float64, shape [W]
        The mean of the word's token scores weighted by their frame counts
        (see `ctcc.word_spans`); NaN when its tokens have no frames.
    token_start : numpy.ndarray of int32, shape [W]
        Index of the word's first token in the token spans.
    token_end : numpy.ndarray of int32, shape [W]
        One past the index of the word's last token.

    See Also
    --------
    ctcc.word_spans : Computes them.

    Examples
    --------
    >>> import numpy as np
    >>> import ctcc
    >>> tokens = ctcc.TokenSpans(np.array([3, 4, 5]), np.array([0, 2, 6]),
    ...                          np.array([1, 4, 7]), np.array([-0.5, -0.2, -1.0]))
    >>> words = ctcc.word_spans(tokens, word_lengths=[2, 1])
    >>> [f.tolist() for f in (words.start, words.end, words.token_start, words.token_end)]
    [[0, 6], [4, 7], [0, 2], [2, 3]]
    >>> words.score.round(3)
    array([-0.3, -1. ])
    """

    start: np.ndarray
    end: np.ndarray
    score: np.ndarray
    token_start: np.ndarray
    token_end: np.ndarray


# --------------------------------------------------------------------------
# Helpers


def _span_means(values: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Mean of ``values[start[i]:end[i]]`` for each i, in float64; NaN for
    an empty span. ``values`` is 1-D float64. Each span's sum is its own
    (``np.add.reduceat`` at the interleaved bounds), so a NaN or an infinity
    reaches only the spans that hold it, as in a direct mean."""
    out = np.full(start.shape[0], np.nan)
    nonempty = end.astype(np.int64) > start.astype(np.int64)
    if not nonempty.any():
        return out
    s, e = start[nonempty].astype(np.int64), end[nonempty].astype(np.int64)
    bounds = np.ravel(np.column_stack((s, e)))

    def sums(x: np.ndarray) -> np.ndarray:
        # a trailing 0 so that an end may equal len(values); the odd
        # entries (from one span's end to the next span's start) are dropped
        return np.add.reduceat(np.append(x, 0), bounds)[::2]

    finite = np.isfinite(values)
    if finite.all():
        out[nonempty] = sums(values) / (e - s)
        return out
    means = sums(np.where(finite, values, 0.0)) / (e - s)
    nan = sums(np.isnan(values).astype(np.int64)) > 0
    low = sums((values == -np.inf).astype(np.int64)) > 0
    high = sums((values == np.inf).astype(np.int64)) > 0
    means = np.where(low, -np.inf, means)
    means = np.where(high, np.inf, means)
    means = np.where(nan | (low & high), np.nan, means)
    out[nonempty] = means
    return out


def _frame_logprobs(x: np.ndarray, frames: np.ndarray, log_probs: bool) -> np.ndarray:
    """float64 log-probability of ``frames[t]`` at each row t of ``x``
    ``[K, C]`` (a log-softmax over C unless ``log_probs``)."""
    picked = np.take_along_axis(x, frames[:, None].astype(np.intp), axis=1)[:, 0]
    picked = picked.astype(np.float64)
    if log_probs or x.shape[0] == 0:
        return picked
    rows = max(1, _CHUNK_ELEMENTS // max(1, x.shape[1]))
    lse = np.empty(x.shape[0])
    for a in range(0, x.shape[0], rows):
        block = x[a : a + rows].astype(np.float64)
        top = block.max(axis=1)
        top[~np.isfinite(top)] = 0.0  # all -inf rows: lse -inf; +inf/NaN stay
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            lse[a : a + rows] = top + np.log(np.exp(block - top[:, None]).sum(axis=1))
    with np.errstate(invalid="ignore"):
        return picked - lse


def _check_alignment(alignment: Any, N: int, T: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """(frames [N, T], list of N spans [L_n, 2]) of an Alignment-like
    triple, checked against the logits' N and T."""
    if not isinstance(alignment, tuple) or len(alignment) != 3:
        raise TypeError(
            "alignment must be the ctcc.Alignment (frames, scores, spans) that "
            f"ctcc.forced_align returned for these logits, got {describe(alignment)}"
        )
    reject_masked(alignment[0], "alignment.frames")
    frames = np.asarray(alignment[0])
    if frames.shape != (N, T) or frames.dtype.kind not in "iu":
        raise ValueError(
            f"alignment.frames must be an integer array [N, T] = [{N}, {T}] (the logits' "
            f"batch and frames), got {frames.dtype} of shape {frames.shape}: pass the result "
            "of ctcc.forced_align for the same logits"
        )
    spans = alignment[2]
    if not isinstance(spans, (list, tuple)) or len(spans) != N:
        raise ValueError(f"alignment.spans must be a list of N = {N} arrays, got {describe(spans)}")
    out = []
    for n in range(N):
        reject_masked(spans[n], f"alignment.spans[{n}]")
        s = np.asarray(spans[n])
        if s.ndim != 2 or s.shape[1] != 2 or (s.dtype.kind not in "iu" and s.size):
            raise ValueError(
                f"alignment.spans[{n}] must be an integer array [L, 2], got {s.dtype} of "
                f"shape {s.shape}"
            )
        out.append(s.astype(np.int64))
    return frames.astype(np.int64), out


def _sample_tokens(
    n: int, path: np.ndarray, spans: np.ndarray, C: int, blank: int
) -> tuple[int, np.ndarray | None]:
    """(frames of sample n, its labels read off the path) with the path
    and spans checked; labels None for a sample without a path."""
    T = path.shape[0]
    pad = np.flatnonzero(path == -1)
    length = int(pad[0]) if pad.size else T
    if not (path[length:] == -1).all():
        raise ValueError(
            f"alignment.frames[{n}] holds -1 at frame {length} and a class after it: -1 may "
            "only follow a sample's frames"
        )
    body = path[:length]
    bad = (body != STAR) & ((body < 0) | (body >= C))
    if bad.any():
        t = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"alignment.frames[{n}, {t}] = {int(body[t])} is not a class of the {C} classes "
            "of logits (nor ctcc.STAR)"
        )
    start, end = spans[:, 0], spans[:, 1]
    if spans.shape[0] and (start == -1).all() and (end == -1).all():
        return length, None  # no path
    tokens = np.full(spans.shape[0], STAR, np.int64)
    ok = (0 <= start) & (start <= end) & (end <= length)
    ok[1:] &= start[1:] >= end[:-1]
    if ok.all():
        nonempty = start < end
        tokens[nonempty] = body[start[nonempty]]
        first_last = body[np.maximum(end[nonempty] - 1, 0)] == tokens[nonempty]
        ok[nonempty] &= (tokens[nonempty] != blank) & first_last
    if not ok.all():
        i = int(np.flatnonzero(~ok)[0])
        raise ValueError(
            f"alignment.spans[{n}][{i}] = {spans[i].tolist()} is not the span of a label on "
            f"the path alignment.frames[{n}] (spans are ordered, within the sample's "
            f"{length} frames, and each covers frames of one class): pass the result of "
            "ctcc.forced_align"
        )
    return length, tokens


def token_spans(
    alignment: Any,
    logits: ArrayLike,
    *,
    blank: int = 0,
    time_major: bool = True,
    log_probs: bool = False,
    score: str = "logprob",
    num_threads: int | None = None,
) -> list[TokenSpans]:
    """Frame span and confidence of each label of a forced alignment.

    Takes the `ctcc.Alignment` that `ctcc.forced_align` returned and the
    logits it aligned; returns, per sample, the class, first frame, end
    frame and a confidence score of each label. The labels are read off the
    path, so they need not be passed again.

    Parameters
    ----------
    alignment : ctcc.Alignment
        The result of ``ctcc.forced_align(logits, ...)``.
    logits : array_like of float32 or float64
        ``[T, N, C]`` when `time_major`, else ``[N, T, C]``: the logits
        passed to `ctcc.forced_align`.
    blank : int, default 0
        Keyword-only: index of the blank class; negative values count from
        the end.
    time_major : bool, default True
        Keyword-only: layout of `logits`, ``[T, N, C]`` if True, ``[N, T,
        C]`` if False.
    log_probs : bool, default False
        Keyword-only: True if `logits` already holds log-probabilities.
    score : {'logprob', 'posterior'}, default 'logprob'
        Keyword-only: the confidence of a token. ``'logprob'``: the mean
        over its frames of the log-probability of its class (the
        log-softmax of `logits`). ``'posterior'``: the mean over its frames
        of the CTC posterior of its class (`ctcc.ctc_posteriors`: the
        probability, given the labels, that an alignment emits that class at
        that frame).
    num_threads : int, optional
        Keyword-only: OpenMP threads of ``score='posterior'``; None or 0
        uses every available thread.

    Returns
    -------
    list of ctcc.TokenSpans
        N named tuples ``(token, start, end, score)`` of ``[L_n]`` arrays,
        ``L_n`` the labels of sample n: the label, its span in `alignment`,
        and its confidence (float64). A `ctcc.STAR` label gets score NaN (it
        has no class); a sample without a path gets token, start and end -1
        and score NaN.

    Raises
    ------
    TypeError
        A wrong dtype of `logits`, a masked array, a scalar argument of the
        wrong type, or an `alignment` that is not a ``(frames, scores,
        spans)`` triple.
    ValueError
        An unknown `score`, `blank` out of range, an `alignment` whose
        shapes do not fit `logits` or whose spans are not those of its path,
        or ``score='posterior'`` for labels holding `ctcc.STAR`.

    See Also
    --------
    ctcc.forced_align : The alignment.
    ctcc.word_spans : Groups the token spans into words.
    ctcc.merge_tokens : Token spans of a frame-level path and per-frame scores.

    Notes
    -----
    Which score to threshold. ``'logprob'``, the default, measures how well
    the frames fit the token: ``exp(score)`` is the geometric mean of the
    token's frame probabilities, in [0, 1]. It costs O(T * C) time and no
    memory beyond O(T), so it suits recordings of any length, and it is
    the mean of the per-frame scores of ``torchaudio.functional.forced_align``
    and `ctcc.torch.forced_align`. ``'posterior'`` is calibrated: 1 when
    the labels and the emissions leave no doubt where the token sits, lower
    as other placements of the labels become as likely. It conditions on
    the labels, so it says how sure the position is rather than whether the
    audio holds the token, and it costs a forward-backward pass: the time
    and memory of the loss, O(T * L) per sample (`ctcc.workspace_size`),
    too much for a long recording (an hour at 50 frames per second with
    12 000 labels would need about 35 GB). The posterior of a class sums
    over every position of the labels with that class, so the same class
    close by in the labels can raise it. Both scores are means over the
    token's frames, so a word's score weights them by frames
    (`ctcc.word_spans`).

    Examples
    --------
    >>> import numpy as np
    >>> import ctcc
    >>> probs = np.array([[0.1, 0.8, 0.1],
    ...                   [0.1, 0.8, 0.1],
    ...                   [0.8, 0.1, 0.1],
    ...                   [0.1, 0.1, 0.8]])  # [T, C]; the blank is class 0
    >>> logp = np.log(probs)[:, None, :]
    >>> result = ctcc.forced_align(logp, [[1, 2]], log_probs=True)
    >>> spans = ctcc.token_spans(result, logp, log_probs=True)[0]
    >>> spans.token, spans.start, spans.end
    (array([1, 2], dtype=int32), array([0, 3], dtype=int32), array([2, 4], dtype=int32))
    >>> np.exp(spans.score).round(3)  # geometric mean of the frame probabilities
    array([0.8, 0.8])
    >>> ctcc.token_spans(result, logp, log_probs=True, score="posterior")[0].score.round(3)
    array([0.895, 0.977])
    """
    time_major = as_flag(time_major, "time_major")
    log_probs = as_flag(log_probs, "log_probs")
    score = as_choice(score, "score", _SCORES)
    arr, T, N, C = _check_logits(logits, time_major)
    blank = _check_blank(blank, C)
    threads = _check_threads(num_threads)
    frames, spans = _check_alignment(alignment, N, T)
    samples = [_sample_tokens(n, frames[n], spans[n], C, blank) for n in range(N)]
    if score == "posterior":
        for n, (_, tokens) in enumerate(samples):
            if tokens is not None and (tokens == STAR).any():
                raise ValueError(
                    f"score='posterior' cannot score sample {n}: its labels hold ctcc.STAR, "
                    "which the loss's forward-backward does not know; use score='logprob'"
                )
        post = ctc_posteriors(
            arr,
            [[] if tokens is None else tokens for _, tokens in samples],
            [T if tokens is None else length for length, tokens in samples],
            blank=blank,
            time_major=time_major,
            log_probs=log_probs,
            num_threads=threads,
        )
    out = []
    for n, (length, tokens) in enumerate(samples):
        L = spans[n].shape[0]
        if tokens is None:
            minus = np.full(L, -1, np.int32)
            out.append(TokenSpans(minus, minus.copy(), minus.copy(), np.full(L, np.nan)))
            continue
        start, end = spans[n][:, 0], spans[n][:, 1]
        path = frames[n, :length]
        emits = path >= 0  # frames read as a class: star frames (ctcc.STAR) are not
        values = np.full(length, np.nan)
        if score == "logprob":
            x = arr[:length, n] if time_major else arr[n, :length]
            values[emits] = _frame_logprobs(x[emits], path[emits], log_probs)
        else:
            p = post[:length, n] if time_major else post[n, :length]
            picked = np.take_along_axis(p[emits], path[emits, None].astype(np.intp), axis=1)
            values[emits] = picked[:, 0]
        means = _span_means(values, start, end)
        means[tokens == STAR] = np.nan
        out.append(
            TokenSpans(tokens.astype(np.int32), start.astype(np.int32), end.astype(np.int32), means)
        )
    return out


def merge_tokens(tokens: ArrayLike, scores: ArrayLike, blank: int = 0) -> TokenSpans:
    """Token spans of a frame-level path: runs of one class, blanks dropped.

    The NumPy counterpart of ``torchaudio.functional.merge_tokens`` (and of
    `ctcc.torch.merge_tokens`): each maximal run of equal, non-blank tokens
    becomes a span, scored with the mean of `scores` over it.

    Parameters
    ----------
    tokens : array_like of int, shape [T]
        The class of each frame, e.g. a row of ``ctcc.forced_align(...).frames``.
        Negative entries (the -1 past a sample's length) are dropped like
        blanks.
    scores : array_like of float, shape [T]
        A score per frame: log-probabilities, probabilities, or anything to
        average.
    blank : int, default 0
        The blank class (its index, at least 0: without the alphabet size a
        negative index cannot count from the end), dropped from the spans.

    Returns
    -------
    ctcc.TokenSpans
        ``(token, start, end, score)``: int32 class, first frame and one past
        the last frame of each run, and the float64 mean of `scores` over it.

    Raises
    ------
    TypeError
        If `tokens` does not hold integers, `scores` not real numbers, or
        `blank` is not an integer.
    ValueError
        If `tokens` or `scores` is not 1-D, their lengths differ, or `blank`
        is negative.

    See Also
    --------
    ctcc.token_spans : Token spans of a forced alignment, with confidences.

    Notes
    -----
    Two equal labels in a row are separate tokens only with a blank between
    them, as in CTC. torchaudio averages the scores in their own dtype;
    here the mean is computed in float64.

    Examples
    --------
    >>> import numpy as np
    >>> import ctcc
    >>> logp = np.log(np.array([[0.1, 0.8, 0.1],
    ...                         [0.1, 0.8, 0.1],
    ...                         [0.8, 0.1, 0.1],
    ...                         [0.1, 0.1, 0.8]]))[:, None, :]
    >>> result = ctcc.forced_align(logp, [[1, 2]], log_probs=True)
    >>> path = result.frames[0]
    >>> spans = ctcc.merge_tokens(path, np.exp(logp[np.arange(4), 0, path]))
    >>> spans.token.tolist(), spans.start.tolist(), spans.end.tolist()
    ([1, 2], [0, 3], [2, 4])
    >>> spans.score.round(3)
    array([0.8, 0.8])
    """
    reject_masked(tokens, "tokens")
    reject_masked(scores, "scores")
    blank = as_int(blank, "blank", low=0)
    tok = np.asarray(tokens)
    sc = np.asarray(scores)
    if tok.dtype == bool or (tok.dtype.kind not in "iu" and tok.size):
        raise TypeError(f"tokens must hold integers, got dtype {tok.dtype}")
    if sc.dtype == bool or (sc.dtype.kind not in "fiu" and sc.size):
        raise TypeError(f"scores must hold real numbers, got dtype {sc.dtype}")
    if tok.ndim != 1 or sc.ndim != 1:
        raise ValueError(
            f"tokens and scores must be 1-D (one sample's frames), got shapes {tok.shape} "
            f"and {sc.shape}"
        )
    if tok.shape != sc.shape:
        raise ValueError(
            f"tokens and scores must have the same length, got {tok.shape[0]} and {sc.shape[0]}"
        )
    if tok.size and (tok.max() > INT32_MAX or tok.min() < -INT32_MAX):
        raise ValueError("tokens must fit in int32")
    tok = tok.astype(np.int64)
    change = np.flatnonzero(np.diff(tok)) + 1
    starts = np.concatenate(([0], change)).astype(np.int64) if tok.size else np.zeros(0, np.int64)
    stops = np.concatenate((change, [tok.size])).astype(np.int64) if tok.size else starts
    keep = (tok[starts] != blank) & (tok[starts] >= 0)
    starts, stops = starts[keep], stops[keep]
    values = sc.astype(np.float64)
    return TokenSpans(
        tok[starts].astype(np.int32),
        starts.astype(np.int32),
        stops.astype(np.int32),
        _span_means(values, starts, stops),
    )


def _token_fields(spans: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(token, start, end, score) arrays of a TokenSpans or of a sequence of
    objects with those attributes (ctcc.torch's or torchaudio's TokenSpan)."""
    if isinstance(spans, TokenSpans) or (
        isinstance(spans, tuple)
        and len(spans) == 4
        and not hasattr(spans[0], "token")
        and hasattr(spans[0], "__len__")
    ):
        fields = [np.asarray(f) for f in spans]
        names = TokenSpans._fields
        K = fields[0].shape
        for name, f in zip(names, fields):
            if f.ndim != 1 or f.shape != K:
                raise ValueError(
                    f"token_spans.{name} must be 1-D with one entry per token "
                    f"({K[0] if len(K) else '?'}), got shape {f.shape}"
                )
        return tuple(fields)
    if isinstance(spans, Sequence) and not isinstance(spans, (str, bytes)):
        rows = []
        for i, s in enumerate(spans):
            try:
                rows.append((int(s.token), int(s.start), int(s.end), float(s.score)))
            except (AttributeError, TypeError, ValueError):
                raise TypeError(
                    f"token_spans[{i}] must have attributes token, start, end and score "
                    f"(a TokenSpan), got {describe(s)}"
                ) from None
        if not rows:
            return (np.zeros(0, np.int64),) * 3 + (np.zeros(0),)
        cols = list(zip(*rows))
        return (
            np.array(cols[0], np.int64),
            np.array(cols[1], np.int64),
            np.array(cols[2], np.int64),
            np.array(cols[3], np.float64),
        )
    raise TypeError(
        "token_spans must be a ctcc.TokenSpans (one sample's, from ctcc.token_spans or "
        f"ctcc.merge_tokens) or a list of TokenSpan objects, got {describe(spans)}"
    )


def word_spans(
    token_spans: Any,
    *,
    separator: int | Sequence[int] | None = None,
    word_lengths: ArrayLike | None = None,
) -> WordSpans:
    """Groups one sample's token spans into words, by separator or by length.

    Give exactly one of `separator` (a word-boundary class, such as ``|``
    in wav2vec2 vocabularies: the tokens between two separators form a
    word, the separators belong to none) and `word_lengths` (the number of
    tokens of each word, in order).

    Parameters
    ----------
    token_spans : ctcc.TokenSpans or list of TokenSpan
        One sample's token spans: an element of `ctcc.token_spans`'s list, a
        `ctcc.merge_tokens` result, or a list of objects with attributes
        token, start, end and score (`ctcc.torch.merge_tokens`, or
        torchaudio's).
    separator : int or sequence of int, optional
        Keyword-only: the class (or classes) that separate words. Runs of
        separators, and separators at the start or end, make no empty word.
    word_lengths : array_like of int, optional
        Keyword-only: tokens per word, each at least 1, adding up to the
        number of tokens.

    Returns
    -------
    ctcc.WordSpans
        ``(start, end, score, token_start, token_end)`` of ``[W]`` arrays:
        the first frame of the word's first token, one past the last frame
        of its last token, its score, and the range of its tokens.

    Raises
    ------
    TypeError
        If `token_spans` is of no accepted form, or `separator` or
        `word_lengths` does not hold integers.
    ValueError
        If both or neither of `separator` and `word_lengths` are given, the
        arrays of `token_spans` differ in length, a word length is below 1,
        or the word lengths do not add up to the number of tokens.

    See Also
    --------
    ctcc.token_spans : The token spans of an alignment.

    Notes
    -----
    A word's score is the mean of its tokens' scores weighted by their
    numbers of frames, ``sum(score * (end - start)) / sum(end - start)``:
    for scores that are means over frames (`ctcc.token_spans`,
    `ctcc.merge_tokens`) it is the mean over all the frames of the word's
    tokens (the blank frames between them excluded). Tokens with score NaN
    (a `ctcc.STAR`, which has no class to score) or without frames (start
    = end) count for nothing; a word with nothing left, or from a sample
    without a path (spans -1), gets score NaN, and start and end -1 in the
    latter case. A star between two separators makes a word of its own:
    the stretch of untranscribed content, with its frames and score NaN.

    Examples
    --------
    >>> import numpy as np
    >>> import ctcc
    >>> path = np.array([0, 5, 5, 0, 1, 0, 6, 0, 7, 7, 7])  # 1 is the separator
    >>> spans = ctcc.merge_tokens(path, np.log(np.full(11, 0.5)))
    >>> words = ctcc.word_spans(spans, separator=1)
    >>> [f.tolist() for f in (words.start, words.end, words.token_start, words.token_end)]
    [[1, 6], [3, 11], [0, 2], [1, 4]]
    >>> np.exp(words.score)
    array([0.5, 0.5])
    """
    token, start, end, score = _token_fields(token_spans)
    if (separator is None) == (word_lengths is None):
        raise ValueError("give exactly one of separator and word_lengths")
    K = token.shape[0]
    if token.dtype.kind not in "iu" or start.dtype.kind not in "iu" or end.dtype.kind not in "iu":
        raise TypeError("token_spans.token, .start and .end must hold integers")
    if separator is not None:
        if isinstance(separator, (bool, np.bool_)):
            raise TypeError(
                f"separator must be an integer class or a sequence of them, got {separator!r}"
            )
        try:
            seps = np.array([as_int(separator, "separator")])
        except TypeError:
            reject_masked(separator, "separator")
            seps = np.asarray(separator)
            if seps.ndim != 1 or (seps.dtype.kind not in "iu" and seps.size):
                raise TypeError(
                    "separator must be an integer class or a sequence of them, got "
                    f"{describe(separator)}"
                ) from None
        is_sep = np.isin(token, seps)
        word = ~is_sep
        edges = np.diff(np.concatenate(([False], word, [False])).astype(np.int8))
        first = np.flatnonzero(edges == 1)
        stop = np.flatnonzero(edges == -1)
    else:
        reject_masked(word_lengths, "word_lengths")
        lengths = np.asarray(word_lengths)
        if lengths.dtype == bool or (lengths.dtype.kind not in "iu" and lengths.size):
            raise TypeError(f"word_lengths must hold integers, got {describe(word_lengths)}")
        if lengths.ndim != 1:
            raise ValueError(f"word_lengths must be 1-D, got shape {lengths.shape}")
        lengths = lengths.astype(np.int64)
        if (lengths < 1).any():
            w = int(np.flatnonzero(lengths < 1)[0])
            raise ValueError(
                f"word_lengths[{w}] = {int(lengths[w])}: every word needs at least one token"
            )
        total = int(lengths.sum())
        if total != K:
            raise ValueError(f"word_lengths add up to {total} tokens, but token_spans has {K}")
        stop = np.cumsum(lengths)
        first = stop - lengths
    frames = (end - start).astype(np.int64)
    has_path = ~((start == -1) & (end == -1))
    # stars (score NaN) and tokens without frames count for nothing
    weight = np.where(has_path & (frames > 0) & ~np.isnan(score), frames, 0).astype(np.float64)
    with np.errstate(invalid="ignore"):
        weighted = np.where(weight > 0, score * weight, 0.0)
    W = first.shape[0]
    if W:
        # Sums over [first, stop) of each word: reduceat at the interleaved
        # bounds (a trailing 0 so that a bound may equal K); the odd
        # entries are the gaps between words (separators), dropped.
        bounds = np.ravel(np.column_stack((first, stop)))
        total_w = np.add.reduceat(np.append(weight, 0.0), bounds)[::2]
        total_s = np.add.reduceat(np.append(weighted, 0.0), bounds)[::2]
        with np.errstate(invalid="ignore", divide="ignore"):
            word_score = np.where(total_w > 0, total_s / np.where(total_w > 0, total_w, 1), np.nan)
        w_start = start[first].astype(np.int32)
        w_end = end[stop - 1].astype(np.int32)
    else:
        word_score = np.zeros(0)
        w_start = w_end = np.zeros(0, np.int32)
    return WordSpans(
        w_start, w_end, word_score.astype(np.float64), first.astype(np.int32), stop.astype(np.int32)
    )
