"""The alpha modification from the scaled kernel's posteriors (the rows it
writes), and the batch's recomputation from log posteriors where the
bound of ALPHA_ROWS_ACCEPT (src/loss_impl.h) says that underflow could
matter: against the float64 log-space reference of eq. 13-16 in
test_modifications.py, the log-space kernel, and across thread counts.
Also the softmax that alpha and gamma read from the scaled kernel's class
probabilities, for the samples it computed only.

tests/test_modifications.py holds the inputs built to need log
posteriors (posteriors below the smallest double that eq. 15 scales up);
each of them fails when either half of the bound is switched off.
"""

import numpy as np
import pytest
from reference import log_softmax
from test_fallback import disagreeing_batch, peaked_batch, random_batch
from test_modifications import ref_log_targets

import ctcc

TOL = {np.float64: dict(rtol=0, atol=1e-12), np.float32: dict(rtol=0, atol=1e-6)}


def alpha_call(x, labels, **kw):
    used = np.full(x.shape[1], 7, np.uint8)
    loss, grad = ctcc.ctc_loss(x, labels, kernel_out=used, **kw)
    return loss, grad, used


def blank_below_the_doubles(dtype):
    """The blank's logit at -800 on every frame: eq. 15 scales its
    posteriors, about e^-800 (below the smallest double), to a share of the
    targets. The rows hold 0 for them; the log posteriors do not."""
    rng = np.random.default_rng(31)
    x = rng.normal(size=(9, 2, 4))
    x[..., 0] = -800.0
    return x.astype(dtype), [[1, 2], [3]]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind", ["random", "peaked"])
@pytest.mark.parametrize("alpha", [0.1, 0.5, 0.9])
def test_targets_from_the_scaled_kernel_match_the_reference(dtype, kind, alpha):
    if kind == "random":
        x, labels = random_batch(60, 4, 7, 12, seed=3, dtype=dtype)
    else:
        x, labels = peaked_batch(80, 4, 7, 12, seed=4, dtype=dtype)
    used = np.full(4, 7, np.uint8)
    targets = ctcc.ctc_posteriors(x, labels, alpha=alpha, kernel_out=used)
    assert (used == ctcc.KERNEL_SCALED).all()
    _, want = ref_log_targets(x, labels, alpha=alpha)
    np.testing.assert_allclose(targets, want, **TOL[dtype])
    loss, grad, used = alpha_call(x, labels, alpha=alpha)
    assert (used == ctcc.KERNEL_SCALED).all()
    np.testing.assert_allclose(grad, np.exp(log_softmax(x)) - want, **TOL[dtype])
    # alpha changes the gradient only: the loss is a plain call's, to the bit
    plain, _, _ = alpha_call(x, labels)
    assert loss.tobytes() == plain.tobytes()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("gamma", [0.0, 2.0])
