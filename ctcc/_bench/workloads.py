"""The workloads: shapes, the batch every process builds alike, and
the arithmetic on them (DP cells, the fewest feasible frames).

Two kinds of batch: ``random`` (standard-normal logits, the classic
benchmark input: every alignment has some weight) and ``peaked`` (what a
trained model outputs: one alignment per sample at p >= 0.999 per frame,
the other classes at log-probabilities between -30 and -10)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# name: (T, N, C, L)
WORKLOADS: dict[str, tuple[int, int, int, int]] = {
    "speech-small": (150, 32, 29, 40),
    "speech-long": (700, 32, 29, 100),
    "ocr-large-vocab": (64, 64, 5000, 20),
    "very-long": (4000, 4, 29, 400),
    "speech-peaked": (700, 32, 29, 100),
    "one-long": (20000, 1, 29, 1000),
    "peaked-small": (150, 32, 29, 40),
}
BATCH_KINDS = ("random", "peaked")
# Workloads whose batch is make_peaked_batch's (the others: make_batch's).
PEAKED_WORKLOADS = ("speech-peaked", "peaked-small")
# Run only when named (--workload): one-long, one utterance of 20 000
# frames for the threads of one sample (N = 1 < threads; the frameworks'
# losses take seconds per call on it); peaked-small, speech-small's shape
# with a peaked batch (the CI smoke's second workload, on ctcc alone).
OPT_IN_WORKLOADS = ("one-long", "peaked-small")
DEFAULT_WORKLOADS = tuple(w for w in WORKLOADS if w not in OPT_IN_WORKLOADS)
# Implementations left out of a workload, with the reason: TensorFlow's
# dense-label path (which keras.losses.CTC takes on TensorFlow) does
# O(T N L^2) work, hours per call at L = 1000.
WORKLOAD_EXCLUDE: dict[str, dict[str, str]] = {
    "one-long": {
        impl: "TensorFlow's dense-label path: O(T N L^2) work, hours per call at L = 1000"
        for impl in ("tf-v2-dense", "keras-tf")
    }
}
# Workloads that also get the NumPy softmax "limit" row.
SOFTMAX_LIMIT_WORKLOADS = ("ocr-large-vocab",)
# --quick: QUICK_WORKLOAD on every framework, QUICK_PEAKED on ctcc alone.
QUICK_WORKLOAD = "speech-small"
QUICK_PEAKED = "peaked-small"
SEED = 20240601

# Peaked batches: the largest total probability of the classes off the
# alignment in one frame (the class on it keeps p >= 1 - this), and the
# range of their log-probabilities.
PEAKED_REST_MAX = 1e-3
PEAKED_LOG_PROB_RANGE = (-30.0, -10.0)


def make_batch(T: int, N: int, C: int, L: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Standard-normal float32 logits [T, N, C] and labels [N, L] uniform in
    [1, C) (blank = 0), the same in every process for the same seed."""
    rng = np.random.default_rng(seed)
    logits = rng.standard_normal((T, N, C), dtype=np.float32)
    labels = (
        rng.integers(1, C, size=(N, L), dtype=np.int32) if C > 1 else np.zeros((N, L), np.int32)
    )
    return logits, labels


@dataclass(frozen=True)
class Workload:
    """One workload of a run: its name, shape ``(T, N, C, L)``, batch kind
    (``BATCH_KINDS``), where it is run on some frameworks only their worker
    kinds (None: every framework of the run), and the implementations it
    leaves out (name -> reason)."""

    name: str
    shape: tuple[int, int, int, int]
    kind: str = "random"
    frameworks: tuple[str, ...] | None = None
    exclude: tuple[tuple[str, str], ...] = ()

    @classmethod
    def named(cls, name: str, frameworks: tuple[str, ...] | None = None) -> Workload:
        exclude = tuple(WORKLOAD_EXCLUDE.get(name, {}).items())
        return cls(name, WORKLOADS[name], batch_kind(name), frameworks, exclude)

    def batch(self, seed: int) -> tuple[np.ndarray, np.ndarray]:
        return batch_for(self.kind, *self.shape, seed)


