"""The softmax normaliser of large alphabets (more classes than a sample's
states), which sums the exps of a frame's classes in float32 runs with the
classes at the frame's maximum kept apart (``log_normaliser`` in
``src/loss_impl.h``), and NaN / +inf in a frame, which both that and the
small alphabets' one exp per class (``lin_emissions`` in
``src/linear_impl.h``) find through the sum of the exps rather than by
testing every class.

References: the float64 log-space forward-backward of ``tests/reference.py``
(independent of ctcc), and ctcc's own float64 entry for the NaN / +inf
cases, whose semantics the small-alphabet tests pin down.
"""

import numpy as np
import pytest
from reference import batch_reference

import ctcc

T, N, C, L = 30, 3, 3000, 4
KERNELS = ("auto", "log")


def _peaked(rng, low=-30.0, high=-12.0, ties=1):
    """A trained model's outputs over a large alphabet, and their labels: in
    every frame the class of one alignment of the labels (labels on L
    frames at least two apart, blank elsewhere) and ties - 1 other classes
    at logit 0 (the frame's maximum, exactly), the rest uniform in [low,
    high]. With ties = 1 the loss is made of the tiny terms."""
    x = rng.uniform(low, high, size=(T, N, C))
    labels = []
    for n in range(N):
        seq = rng.integers(1, C, size=L)
        frames = 2 * np.sort(rng.choice(T // 2, size=L, replace=False))
        path = np.zeros(T, dtype=np.int64)
        path[frames] = seq
        for t in range(T):
            x[t, n, path[t]] = 0.0
            others = rng.choice(C, size=ties - 1, replace=False)
            x[t, n, others[others != path[t]]] = 0.0
        labels.append(list(seq))
    return x.astype(np.float32), labels


def _check_against_reference(x, labels, kernel):
    loss, grad = ctcc.ctc_loss(x, labels, kernel=kernel)
    ref_loss, ref_grad = batch_reference(x, labels)
    np.testing.assert_allclose(loss, ref_loss, rtol=1e-6, atol=0)
    np.testing.assert_allclose(grad, ref_grad, rtol=0, atol=1e-6)
    loss_only, _ = ctcc.ctc_loss(x, labels, kernel=kernel, grad=False)
    np.testing.assert_allclose(loss_only, ref_loss, rtol=1e-6, atol=0)


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_peaked_large_alphabet_float32(kernel, seed):
    """The loss of peaked outputs is the sum of the classes below the
    maximum: a float32 run holding the maximum's 1 would round them to
    about 1e-7 each frame, 1e-5 of this loss."""
    x, labels = _peaked(np.random.default_rng(seed))
    _check_against_reference(x, labels, kernel)


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("ties", [2, 5])
def test_ties_at_the_maximum(kernel, ties):
    """Several classes exactly at the frame's maximum: each counts 1."""
    x, labels = _peaked(np.random.default_rng(10 + ties), ties=ties)
    _check_against_reference(x, labels, kernel)


@pytest.mark.parametrize("kernel", KERNELS)
def test_random_large_alphabet_float32(kernel):
    rng = np.random.default_rng(20)
    x = rng.normal(scale=3.0, size=(T, N, C)).astype(np.float32)
    _check_against_reference(x, [list(rng.integers(1, C, size=L)) for _ in range(N)], kernel)


# Alphabets and label lengths for each way a frame's classes are read:
# fewer classes than a vector's lanes, as many classes as states (one exp
# per class, in blocks of 8 with the last one overlapping), and more
# classes than states (the normaliser's float32 runs of 64 classes). The
# positions: the first class, inside and at the ends of blocks and runs,
# in the overlap or after the last whole run, and the last class.
ALPHABETS = {
    5: (4, [0, 2, 4]),
    29: (14, [0, 7, 8, 20, 21, 27, 28]),
    C: (L, [0, 17, 63, 64, 2950, 2990, C - 1]),
}


@pytest.mark.parametrize("classes", sorted(ALPHABETS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("bad", [np.nan, np.inf])
@pytest.mark.parametrize("grad", [True, False])
@pytest.mark.parametrize("log_probs", [False, True])
def test_nan_or_inf_anywhere_in_a_frame(classes, dtype, kernel, bad, grad, log_probs):
    """A NaN or +inf at any class of a frame makes that sample's loss (and
    gradient) NaN and leaves the others as they were."""
    length, positions = ALPHABETS[classes]
    rng = np.random.default_rng(30 + classes)
    clean = rng.normal(size=(T, N, classes)).astype(dtype)
    if log_probs:
        clean -= np.log(np.exp(clean.astype(np.float64)).sum(axis=2, keepdims=True)).astype(dtype)
    labels = [list(rng.integers(1, classes, size=length)) for _ in range(N)]

    def run(x):
        return ctcc.ctc_loss(x, labels, kernel=kernel, grad=grad, log_probs=log_probs)

    clean_loss, clean_grad = run(clean)
    assert np.all(np.isfinite(clean_loss))
    for c in positions:
        x = clean.copy()
        x[T // 2, 1, c] = bad
        loss, g = run(x)
        assert np.isnan(loss[1]), (c, loss)
        assert np.array_equal(loss[[0, 2]], clean_loss[[0, 2]]), c
        if grad:
            assert np.all(np.isnan(g[:, 1])), c
            assert np.array_equal(g[:, [0, 2]], clean_grad[:, [0, 2]]), c


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("grad", [True, False])
def test_nan_in_a_frame_of_minus_inf(kernel, grad):
    """A frame of -inf but for one NaN (the maximum skips the NaN and finds
    -inf) is a NaN frame; a frame of -inf only makes the sample impossible."""
    rng = np.random.default_rng(40)
    x = rng.normal(size=(T, N, C)).astype(np.float32)
    labels = [list(rng.integers(1, C, size=L)) for _ in range(N)]
    x[3, 0, :] = -np.inf
    x[3, 0, 1234] = np.nan
    x[5, 2, :] = -np.inf
    loss, g = ctcc.ctc_loss(x, labels, kernel=kernel, grad=grad)
    assert np.isnan(loss[0])
    assert np.isfinite(loss[1])
    assert loss[2] == np.inf
    if grad:
        assert np.all(np.isnan(g[:, 0]))
        assert np.all(g[:, 2] == 0)
