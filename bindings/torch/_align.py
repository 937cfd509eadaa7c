"""Forced alignment for PyTorch with torchaudio's interface, on ctcc's C core.

``forced_align`` and ``merge_tokens`` take the arguments of
``torchaudio.functional.forced_align`` and ``torchaudio.functional.merge_tokens``
and return what they return, with a batch of any size. Both are thin: the
tensors are handed to ``ctcc.forced_align`` and ``ctcc.merge_tokens`` as
NumPy arrays, which check the values and do the work; this module checks
what it can see without reading values (types, devices, dtypes, shapes) and
gathers the per-frame scores from ``log_probs``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

import ctcc
from ctcc._align import STAR_PENALTY
from ctcc._checks import as_int, as_num_threads, as_real, describe
from ctcc.torch._loss import _torch_names

_FLOATS = (torch.float32, torch.float64)
_HALVES = (torch.float16, torch.bfloat16)


@dataclass
class TokenSpan:
    """One token of an alignment, with its frames and score.

    The result type of `ctcc.torch.merge_tokens`, with the attributes of
    ``torchaudio.functional.TokenSpan``; ``len(span)`` is its frame count.

    Parameters
    ----------
    token : int
        The token's class.
    start : int
        Its first frame.
    end : int
        One past its last frame (end exclusive).
    score : float
        The mean of the per-frame scores over its frames.

    See Also
    --------
    ctcc.torch.merge_tokens : Returns a list of them.

    Examples
    --------
    >>> import ctcc.torch
    >>> span = ctcc.torch.TokenSpan(token=3, start=4, end=7, score=-0.25)
    >>> len(span), span.token
    (3, 3)
    """

    token: int
    start: int
    end: int
    score: float

    def __len__(self) -> int:
        """The number of frames, ``end - start``."""
        return self.end - self.start


def _tensor(value: Any, name: str, fn: str) -> torch.Tensor:
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{fn}: {name} must be a torch.Tensor, got {describe(value)}")
    return value


def _cpu(t: torch.Tensor, name: str, fn: str) -> torch.Tensor:
    if t.device.type != "cpu":
        raise ValueError(
            f"{fn}: {name} is on {t.device}, but ctcc aligns on the CPU only: pass "
            f"{name}.cpu() (the results are CPU tensors)"
        )
    return t


def _lengths(value: Any, name: str, N: int, limit: int, fn: str) -> torch.Tensor | None:
    if value is None:
        return None
    t = _cpu(_tensor(value, name, fn), name, fn)
    if t.dtype == torch.bool or t.dtype.is_floating_point or t.dtype.is_complex:
        raise TypeError(f"{fn}: {name} must hold integers, got dtype {t.dtype}")
    if tuple(t.shape) != (N,):
        raise ValueError(
            f"{fn}: {name} must have shape ({N},), one per sample, got shape {tuple(t.shape)}"
        )
    return t


def forced_align(
    log_probs: torch.Tensor,
    targets: torch.Tensor,
    input_lengths: torch.Tensor | None = None,
    target_lengths: torch.Tensor | None = None,
    blank: int = 0,
    *,
    star_penalty: float = STAR_PENALTY,
    num_threads: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Most probable CTC alignment, as ``torchaudio.functional.forced_align``, batched.

    Takes the arguments of ``torchaudio.functional.forced_align`` and
    returns its ``(alignments, scores)``, for a batch of any size (torchaudio
    takes one sample) and any length (torchaudio's frame-by-state table
    overflows past 2**31 entries). A thin layer over `ctcc.forced_align`.

    Parameters
    ----------
    log_probs : torch.Tensor
        ``[N, T, C]`` (batch first, as torchaudio) log-probabilities, e.g.
        ``log_softmax`` of a model's output. float32 or float64; float16 and
        bfloat16 are aligned in float32. CPU tensors only.
    targets : torch.Tensor
        ``[N, L]`` int32 or int64 labels, padded past `target_lengths`.
        Labels index the classes of `log_probs` and must not be the blank;
        ``ctcc.STAR`` (-2) is the wildcard of `ctcc.forced_align`.
    input_lengths : torch.Tensor, optional
        ``[N]`` integer tensor, the frames of each sample (at most T);
        default all T.
    target_lengths : torch.Tensor, optional
        ``[N]`` integer tensor, the labels of each sample (at most L);
        default all L.
    blank : int, default 0
        Index of the blank class; negative values count from the end.
    star_penalty : float, default -2.0
        Keyword-only: the cost of a frame a ``ctcc.STAR`` absorbs, as in
        `ctcc.forced_align`.
    num_threads : int or None, default None
        Keyword-only: threads of the C core; None means
        ``torch.get_num_threads()``, 0 all available cores.

    Returns
    -------
    alignments : torch.Tensor
        ``[N, T]`` in the dtype of `targets`: the class the path emits at
        each frame (the blank, a label, or ``ctcc.STAR``); -1 past a
        sample's length and on every frame of a sample without a path.
    scores : torch.Tensor
        ``[N, T]`` in the dtype of `log_probs`: the log-probability of that
        class at that frame, ``log_probs[n, t, alignments[n, t]]`` (for a
        star frame the score the aligner gave it, ``max_c log_probs[n, t,
        c] + star_penalty``); 0 past the length; on the frames of a sample
        without a path, ``-inf`` (probability 0, or too few frames) or NaN
        (NaN or ``+inf`` in `log_probs`). ``scores.sum(1)`` is each path's
        log-probability.

    Raises
    ------
    TypeError
        If an argument has the wrong type: `log_probs` not a floating
        tensor, `targets` not int32 or int64, lengths not integer tensors,
        `blank` or `num_threads` not an integer, `star_penalty` not a real
        number.
    ValueError
        If a tensor is not on the CPU, the shapes disagree, or when the
        values are read: a label outside ``[0, C)`` (and not ``ctcc.STAR``)
        or equal to the blank, a length negative or too large, `blank` out
        of range, `star_penalty` positive or NaN. Each message names the
        argument (and the sample).

    See Also
    --------
    ctcc.torch.merge_tokens : Token spans of an alignment.
    ctcc.forced_align : The NumPy function underneath, with the tie rules.

    Notes
    -----
    The paths are torchaudio's, ties included: the same states and
    transitions, the same tie-breaking within the frames (stay, then come
    from the previous state, then skip) and at the last frame (the last
    label wins a tie with the final blank: ``end_tie="label"`` of
    `ctcc.forced_align`). One difference remains: ctcc adds the scores
    in double precision, torchaudio in the input's dtype, so for float32
    input two paths whose float32 sums tie or swap order by rounding may
    be chosen differently (float64 input gives the same path). torchaudio
    raises when a sample has too few frames for its labels; here that
    sample gets alignments -1 and scores ``-inf``, and the others are
    aligned.

    Examples
    --------
    >>> import torch
    >>> import ctcc.torch
    >>> probs = torch.tensor([[0.1, 0.8, 0.1],
    ...                       [0.1, 0.8, 0.1],
    ...                       [0.8, 0.1, 0.1],
    ...                       [0.1, 0.1, 0.8]])  # [T, C]; the blank is class 0
    >>> alignments, scores = ctcc.torch.forced_align(probs.log()[None], torch.tensor([[1, 2]]))
    >>> alignments
    tensor([[1, 1, 0, 2]])
    >>> scores.exp()
    tensor([[0.8000, 0.8000, 0.8000, 0.8000]])

    A batch, with its lengths:

    >>> log_probs = torch.randn(2, 50, 6).log_softmax(-1)
    >>> targets = torch.tensor([[1, 2, 3], [4, 4, 0]], dtype=torch.int32)
    >>> alignments, scores = ctcc.torch.forced_align(
    ...     log_probs, targets, torch.tensor([50, 30]), torch.tensor([3, 2]))
    >>> alignments.shape, alignments.dtype, scores.shape
    (torch.Size([2, 50]), torch.int32, torch.Size([2, 50]))
    >>> bool((alignments[1, 30:] == -1).all()), bool((scores[1, 30:] == 0).all())
    (True, True)
    """
    fn = "ctcc.torch.forced_align"
    blank = as_int(blank, "blank", fn)
    penalty = as_real(star_penalty, "star_penalty", fn, finite=False)
    threads = as_num_threads(num_threads, fn)
    x = _cpu(_tensor(log_probs, "log_probs", fn), "log_probs", fn)
    if x.dtype not in _FLOATS + _HALVES:
        raise TypeError(
            f"{fn}: log_probs must be float32 or float64 (float16 and bfloat16 are aligned "
            f"in float32), got dtype {x.dtype}"
        )
    if x.dim() != 3:
        raise ValueError(
            f"{fn}: log_probs must be [N, T, C] (batch first, as torchaudio), got shape "
            f"{tuple(x.shape)}"
        )
    N, T, C = x.shape
    y = _cpu(_tensor(targets, "targets", fn), "targets", fn)
    if y.dtype not in (torch.int32, torch.int64):
        raise TypeError(f"{fn}: targets must be int32 or int64, got dtype {y.dtype}")
    if y.dim() != 2 or y.shape[0] != N:
        raise ValueError(
            f"{fn}: targets must be [N, L] with N = {N}, the batch of log_probs, got shape "
            f"{tuple(y.shape)}"
        )
    frames = _lengths(input_lengths, "input_lengths", N, T, fn)
    labels = _lengths(target_lengths, "target_lengths", N, y.shape[1], fn)

    with torch.no_grad():
        data = x.detach()
        if data.dtype in _HALVES:
            data = data.float()
        try:
            result = ctcc.forced_align(
                data.numpy(),
                y.numpy(),
                None if frames is None else frames.numpy(),
                # without lengths every entry is a label (no padding read off
                # the first negative entry, which could be ctcc.STAR)
                y.new_full((N,), y.shape[1]).numpy() if labels is None else labels.numpy(),
                blank=blank,
                time_major=False,
                log_probs=True,
                num_threads=torch.get_num_threads() if threads is None else threads,
                star_penalty=penalty,
                end_tie="label",  # torchaudio's rule on a tie at the end
            )
        except (ValueError, TypeError) as e:
            raise type(e)(f"{fn}: {_torch_names(str(e))}") from None
        path = torch.from_numpy(result.frames).to(torch.int64)
        scores = x.detach().gather(2, path.clamp(min=0).unsqueeze(2)).squeeze(2)
        star = path == ctcc.STAR
        if star.any():
            best = x.detach().amax(dim=2) + penalty
            scores = torch.where(star, best, scores)
        length = torch.full((N,), T) if frames is None else frames.to(torch.int64)
        valid = torch.arange(T).unsqueeze(0) < length.unsqueeze(1)
        # a sample without a path has score -inf or NaN (and frames -1)
        no_path = torch.from_numpy(~np.isfinite(result.scores))
        fill = torch.from_numpy(result.scores).to(scores.dtype).unsqueeze(1).expand(N, T)
        scores = torch.where(valid & no_path.unsqueeze(1), fill, scores)
        scores = scores.masked_fill(~valid, 0)
    return path.to(y.dtype), scores


