from collections.abc import Sequence
from typing import Any, Literal, NamedTuple, overload

import numpy as np
import numpy.typing as npt

__version__: str

KERNEL_SCALED: int
KERNEL_LOG_SPACE: int

class CTCCError(RuntimeError):
    status: int

def ctc_loss(
    logits: npt.ArrayLike,
    labels: Any,
    logit_lengths: npt.ArrayLike | None = ...,
    label_lengths: npt.ArrayLike | None = ...,
    *,
    blank: int = ...,
    time_major: bool = ...,
    log_probs: bool = ...,
    reduction: str = ...,
    zero_infinity: bool = ...,
    num_threads: int | None = ...,
    grad: bool = ...,
    alpha: float | None = ...,
    gamma: float = ...,
    loss_out: np.ndarray | None = ...,
    grad_out: np.ndarray | None = ...,
    kernel: Literal["auto", "log"] = ...,
    kernel_out: np.ndarray | None = ...,
) -> tuple[np.ndarray | np.floating, np.ndarray | None]: ...
@overload
def ctc_posteriors(
    logits: npt.ArrayLike,
    labels: Any,
    logit_lengths: npt.ArrayLike | None = ...,
    label_lengths: npt.ArrayLike | None = ...,
    *,
    blank: int = ...,
    time_major: bool = ...,
    log_probs: bool = ...,
    alpha: float | None = ...,
    gamma: float = ...,
    num_threads: int | None = ...,
    return_weights: Literal[False] = ...,
    out: np.ndarray | None = ...,
    kernel: Literal["auto", "log"] = ...,
    kernel_out: np.ndarray | None = ...,
) -> np.ndarray: ...
@overload
def ctc_posteriors(
    logits: npt.ArrayLike,
    labels: Any,
    logit_lengths: npt.ArrayLike | None = ...,
    label_lengths: npt.ArrayLike | None = ...,
    *,
    blank: int = ...,
    time_major: bool = ...,
    log_probs: bool = ...,
    alpha: float | None = ...,
    gamma: float = ...,
    num_threads: int | None = ...,
    return_weights: Literal[True],
    out: np.ndarray | None = ...,
    kernel: Literal["auto", "log"] = ...,
    kernel_out: np.ndarray | None = ...,
) -> tuple[np.ndarray, np.ndarray]: ...

STAR: int

class Alignment(NamedTuple):
    frames: np.ndarray
    scores: np.ndarray
    spans: list[np.ndarray]

def forced_align(
    logits: npt.ArrayLike,
    labels: Any,
    logit_lengths: npt.ArrayLike | None = ...,
    label_lengths: npt.ArrayLike | None = ...,
    *,
    blank: int = ...,
    time_major: bool = ...,
    log_probs: bool = ...,
    num_threads: int | None = ...,
    star_penalty: float = ...,
    end_tie: Literal["blank", "label"] = ...,
) -> Alignment: ...

class TokenSpans(NamedTuple):
    token: np.ndarray
    start: np.ndarray
    end: np.ndarray
    score: np.ndarray

class WordSpans(NamedTuple):
    start: np.ndarray
    end: np.ndarray
    score: np.ndarray
    token_start: np.ndarray
    token_end: np.ndarray

def token_spans(
    alignment: Alignment,
    logits: npt.ArrayLike,
    *,
    blank: int = ...,
    time_major: bool = ...,
    log_probs: bool = ...,
    score: Literal["logprob", "posterior"] = ...,
    num_threads: int | None = ...,
) -> list[TokenSpans]: ...
def merge_tokens(tokens: npt.ArrayLike, scores: npt.ArrayLike, blank: int = ...) -> TokenSpans: ...
def word_spans(
    token_spans: TokenSpans | Sequence[Any],
    *,
    separator: int | Sequence[int] | None = ...,
    word_lengths: npt.ArrayLike | None = ...,
) -> WordSpans: ...
def workspace_size(
    logit_lengths: npt.ArrayLike,
    label_lengths: npt.ArrayLike,
    alphabet_size: int,
    *,
    dtype: npt.DTypeLike = ...,
    grad: bool = ...,
    num_threads: int | None = ...,
) -> int: ...
def greedy_decode(
    logits: npt.ArrayLike,
    logit_lengths: npt.ArrayLike | None = ...,
    *,
    blank: int = ...,
    time_major: bool = ...,
    log_probs: bool = ...,
    num_threads: int | None = ...,
) -> list[np.ndarray]: ...
def beam_search_decode(
    logits: npt.ArrayLike,
    logit_lengths: npt.ArrayLike | None = ...,
    *,
    beam_width: int = ...,
    top_paths: int = ...,
    blank: int = ...,
    time_major: bool = ...,
    log_probs: bool = ...,
    blank_penalty: float = ...,
    log_prior: npt.ArrayLike | None = ...,
    num_threads: int | None = ...,
) -> tuple[list[list[np.ndarray]], np.ndarray]: ...
def openmp_enabled() -> bool: ...
def get_include() -> str: ...
def get_library_dirs() -> list[str]: ...
def get_libraries() -> list[str]: ...
def clear_workspace_cache() -> None: ...
def default_num_threads() -> int: ...
def status_string(status: int) -> str: ...
