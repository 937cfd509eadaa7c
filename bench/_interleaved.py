"""Shared by the adapter overhead scripts (``python bench/*_overhead.py``):
check that every variant agrees with the direct call, then time the
variants in interleaved rounds (each round starts at another variant, so
that a slow spell of a shared machine falls on all of them alike) and print
the median, minimum and maximum of each."""

from __future__ import annotations

import statistics
import time
from typing import Callable

import numpy as np

Variant = Callable[[], "tuple[np.ndarray, np.ndarray]"]


def check_agreement(
    variants: dict[str, Variant],
    direct: Variant,
    adjust: Callable[[str, np.ndarray], np.ndarray] | None = None,
) -> None:
    """Prints each variant's largest loss and gradient difference from
    `direct` (the first call of each is also a warm-up). adjust(name, grad)
    maps a variant's gradient onto the direct call's convention."""
    ref_loss, ref_grad = direct()
    for name, fn in variants.items():
        loss, grad = fn()
        if adjust is not None:
            grad = adjust(name, grad)
        print(
            f"{name}: max |loss - direct| / loss = "
            f"{np.max(np.abs(loss - ref_loss) / np.abs(ref_loss)):.1e}, "
            f"max |grad - direct| = {np.max(np.abs(grad - ref_grad)):.1e}"
        )


def time_interleaved(
    variants: dict[str, Variant], repeats: int, warmup: int
) -> dict[str, list[float]]:
    """`warmup` calls of each variant (the agreement check counts as one),
    then `repeats` rounds, each calling every variant once; seconds."""
    for _ in range(warmup - 1):
        for fn in variants.values():
            fn()
    names = list(variants)
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(repeats):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            t0 = time.perf_counter()
            variants[name]()
            times[name].append(time.perf_counter() - t0)
    return times


def print_table(times: dict[str, list[float]]) -> dict[str, float]:
    """Prints median, min and max ms of each variant; returns the medians."""
    print(f"{'variant':40s} {'median ms':>10s} {'min ms':>8s} {'max ms':>8s}")
    medians = {}
    for name, ts in times.items():
        medians[name] = statistics.median(ts)
        print(f"{name:40s} {1e3 * medians[name]:10.2f} {1e3 * min(ts):8.2f} {1e3 * max(ts):8.2f}")
    return medians