def test_scaled_and_log_space_kernels_agree(dtype, gamma):
    x, labels = random_batch(300, 6, 29, 40, seed=5, dtype=dtype)
    loss, grad, used = alpha_call(x, labels, alpha=0.4, gamma=gamma)
    assert (used == ctcc.KERNEL_SCALED).all()
    want_loss, want_grad, want_used = alpha_call(
        x.astype(np.float64), labels, alpha=0.4, gamma=gamma, kernel="log"
    )
    assert (want_used == ctcc.KERNEL_LOG_SPACE).all()
    np.testing.assert_allclose(loss, want_loss, rtol=1e-6 if dtype == np.float32 else 1e-12)
    np.testing.assert_allclose(grad, want_grad, **TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_batch_whose_bound_fails_takes_the_log_posteriors(dtype):
    """Results to the bit as kernel="log" (the same log posteriors, scales
    and pass), reported as computed in log space; the losses a plain
    call's."""
    x, labels = blank_below_the_doubles(dtype)
    loss, grad, used = alpha_call(x, labels, alpha=0.5)
    assert (used == ctcc.KERNEL_LOG_SPACE).all()
    _, want_grad, _ = alpha_call(x, labels, alpha=0.5, kernel="log")
    assert grad.tobytes() == want_grad.tobytes()
    plain, _, plain_used = alpha_call(x, labels)
    assert (plain_used == ctcc.KERNEL_SCALED).all()  # plain CTC needs no fallback
    assert loss.tobytes() == plain.tobytes()
    _, want = ref_log_targets(x, labels, alpha=0.5)
    assert want[..., 0].max() > 0.05  # the blank's share the rows would lose
    np.testing.assert_allclose(grad, np.exp(log_softmax(x)) - want, **TOL[dtype])


def test_a_sample_that_fell_back_joins_the_others():
    """One sample falls back to the log-space kernel (its forward and
    backward evidence disagree), the other stays scaled: eq. 15 sums both
    samples' posteriors from the rows, and the targets match the
    reference."""
    T, C, L = 400, 8, 20
    bad, bad_labels = disagreeing_batch(T, 1, C, L, seed=7)
    good, good_labels = random_batch(T, 1, C, L, seed=8)
    x = np.concatenate([bad, good], axis=1)
    labels = np.concatenate([bad_labels, good_labels])
    _, _, plain_used = alpha_call(x, labels)
    assert plain_used.tolist() == [ctcc.KERNEL_LOG_SPACE, ctcc.KERNEL_SCALED]
    used = np.full(2, 7, np.uint8)
    targets = ctcc.ctc_posteriors(x, labels, alpha=0.5, kernel_out=used)
    assert used.tolist() == [ctcc.KERNEL_LOG_SPACE, ctcc.KERNEL_SCALED]
    _, want = ref_log_targets(x, labels, alpha=0.5)
    np.testing.assert_allclose(targets, want, **TOL[np.float64])


@pytest.mark.parametrize("case", ["scaled", "falls back"])
def test_bitwise_the_same_on_any_thread_count(case):
    if case == "scaled":
        x, labels = random_batch(500, 3, 29, 60, seed=9)
    else:
        x, labels = blank_below_the_doubles(np.float64)
        labels = np.array([[1, 2], [3, 3]])
    for n in (1, x.shape[1]):  # one sample (split over two threads), all
        want = alpha_call(x[:, :n], labels[:n], alpha=0.5, gamma=1.0, num_threads=1)
        for threads in (2, 3):
            got = alpha_call(x[:, :n], labels[:n], alpha=0.5, gamma=1.0, num_threads=threads)
            for a, b in zip(got, want):
                assert a.tobytes() == b.tobytes(), (case, n, threads)


@pytest.mark.parametrize("kw", [{"gamma": 1.0}, {"alpha": 0.5}, {"alpha": 0.5, "gamma": 1.0}])
def test_samples_that_fell_back_read_no_class_probabilities(kw):
    """The modifications read the softmax from the scaled kernel's class
    probabilities only for the samples it computed: a class at logit +800
    (in no label) leaves the others below the smallest double, the scaled
    kernel gives up in its first phase, before every frame's probabilities
    are written, and the log-space kernel computes the samples. A plain
    call first leaves the workspace as the kernel uses it."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=(60, 2, 8))
    labels = rng.integers(1, 7, size=(2, 5))
    x[:, 0, 7] = 800.0
    x[:30, 1, 7] = 800.0
    _, _, used = alpha_call(x, labels)
    assert (used == ctcc.KERNEL_LOG_SPACE).all()
    loss, grad, used = alpha_call(x, labels, **kw)
    assert (used == ctcc.KERNEL_LOG_SPACE).all()
    want_loss, want_grad, _ = alpha_call(x, labels, kernel="log", **kw)
    assert np.isfinite(grad).all()
    assert loss.tobytes() == want_loss.tobytes()
    np.testing.assert_allclose(grad, want_grad, rtol=0, atol=1e-12)