def merge_tokens(tokens: torch.Tensor, scores: torch.Tensor, blank: int = 0) -> list[TokenSpan]:
    """Token spans of one alignment, as ``torchaudio.functional.merge_tokens``.

    Each maximal run of equal, non-blank tokens becomes a `TokenSpan` whose
    score is the mean of `scores` over its frames. A thin layer over
    `ctcc.merge_tokens`.

    Parameters
    ----------
    tokens : torch.Tensor
        ``[T]`` integer tensor, one sample's alignment (a row of the
        alignments of `ctcc.torch.forced_align`). Negative entries (the -1
        past the sample's length, ``ctcc.STAR`` frames) are dropped like
        blanks.
    scores : torch.Tensor
        ``[T]`` floating tensor of per-frame scores: the scores of
        `ctcc.torch.forced_align` (log-probabilities), their ``exp()``
        (probabilities, as in torchaudio's tutorial), or anything to
        average.
    blank : int, default 0
        The blank class (its index, at least 0), dropped.

    Returns
    -------
    list of TokenSpan
        One per token, in order: its class, first frame, one past its last
        frame, and the mean of `scores` over those frames (a Python float).

    Raises
    ------
    TypeError
        If `tokens` or `scores` is not a tensor, `tokens` does not hold
        integers, `scores` is not floating, or `blank` is not an integer.
    ValueError
        If `tokens` or `scores` is not 1-D, their lengths differ, or `blank`
        is negative.

    See Also
    --------
    ctcc.torch.forced_align : The alignment and its per-frame scores.
    ctcc.word_spans : Groups the spans into words.

    Notes
    -----
    The mean is computed in float64 where torchaudio computes it in the
    dtype of `scores`, so float32 scores may differ in the last bits.

    Examples
    --------
    >>> import torch
    >>> import ctcc.torch
    >>> tokens = torch.tensor([0, 3, 3, 0, 0, 5, 5, 5, 0])
    >>> scores = torch.tensor([0.9, 0.8, 0.6, 0.9, 0.9, 0.5, 0.7, 0.9, 0.9])
    >>> for span in ctcc.torch.merge_tokens(tokens, scores):
    ...     print(span.token, span.start, span.end, round(span.score, 3), len(span))
    3 1 3 0.7 2
    5 5 8 0.7 3
    """
    fn = "ctcc.torch.merge_tokens"
    blank = as_int(blank, "blank", fn, low=0)
    t = _tensor(tokens, "tokens", fn)
    s = _tensor(scores, "scores", fn)
    if t.dtype == torch.bool or t.dtype.is_floating_point or t.dtype.is_complex:
        raise TypeError(f"{fn}: tokens must hold integers, got dtype {t.dtype}")
    if not s.dtype.is_floating_point:
        raise TypeError(f"{fn}: scores must be a floating tensor, got dtype {s.dtype}")
    if t.dim() != 1 or s.dim() != 1:
        raise ValueError(
            f"{fn}: tokens and scores must be 1-D (one sample's frames), got shapes "
            f"{tuple(t.shape)} and {tuple(s.shape)}"
        )
    if t.shape != s.shape:
        raise ValueError(
            f"{fn}: tokens and scores must have the same length, got {t.shape[0]} and {s.shape[0]}"
        )
    spans = ctcc.merge_tokens(
        t.detach().cpu().to(torch.int64).numpy(),
        s.detach().cpu().to(torch.float64).numpy(),
        blank=blank,
    )
    return [
        TokenSpan(int(k), int(a), int(b), float(v))
        for k, a, b, v in zip(
            spans.token.tolist(), spans.start.tolist(), spans.end.tolist(), spans.score.tolist()
        )
    ]