def random_alignment(
    labels: np.ndarray, T: int, rng: np.random.Generator, blank: int = 0
) -> np.ndarray:
    """A random CTC path of ``T`` frames for one label row: the class of
    each frame, ``[T]``. Each label gets at least one frame, in order; a
    blank separates equal neighbours; the frames left over go to the
    labels and to the optional blanks (before, between and after the
    labels) in random amounts (Dirichlet weights, then a multinomial
    draw)."""
    L = labels.size
    if L == 0:
        return np.full(T, blank, dtype=np.int32)
    # segments: blank_0, label_1, blank_1, ..., label_L, blank_L
    least = np.zeros(2 * L + 1, dtype=np.int64)
    least[1::2] = 1
    least[2:-1:2] = labels[1:] == labels[:-1]
    spare = T - int(least.sum())
    if spare < 0:
        raise ValueError(f"T = {T} frames are too few for {L} labels (need {int(least.sum())})")
    weights = rng.dirichlet(np.ones(2 * L + 1))
    frames = least + rng.multinomial(spare, weights)
    classes = np.full(2 * L + 1, blank, dtype=np.int32)
    classes[1::2] = labels
    return np.repeat(classes, frames)


def make_peaked_batch(T: int, N: int, C: int, L: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A trained model's outputs, the same in every process for the same
    seed: ``make_batch``'s labels, and for each sample a random alignment of
    them (``random_alignment``) whose class gets p >= 0.999 in every frame;
    the other classes get log-probabilities uniform in [-30, -10] (scaled
    down together where the vocabulary is so large that their probabilities
    would add up to more than 1e-3). The logits are these log-probabilities
    (normalised: the softmax gives them back), float32 ``[T, N, C]``."""
    _, labels = make_batch(T, N, C, L, seed)
    rng = np.random.default_rng([seed, 1])
    low, high = PEAKED_LOG_PROB_RANGE
    log_probs = rng.uniform(low, high, size=(T, N, C))
    path = np.stack([random_alignment(labels[n], T, rng) for n in range(N)], axis=1)
    t_idx, n_idx = np.indices((T, N))
    log_probs[t_idx, n_idx, path] = -np.inf
    rest = np.exp(log_probs).sum(axis=2)  # the probability off the alignment
    shrink = np.minimum(1.0, PEAKED_REST_MAX / np.maximum(rest, 1e-300))
    log_probs += np.log(shrink)[:, :, None]
    log_probs[t_idx, n_idx, path] = np.log1p(-rest * shrink)
    return log_probs.astype(np.float32), labels


def batch_for(
    kind: str, T: int, N: int, C: int, L: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """The batch of a workload of ``kind`` (one of ``BATCH_KINDS``)."""
    if kind == "peaked":
        return make_peaked_batch(T, N, C, L, seed)
    if kind == "random":
        return make_batch(T, N, C, L, seed)
    raise ValueError(f"batch kind must be one of {BATCH_KINDS}, got {kind!r}")


def batch_kind(name: str) -> str:
    """The batch kind of a named workload."""
    return "peaked" if name in PEAKED_WORKLOADS else "random"


def min_frames_needed(labels: np.ndarray) -> int:
    """The fewest frames in which every label row is feasible: its length
    plus one blank between each pair of equal neighbours."""
    if labels.shape[1] == 0:
        return 0
    repeats = (labels[:, 1:] == labels[:, :-1]).sum(axis=1)
    return int((labels.shape[1] + repeats).max())


def dp_cells(T: int, N: int, L: int) -> int:
    """States of the forward-backward lattice: N * T * (2L + 1)."""
    return N * T * (2 * L + 1)


def custom_workload_error(T: int, N: int, C: int, L: int, seed: int) -> str | None:
    """Why ``--custom T N C L`` (or ``--custom-peaked``) cannot run (None
    when it can): a shape out of range, or too few frames for the random
    labels (an infinite loss; no alignment for a peaked batch)."""
    if min(T, N, C) < 1 or L < 0 or C < 2:
        return "need T, N >= 1, C >= 2, L >= 0"
    _, labels = make_batch(T, N, C, L, seed)  # the same labels as the workers
    need = min_frames_needed(labels)
    if need > T:
        return (
            f"T = {T} frames are too few for the random labels (need {need}); "
            "the loss would be infinite"
        )
    return None
