"""The workloads: shapes, the random batch every process builds alike, and
the arithmetic on them (DP cells, the fewest feasible frames)."""

from __future__ import annotations

import numpy as np

# name: (T, N, C, L)
WORKLOADS: dict[str, tuple[int, int, int, int]] = {
    "speech-small": (150, 32, 29, 40),
    "speech-long": (700, 32, 29, 100),
    "ocr-large-vocab": (64, 64, 5000, 20),
    "very-long": (4000, 4, 29, 400),
}
# Workloads that also get the NumPy softmax "limit" row.
SOFTMAX_LIMIT_WORKLOADS = ("ocr-large-vocab",)
QUICK_WORKLOAD = "speech-small"
SEED = 20240601


def make_batch(T: int, N: int, C: int, L: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Standard-normal float32 logits [T, N, C] and labels [N, L] uniform in
    [1, C) (blank = 0), the same in every process for the same seed."""
    rng = np.random.default_rng(seed)
    logits = rng.standard_normal((T, N, C), dtype=np.float32)
    labels = (
        rng.integers(1, C, size=(N, L), dtype=np.int32) if C > 1 else np.zeros((N, L), np.int32)
    )
    return logits, labels


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
    """Why ``--custom T N C L`` cannot run (None when it can): a shape out of
    range, or too few frames for the random labels (an infinite loss)."""
    if min(T, N, C) < 1 or L < 0 or C < 2:
        return "need T, N >= 1, C >= 2, L >= 0"
    _, labels = make_batch(1, N, C, L, seed)  # the same labels as the workers
    need = min_frames_needed(labels)
    if need > T:
        return (
            f"T = {T} frames are too few for the random labels (need {need}); "
            "the loss would be infinite"
        )
    return None
