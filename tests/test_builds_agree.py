"""The C library built by CMake and the Python extension give the same
losses and gradients to the bit.

Both builds contract multiply-adds into FMAs in the clones that have them
(CMakeLists.txt passes -ffp-contract=fast; setup.py compiles in GNU C
mode, where that is GCC's default), so a C program and a Python one get
the same numbers. The test needs the CMake build: it runs where
CTCC_LIBRARY names it, as scripts/test.sh does, and skips elsewhere.
"""

from __future__ import annotations

import os

import capi
import numpy as np
import pytest

import ctcc

C = 29


def _cmake_library():
    for path in os.environ.get("CTCC_LIBRARY", "").split(os.pathsep):
        if path and os.path.isfile(path):
            return capi.load_path(path)
    pytest.skip("CTCC_LIBRARY does not name a CMake build of libctcc")


def _batch(T: int, N: int, L: int, peaked: bool, seed: int):
    rng = np.random.default_rng(seed)
    labels = rng.integers(1, C, (N, L)).astype(np.int32)
    if peaked:
        # A trained model's outputs: one alignment at logit 0 (each label
        # on the first frames of its window, blank after), the rest at -30
        # to -10.
        x = rng.uniform(-30.0, -10.0, (T, N, C)).astype(np.float32)
        for n in range(N):
            for t in range(T):
                j = min(t * L // T, L - 1)
                start = j * T // L
                x[t, n, labels[n, j] if t - start < 2 else 0] = 0.0
    else:
        x = rng.standard_normal((T, N, C)).astype(np.float32)
    return x, labels


@pytest.mark.parametrize(
    "T, N, L, peaked, threads",
    [
        (150, 4, 40, False, 1),
        (700, 3, 100, False, 1),
        (700, 3, 100, True, 1),
        (1500, 2, 150, False, 1),  # tilted from the first attempt
        (1500, 1, 150, True, 2),  # one sample split over two threads
    ],
)
def test_cmake_library_matches_the_extension(T, N, L, peaked, threads):
    lib = _cmake_library()
    x, labels = _batch(T, N, L, peaked, seed=T + N + L)
    loss, grad = ctcc.ctc_loss(x, labels, num_threads=threads)
    lengths = np.full(N, L, np.int32)
    frames = np.full(N, T, np.int32)
    costs = np.zeros(N, np.float32)
    grads = np.zeros_like(x)
    status = capi.loss_f32(
        x, labels.reshape(-1), lengths, frames, T, N, C,
        opts=capi.options(num_threads=threads), costs=costs, gradients=grads,
        lib=lib,
    )  # fmt: skip
    assert status == capi.STATUS["SUCCESS"]
    assert np.isfinite(costs).all() and np.abs(grads).max() > 0
    np.testing.assert_array_equal(costs.view(np.uint32), np.asarray(loss).view(np.uint32))
    np.testing.assert_array_equal(grads.view(np.uint32), grad.view(np.uint32))
