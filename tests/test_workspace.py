"""ctcc.workspace_size: the memory the loss needs, against the documented bound."""

import numpy as np
import pytest

import ctcc


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gradient_workspace_is_the_alpha_table_plus_small_arrays(dtype):
    T, L = np.array([700, 350, 1]), np.array([100, 40, 0])
    cells = int(np.sum(T * (2 * L + 1)))
    size = ctcc.workspace_size(T, L, 29, dtype=dtype)
    # One double per DP cell, plus per sample O(S + T) values and alignment:
    # per frame the row padding (4 doubles), 3 per-frame values and the
    # stored row's window (two 32-bit states); per state about 13 doubles
    # (the rows of both kernels, two tasks each); and where C <= S the
    # frames' class probabilities and their sum.
    C = 29
    probs = np.where(C <= 2 * L + 1, T * (C + 1), 0)
    assert size >= 8 * (cells + int(np.sum(probs)))
    bound = 8 * cells + 8 * int(np.sum(8 * T + 13 * (2 * L + 1) + 40 + probs))
    assert size <= bound + 64 * 25 * len(T)


def test_loss_only_workspace_does_not_grow_with_time():
    # From 64 frames on, four padded error rows per sample (the tilted
    # attempt's), and nothing more however long the sample.
    short = ctcc.workspace_size([10] * 4, [5] * 4, 29, grad=False)
    mid = ctcc.workspace_size([64] * 4, [5] * 4, 29, grad=False)
    long = ctcc.workspace_size([10000] * 4, [5] * 4, 29, grad=False)
    assert mid == long
    assert short < long <= short + 4 * 4 * (8 * (2 * 5 + 1 + 4) + 64)
    assert long < ctcc.workspace_size([10000] * 4, [5] * 4, 29) / 100


@pytest.mark.parametrize(
    "args, kwargs, error, match",
    [
        (([5], [1], 0), {}, ValueError, "alphabet_size"),
        (([5], [1], 4), {"dtype": np.float16}, TypeError, "dtype"),
        (([-1], [1], 4), {}, ValueError, "logit_lengths"),
        (([5], [-2], 4), {}, ValueError, "label_lengths"),
        (([5, 5], [1], 4), {}, ValueError, "label_lengths"),
        (([], [], 4), {}, ValueError, "logit_lengths"),
    ],
)
def test_bad_arguments(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        ctcc.workspace_size(*args, **kwargs)


def test_workspace_cache_is_per_thread_and_results_do_not_depend_on_it():
    import threading

    rng = np.random.default_rng(5)
    x = rng.standard_normal((40, 3, 6)).astype(np.float32)
    labels = [[1, 2, 2], [3], [4, 5, 1, 1]]
    ctcc.clear_workspace_cache()
    first = ctcc.ctc_loss(x, labels)
    # A larger call in between grows the cache; a smaller one reuses it.
    ctcc.ctc_loss(rng.standard_normal((400, 3, 6)), labels)
    again = ctcc.ctc_loss(x, labels)
    assert np.array_equal(first[0], again[0]) and np.array_equal(first[1], again[1])

    out = {}

    def worker(i):
        out[i] = ctcc.ctc_loss(x, labels, num_threads=1)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i in range(4):
        assert np.array_equal(out[i][0], first[0]) and np.array_equal(out[i][1], first[1])
    ctcc.clear_workspace_cache()


def test_large_alphabet_gradient_stages_two_rows_per_thread():
    # A float32 gradient of 1024 classes or more: two rows of the alphabet
    # per thread (4 C bytes each, rounded up to 64), in which each thread
    # stages a frame's softmax; none for float64, the loss alone or fewer
    # classes.
    T, L = [20, 12, 16], [3, 2, 4]
    one = ctcc.workspace_size(T, L, 5000, num_threads=1)
    two = ctcc.workspace_size(T, L, 5000, num_threads=2)
    expected = 2 * 20032 if ctcc.openmp_enabled() else 0
    assert two - one == expected
    assert ctcc.workspace_size(T, L, 5000, num_threads=2, dtype=np.float64) == one - 2 * 20032
    assert ctcc.workspace_size(T, L, 5000, num_threads=2, grad=False) == ctcc.workspace_size(
        T, L, 5000, num_threads=1, grad=False
    )
    assert ctcc.workspace_size(T, L, 1023, num_threads=2) == ctcc.workspace_size(
        T, L, 1023, num_threads=1
    )
    with pytest.raises(ValueError, match="num_threads"):
        ctcc.workspace_size(T, L, 5000, num_threads=-1)


@pytest.mark.parametrize("C", [1024, 3001])
def test_large_alphabet_gradient_matches_the_float64_log_space_kernel(C):
    # The staged softmax rows (written past the cache) against an
    # independent path: the float64 log-space kernel, on every thread count.
    rng = np.random.default_rng(C)
    x = (2 * rng.standard_normal((15, 5, C))).astype(np.float32)
    labels = [rng.integers(1, C, size=n).tolist() for n in (4, 1, 6, 3, 5)]
    ref_loss, ref_grad = ctcc.ctc_loss(x.astype(np.float64), labels, kernel="log")
    first = None
    for threads in (1, 2, 3):
        loss, grad = ctcc.ctc_loss(x, labels, num_threads=threads)
        np.testing.assert_allclose(loss, ref_loss, rtol=1e-6)
        np.testing.assert_allclose(grad, ref_grad, rtol=0, atol=1e-6)
        if first is None:
            first = (loss, grad)
        else:
            assert np.array_equal(loss, first[0]) and np.array_equal(grad, first[1])
