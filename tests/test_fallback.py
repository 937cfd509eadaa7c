"""The scaled linear-space kernel, its log-space fallback and their report
(``kernel=``, ``kernel_out=``), against the float64 log-space reference of
tests/reference.py and the log-space kernel.

The adversarial inputs that must defeat the scaled kernel are in the C test
tests/c/test_fallback.c, which also runs against a library built without
the fallback; here: which samples each kernel computes, that the scaled
results meet the accuracy goals, and that they do not depend on the
thread count, including one long sample on two threads.
"""

import os

import numpy as np
import pytest
from reference import batch_reference

import ctcc


def peaked_batch(T, N, C, L, seed, log_probs=False, dtype=np.float32):
    """A trained model's outputs: a random alignment of each sample's labels
    at probability >= 0.999 per frame, other classes at log-probabilities
    from -10 to -30."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(1, C, size=(N, L))
    x = rng.uniform(-30.0, -10.0, size=(T, N, C))
    for n in range(N):
        # L distinct start frames in order, each label held 1-3 frames.
        starts = np.sort(rng.choice(np.arange(0, T - 3, 4), L, replace=False))
        cls = np.zeros(T, int)
        for k, s in enumerate(starts):
            cls[s : s + rng.integers(1, 4)] = labels[n, k]
        x[np.arange(T), n, cls] = 0.0
    if log_probs:
        x = x - np.log(np.exp(x).sum(-1, keepdims=True))
    return x.astype(dtype), labels


def random_batch(T, N, C, L, seed, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((T, N, C)).astype(dtype), rng.integers(1, C, size=(N, L))


def disagreeing_batch(T, N, C, L, seed, dtype=np.float64):
    """Random logits whose evidence disagrees: each sample's first label
    (1) is all but ruled out in the first half of the frames, its last (2)
    in the second half, so that every alignment pays about e^-1000. It
    falls back whatever the tilt, with and without the gradient."""
    x, labels = random_batch(T, N, C, L, seed)
    labels[:, 0], labels[:, -1] = 1, 2
    x[: T // 2, :, 1] = -1000.0
    x[T // 2 :, :, 2] = -1000.0
    return x.astype(dtype), labels


def tiny_log_probs(T, N, C, L, seed):
    """Log-probabilities from -1e3 to -1e30: beyond the scaled kernel."""
    rng = np.random.default_rng(seed)
    x = -(10.0 ** rng.uniform(3, 30, size=(T, N, C)))
    return x, rng.integers(1, C, size=(N, L))


def run(x, labels, **kw):
    used = np.full(x.shape[1], 7, np.uint8)
    loss, grad = ctcc.ctc_loss(x, labels, kernel_out=used, **kw)
    return loss, grad, used


@pytest.mark.parametrize("log_probs", [False, True])
@pytest.mark.parametrize("grad", [True, False])
def test_peaked_outputs_stay_scaled(log_probs, grad):
    x, labels = peaked_batch(400, 4, 29, 60, seed=1, log_probs=log_probs, dtype=np.float64)
    loss, g, used = run(x, labels, log_probs=log_probs, grad=grad)
    assert (used == ctcc.KERNEL_SCALED).all()
    want, want_grad, want_used = run(x, labels, log_probs=log_probs, grad=grad, kernel="log")
    assert (want_used == ctcc.KERNEL_LOG_SPACE).all()
    np.testing.assert_allclose(loss, want, rtol=1e-12)
    if grad:
        np.testing.assert_allclose(g, want_grad, rtol=0, atol=1e-12)


@pytest.mark.filterwarnings("ignore:overflow encountered in exp:RuntimeWarning")
def test_each_sample_reported_and_exact_in_a_mixed_batch():
    """Peaked samples stay scaled and tiny-log-probability samples fall
    back, in one call; every sample meets the float64 goals against the
    independent reference."""
    peaked, lab_p = peaked_batch(60, 3, 6, 8, seed=2, log_probs=True, dtype=np.float64)
    tiny, lab_t = tiny_log_probs(60, 2, 6, 8, seed=3)
    x = np.concatenate([peaked[:, :2], tiny, peaked[:, 2:]], axis=1)
    labels = np.concatenate([lab_p[:2], lab_t, lab_p[2:]])
    loss, grad, used = run(x, labels, log_probs=True)
    np.testing.assert_array_equal(used, [0, 0, 1, 1, 0])
    want, want_grad = batch_reference(x, list(labels), log_probs=True)
    # Losses near 0 (here 6e-4) are exact to the 1e-15 that T frames of
    # double rounding allow.
    np.testing.assert_allclose(loss, want, rtol=1e-12, atol=2e-15)
    peaked_cols = [0, 1, 4]  # the reference's own exp overflows on the rest
    np.testing.assert_allclose(grad[:, peaked_cols], want_grad[:, peaked_cols], atol=1e-12)
    log_loss, log_grad, _ = run(x, labels, log_probs=True, kernel="log")
    np.testing.assert_array_equal(loss[2:4], log_loss[2:4])  # recomputed there
    np.testing.assert_array_equal(grad[:, 2:4], log_grad[:, 2:4])


@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-12), (np.float32, 1e-6)])
@pytest.mark.parametrize("kind", ["peaked", "random"])
def test_scaled_kernel_meets_the_accuracy_goals(dtype, tol, kind):
    """float64: loss within 1e-12 relative and gradient within 1e-12
    absolute of the float64 log-space reference; float32: 1e-6. (The
    confident peaked losses are about 0.02 here.)"""
    if kind == "peaked":
        x, labels = peaked_batch(500, 2, 12, 60, seed=4, dtype=dtype)
    else:
        x, labels = random_batch(300, 2, 12, 40, seed=5, dtype=dtype)
    loss, grad, used = run(x, labels)
    assert (used == ctcc.KERNEL_SCALED).all()
    want, want_grad = batch_reference(x, list(labels))
    np.testing.assert_allclose(loss, want, rtol=tol)
    np.testing.assert_allclose(grad, want_grad, rtol=0, atol=tol)


@pytest.mark.filterwarnings("ignore:overflow encountered in exp:RuntimeWarning")
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("output", ["grad", "posteriors"])
def test_samples_sharing_a_table_get_their_own_results(threads, output):
    """In a batch at least as large as the thread count, a sample may run in
    the table of one its thread finished before. Lengths that grow, shrink
    and grow again (so a sample sometimes gets a larger table, sometimes
    keeps its own), samples that fall back (whose log-space kernel uses the
    table too), and more classes than states (no class probabilities):
    every sample must get, to the bit, what it gets alone."""
    C, T = 12, 240
    rng = np.random.default_rng(21)
    shapes = [(120, 20), (240, 40), (60, 30), (200, 3), (240, 40), (30, 5), (180, 60), (90, 2)]
    x = rng.standard_normal((T, len(shapes), C))
    x = x - np.log(np.exp(x).sum(-1, keepdims=True))
    tiny, _ = tiny_log_probs(T, 2, C, 1, seed=22)
    x[:, 2] = tiny[:, 0]  # these two fall back
    x[:, 5] = tiny[:, 1]
    lengths = np.array([t for t, _ in shapes])
    label_lengths = np.array([n for _, n in shapes])
    labels = np.zeros((len(shapes), label_lengths.max()), int)
    for n, L in enumerate(label_lengths):
        labels[n, :L] = rng.integers(1, C, size=L)

    def call(xs, labs, ts, ls):
        used = np.zeros(xs.shape[1], np.uint8)
        kw = dict(log_probs=True, kernel_out=used, num_threads=threads)
        if output == "grad":
            out = ctcc.ctc_loss(xs, labs, ts, ls, **kw)
        else:
            out = ctcc.ctc_posteriors(xs, labs, ts, ls, **kw)
        return out, used

    batch, used = call(x, labels, lengths, label_lengths)
    assert used[2] == used[5] == ctcc.KERNEL_LOG_SPACE
    assert (np.delete(used, [2, 5]) == ctcc.KERNEL_SCALED).all()
    for n in range(len(shapes)):
        alone, _ = call(
            x[:, n : n + 1], labels[n : n + 1], lengths[n : n + 1], label_lengths[n : n + 1]
        )
        if output == "grad":
            assert batch[0][n].tobytes() == alone[0][0].tobytes(), n
            assert batch[1][:, n].tobytes() == alone[1][:, 0].tobytes(), n
        else:
            assert batch[:, n].tobytes() == alone[:, 0].tobytes(), n


@pytest.mark.parametrize("threads", [1, 2])
def test_flush_to_zero_does_not_outlive_the_call(threads):
    """The scaled kernel's gradient tasks flush subnormal results to zero
    (an x86 control bit of the thread running them); the calling thread
    must get its own setting back: subnormal arithmetic still subnormal."""
    x, labels = peaked_batch(300, 4, 12, 40, seed=23, dtype=np.float64)
    tiny = np.float64(2.0**-1040)
    assert tiny * np.float64(1.5) > 0
    _, _, used = run(x, labels, num_threads=threads)
    assert (used == ctcc.KERNEL_SCALED).all()
    assert tiny * np.float64(1.5) == np.float64(2.0**-1040) * 1.5 > 0
    assert np.nextafter(0.0, 1.0) * np.float64(3.0) > 0


def test_posteriors_report_the_kernel_too():
    x, labels = peaked_batch(200, 3, 10, 20, seed=6, dtype=np.float64)
    used = np.zeros(3, np.uint8)
    post = ctcc.ctc_posteriors(x, labels, kernel_out=used)
    assert (used == ctcc.KERNEL_SCALED).all()
    want = ctcc.ctc_posteriors(x, labels, kernel="log")
    np.testing.assert_allclose(post, want, rtol=0, atol=1e-12)
    # The alpha modification from the scaled kernel's posteriors (peaked
    # outputs pass its bound), against the targets from log posteriors.
    targets = ctcc.ctc_posteriors(x, labels, alpha=0.5, kernel_out=used)
    assert (used == ctcc.KERNEL_SCALED).all()
    want = ctcc.ctc_posteriors(x, labels, alpha=0.5, kernel="log", kernel_out=used)
    assert (used == ctcc.KERNEL_LOG_SPACE).all()
    np.testing.assert_allclose(targets, want, rtol=0, atol=1e-12)


@pytest.mark.parametrize("grad", [True, False])
def test_one_long_sample_on_two_threads_is_bitwise_one_thread(grad):
    """N < threads: alpha and beta of one sample run on two threads; the
    results are those of one thread, to the bit."""
    x, labels = peaked_batch(3000, 1, 29, 300, seed=7)
    one = run(x, labels, grad=grad, num_threads=1)
    two = run(x, labels, grad=grad, num_threads=2)
    assert (one[2] == ctcc.KERNEL_SCALED).all() and (two[2] == one[2]).all()
    assert one[0].tobytes() == two[0].tobytes()
    if grad:
        assert one[1].tobytes() == two[1].tobytes()
    x3, labels3 = peaked_batch(800, 3, 29, 80, seed=8)
    a = run(x3, labels3, num_threads=1)
    b = run(x3, labels3, num_threads=4)  # 3 samples on 4 threads: split
    assert a[0].tobytes() == b[0].tobytes() and a[1].tobytes() == b[1].tobytes()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_one_long_sample_that_falls_back_on_two_threads(dtype):
    """N < threads and the bound fails: the log-space recomputation is split
    at the meeting frame as the scaled kernel is, and runs on two threads,
    as kernel="log" does. Losses, gradients and posteriors are those of one
    thread, and of kernel="log", to the bit."""
    x, labels = disagreeing_batch(5000, 1, 29, 250, seed=10, dtype=dtype)
    for grad in (True, False):
        one = run(x, labels, grad=grad, num_threads=1)
        two = run(x, labels, grad=grad, num_threads=2)
        log = run(x, labels, grad=grad, num_threads=1, kernel="log")
        log2 = run(x, labels, grad=grad, num_threads=2, kernel="log")
        assert (one[2] == ctcc.KERNEL_LOG_SPACE).all() and (two[2] == one[2]).all()
        for other in (two, log, log2):
            assert one[0].tobytes() == other[0].tobytes()
            if grad:
                assert one[1].tobytes() == other[1].tobytes()
        # Against the float64 reference of the loss: the split sums agree.
        want = run(x.astype(np.float64), labels, grad=False, kernel="log")[0]
        np.testing.assert_allclose(one[0], want, rtol=1e-6 if dtype == np.float32 else 1e-12)
    post = [
        ctcc.ctc_posteriors(x, labels, num_threads=k, kernel_out=np.zeros(1, np.uint8))
        for k in (1, 2)
    ]
    assert post[0].tobytes() == post[1].tobytes()
    want = ctcc.ctc_posteriors(x, labels, kernel="log")
    assert post[0].tobytes() == want.tobytes()


@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-12), (np.float32, 1e-6)])
def test_long_random_inputs_stay_scaled(dtype, tol):
    """Untrained outputs, T = 4000 and 2 labels per 20 frames (the shape of
    the benchmark's very-long): untilted, the rows' peaks leave the states
    where the probability is by more than the double range and the sample
    would fall back; tilted, it stays scaled and meets the accuracy goals,
    with the gradient (tilted at once) and loss only (the untilted first
    attempt fails its bound, the tilted second one tracks each entry's
    error), on one thread and on two alike."""
    x, labels = random_batch(4000, 2, 29, 400, seed=13, dtype=dtype)
    want_loss, want_grad, _ = run(x.astype(np.float64), labels, kernel="log")
    loss, grad, used = run(x, labels)
    assert (used == ctcc.KERNEL_SCALED).all(), used
    np.testing.assert_allclose(loss, want_loss, rtol=tol)
    np.testing.assert_allclose(grad, want_grad, rtol=0, atol=tol)
    assert run(x, labels, num_threads=2)[1].tobytes() == grad.tobytes()
    for threads in (1, 2):
        loss_only, _, used = run(x[:, :1], labels[:1], grad=False, num_threads=threads)
        assert (used == ctcc.KERNEL_SCALED).all(), used
        np.testing.assert_allclose(loss_only, want_loss[:1], rtol=tol)
        if threads == 1:
            first = loss_only
        assert loss_only.tobytes() == first.tobytes()


def test_a_sample_the_tilt_fails_is_retried_untilted():
    """Labels that come fast and then stop (all in the first 300 of 4000
    frames, the blank at logit +8 after): the tilt chosen for the whole
    sample holds its rows back and fails the bound; the untilted second
    attempt serves it, on one thread and on two (split) alike."""
    x, labels = random_batch(4000, 1, 29, 200, seed=14)
    x[300:, :, 0] += 8.0
    want_loss, want_grad, _ = run(x, labels, kernel="log")
    for threads in (1, 2):
        loss, grad, used = run(x, labels, num_threads=threads)
        assert (used == ctcc.KERNEL_SCALED).all(), (threads, used)
        np.testing.assert_allclose(loss, want_loss, rtol=1e-12)
        np.testing.assert_allclose(grad, want_grad, rtol=0, atol=1e-12)


@pytest.mark.parametrize("kernel", ["auto", "log"])
def test_alpha_modification_keeps_the_loss_of_a_sample_in_log_space(kernel):
    """The alpha modification needs the log posteriors of the unsplit
    log-space pass; its loss must still be the plain call's to the bit, for
    a sample that falls back and under kernel="log", on 1 and 2 threads."""
    x, labels = disagreeing_batch(4000, 2, 29, 200, seed=12)
    plain, _, used = run(x, labels, kernel=kernel)
    assert (used == ctcc.KERNEL_LOG_SPACE).all()
    for threads in (1, 2):
        for n in (1, 2):  # two samples, and one (split over the threads)
            loss, _, _ = run(x[:, :n], labels[:n], kernel=kernel, alpha=0.5, num_threads=threads)
            assert loss.tobytes() == plain[:n].tobytes(), (threads, n, loss, plain)


@pytest.mark.parametrize("bad", ["nan", "impossible"])
def test_one_bad_sample_on_two_threads_is_the_log_space_kernels(bad):
    """A NaN frame, or a class at -inf on every frame (no alignment), in a
    sample computed on two threads: the log-space kernel's NaN or infinite
    loss and its gradient, as on one thread."""
    x, labels = random_batch(600, 1, 29, 40, seed=11)
    x = x - np.log(np.exp(x).sum(-1, keepdims=True))
    if bad == "nan":
        x[300, 0, 5] = np.nan
    else:
        x[:, 0, labels[0, 0]] = -np.inf
    for threads in (1, 2):
        for zero_inf in (False, True):
            got = run(x, labels, log_probs=True, num_threads=threads, zero_infinity=zero_inf)
            want = run(x, labels, log_probs=True, kernel="log", zero_infinity=zero_inf)
            assert got[0].tobytes() == want[0].tobytes(), (threads, zero_inf, got[0])
            assert got[1].tobytes() == want[1].tobytes()
            assert (got[2] == ctcc.KERNEL_LOG_SPACE).all()


def test_loss_only_gives_the_gradient_calls_loss_when_scaled():
    x, labels = peaked_batch(500, 4, 29, 50, seed=9)
    with_grad, _, u1 = run(x, labels)
    alone, _, u2 = run(x, labels, grad=False)
    assert (u1 == 0).all() and (u2 == 0).all()
    assert with_grad.tobytes() == alone.tobytes()


@pytest.mark.parametrize("grad", [True, False])
def test_repeated_labels_keep_random_logits_scaled(grad):
    """A repeated label needs a blank between its two copies, so the
    states just inside the band's edges are exactly 0 for a while: not an
    underflow, and not charged to the bound. Random logits of the speech
    benchmark's shape (every label row with repeats) stay scaled, with and
    without the gradient, and meet the float64 goals against the log-space
    kernel."""
    x, labels = random_batch(700, 3, 29, 100, seed=12)
    labels[:, 10:14] = labels[:, 10:11]  # a run of four equal labels
    labels[:, 60:62] = labels[:, 60:61]
    loss, g, used = run(x, labels, grad=grad)
    assert (used == ctcc.KERNEL_SCALED).all()
    want, want_grad, _ = run(x, labels, grad=grad, kernel="log")
    np.testing.assert_allclose(loss, want, rtol=1e-12)
    if grad:
        np.testing.assert_allclose(g, want_grad, rtol=0, atol=1e-12)


def patchy_batch(T, N, C, L, seed, patch=40):
    """Peaked outputs (peaked_batch) with stretches of `patch` frames of
    random logits in between, one in two: rows with entries below the
    scaled kernel's flag level in the peaked stretches, none a few frames
    into the random ones."""
    x, labels = peaked_batch(T, N, C, L, seed, dtype=np.float64)
    rng = np.random.default_rng(seed + 1)
    for start in range(patch, T, 2 * patch):
        x[start : start + patch] = rng.standard_normal(x[start : start + patch].shape)
    return x, labels


@pytest.mark.parametrize("log_probs", [False, True])
@pytest.mark.parametrize("patch", [5, 13, 40])
def test_loss_alone_across_rows_with_and_without_flags(patch, log_probs):
    """The loss-only tasks count a row's flags in one of two ways, and go
    from one to the other as rows with flags come and go (see "Flags" in
    src/linear_impl.h), each resuming the frames where the other left
    them. Across many changes the loss stays the log-space kernel's (1e-12
    relative) and that of the call with the gradient (to the bit), and
    every sample stays scaled. (With log-probabilities each frame's scale
    holds its largest log-probability: a frame done twice or left out
    shows.)"""
    # (Long enough for many changes, short enough for the first, untilted
    # attempt to stand: a tilted second attempt counts flags otherwise.)
    x, labels = patchy_batch(600, 4, 29, 60, seed=21, patch=patch)
    if log_probs:
        x = x - np.log(np.exp(x).sum(-1, keepdims=True))
    kw = dict(log_probs=log_probs)
    alone, _, used = run(x, labels, grad=False, **kw)
    assert (used == ctcc.KERNEL_SCALED).all()
    want, _, _ = run(x, labels, grad=False, kernel="log", **kw)
    np.testing.assert_allclose(alone, want, rtol=1e-12)
    with_grad, _, used_grad = run(x, labels, **kw)
    assert (used_grad == ctcc.KERNEL_SCALED).all()
    assert with_grad.tobytes() == alone.tobytes()


def _scaled_matches_log_space(x, labels, log_probs):
    """Normalises x to log-probabilities when log_probs; asserts that the
    scaled kernel serves every sample with the log-space kernel's loss (to
    1e-12 relative) and gradient (1e-12 absolute). Returns x as used."""
    if log_probs:
        x = x - np.log(np.exp(x).sum(-1, keepdims=True))
    loss, g, used = run(x, labels, log_probs=log_probs)
    assert (used == ctcc.KERNEL_SCALED).all()
    want, want_grad, _ = run(x, labels, log_probs=log_probs, kernel="log")
    np.testing.assert_allclose(loss, want, rtol=1e-12)
    np.testing.assert_allclose(g, want_grad, rtol=0, atol=1e-12)
    return x


@pytest.mark.parametrize("C", [8, 9, 10])
@pytest.mark.parametrize("log_probs", [False, True])
def test_class_probabilities_kept_between_phases(C, log_probs):
    """Around C = S (here S = 9), where the scaled kernel keeps each frame's
    class probabilities from its first phase for the second (and where the
    band, narrower near both ends, takes one exp per state in some frames
    and one per class in others): gradient and posteriors as the log-space
    kernel's, to 1e-12."""
    x, labels = random_batch(30, 3, C, 4, seed=13)
    x = _scaled_matches_log_space(x, labels, log_probs)
    post = ctcc.ctc_posteriors(x, labels, log_probs=log_probs)
    want_post = ctcc.ctc_posteriors(x, labels, log_probs=log_probs, kernel="log")
    np.testing.assert_allclose(post, want_post, rtol=0, atol=1e-12)


@pytest.mark.parametrize("C", [2, 7, 8, 15, 16, 17, 29, 32, 33, 40])
@pytest.mark.parametrize("log_probs", [False, True])
def test_class_counts_around_the_vector_blocks(C, log_probs):
    """The scaled kernel's per-class loops (maximum, exps and their sum,
    softmax) run in blocks of 8 classes, the last overlapping the one
    before: below, at and past multiples of 8, every class counts once.
    S = 41 holds more states than classes, so every frame takes one exp
    per class. Up to 32 classes, on a processor with AVX-512, the labels'
    emissions are looked up in registers (two permutes and a blend on bit
    4 of the class) rather than gathered: classes on both sides of 16 and
    of 32."""
    x, labels = random_batch(60, 3, C, 20, seed=C)
    x = _scaled_matches_log_space(x, labels, log_probs)
    lone, _ = ctcc.ctc_loss(x, labels, log_probs=log_probs, grad=False)
    want, _ = ctcc.ctc_loss(x, labels, log_probs=log_probs, grad=False, kernel="log")
    np.testing.assert_allclose(lone, want, rtol=1e-12)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"kernel": "fast"}, ValueError, "kernel"),
        ({"kernel": 1}, ValueError, "kernel"),
        ({"kernel_out": np.zeros(2, np.int32)}, TypeError, "kernel_out"),
        ({"kernel_out": np.zeros(3, np.uint8)}, ValueError, "kernel_out"),
        ({"kernel_out": np.zeros((2, 1), np.uint8)}, ValueError, "kernel_out"),
        ({"kernel_out": [0, 0]}, TypeError, "kernel_out"),
    ],
)
def test_bad_kernel_arguments(kwargs, error, match):
    x, labels = random_batch(10, 2, 5, 2, seed=10)
    with pytest.raises(error, match=match):
        ctcc.ctc_loss(x, labels, **kwargs)
    with pytest.raises(error, match=match):
        ctcc.ctc_posteriors(x, labels, **kwargs)


def test_refused_kernel_out_is_left_alone():
    x, labels = random_batch(10, 2, 5, 2, seed=11)
    out = np.full(2, 9, np.uint8)
    with pytest.raises(ValueError):
        ctcc.ctc_loss(x, labels, kernel="nope", kernel_out=out)
    np.testing.assert_array_equal(out, [9, 9])


def certain_stretches_batch(dtype, N=16):
    """Labels 1, 2, 3 over 40 frames of log-probabilities: frames 0-4 certain
    of label 1, 15-24 of label 3, 35-39 of the blank (the other classes at
    -200), the rest undecided (random, a different probability of the
    labels for each sample). In a certain frame one state holds all of the
    frame's mass (the rest is e^-200 of it), and between the stretches the
    paths move further than two states, so that the state of the stretch
    before is no guide."""
    C, T = 5, 40
    rng = np.random.default_rng(25)
    x = rng.standard_normal((T, N, C))
    x = x - np.log(np.exp(x).sum(-1, keepdims=True))
    stretches = [(0, 5, 1), (15, 25, 3), (35, 40, 0)]
    for start, stop, cls in stretches:
        x[start:stop] = -200.0
        x[start:stop, :, cls] = 0.0
    return x.astype(dtype), np.tile([1, 2, 3], (N, 1)), stretches


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kernel", ["auto", "log"])
def test_a_state_holding_a_frames_mass_gets_exactly_one(dtype, kernel):
    """Such a state (or the blanks) gets a posterior of exactly 1 and a
    gradient of exactly -1 with respect to its log-probability, not a
    rounding below: in both kernels, both halves of the frames, and after
    stretches where no state holds everything."""
    x, labels, stretches = certain_stretches_batch(dtype)
    used = np.zeros(x.shape[1], np.uint8)
    post = ctcc.ctc_posteriors(x, labels, log_probs=True, kernel=kernel, kernel_out=used)
    _, grad = ctcc.ctc_loss(x, labels, log_probs=True, kernel=kernel)
    assert (used == (ctcc.KERNEL_SCALED if kernel == "auto" else ctcc.KERNEL_LOG_SPACE)).all()
    for start, stop, cls in stretches:
        assert (post[start:stop, :, cls] == 1).all(), (start, post[start:stop, :, cls] - 1)
        assert (grad[start:stop, :, cls] == -1).all(), (start, grad[start:stop, :, cls] + 1)
    want, want_grad = batch_reference(x.astype(np.float64), list(labels), log_probs=True)
    tol = 1e-12 if dtype == np.float64 else 1e-6
    np.testing.assert_allclose(grad, want_grad, rtol=0, atol=tol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_loss_alone_with_a_row_far_below_the_one_before(dtype):
    """The last frame gives every class of the sample's states a
    log-probability of -680, e^-680 = 2^-981 of its largest (a class no
    label uses): the backward task's first row is about 2^-981, and the
    next frame's emissions carry 2^981 to bring it back, which that task
    must not raise past the double range when it forms its products higher
    (LIN_LIFT; unguarded they overflow, and the sample falls back)."""
    T, N, C, L = 30, 2, 6, 5
    rng = np.random.default_rng(24)
    x = rng.uniform(-3.0, 0.0, size=(T, N, C))
    labels = rng.integers(1, C - 1, size=(N, L))
    x[-1, :, :] = -680.0
    x[-1, :, C - 1] = 0.0
    x = x.astype(dtype)
    used = np.zeros(N, np.uint8)
    loss, _ = ctcc.ctc_loss(x, labels, log_probs=True, grad=False, kernel_out=used)
    assert (used == ctcc.KERNEL_SCALED).all()
    want, _ = ctcc.ctc_loss(x, labels, log_probs=True, grad=False, kernel="log")
    np.testing.assert_allclose(loss, want, rtol=1e-12 if dtype == np.float64 else 1e-6)


# Log-probability levels from 0 to -1200: e^x is 0 in double precision
# from about -745 on (and the kernel's exps return 0 from -708 on).
LEVELS = np.array([0.0, -2.0, -40.0, -200.0, -400.0, -600.0, -750.0, -900.0, -1200.0])


def levels_batch(T, L, seed, N=64, C=4):
    """Log-probabilities drawn from LEVELS, half of the frames with their
    largest on a class no label uses: many of the emissions e^x are 0 in
    double precision, and many sums of the backward task are 0 where their
    successors are not."""
    rng = np.random.default_rng(seed)
    x = LEVELS[rng.integers(0, len(LEVELS), size=(T, N, C))]
    x[:, :, C - 1] = np.where(rng.random((T, N)) < 0.5, 0.0, x[:, :, C - 1])
    return x, rng.integers(1, C - 1, size=(N, L))


def sprinkled_batch(rng, T, L, N, share, first=None):
    """Standard normal log-probabilities over 4 classes with a share of the
    entries (a number, or a choice of numbers drawn after the entries),
    and `first` of frame 0's if given, at LEVELS; labels from {1, 2}."""
    x = rng.standard_normal((T, N, 4))
    draw = rng.random(x.shape)
    mask = draw < (share if np.isscalar(share) else rng.choice(share))
    if first is not None:
        mask[0] = rng.random(mask[0].shape) < first
    x[mask] = LEVELS[rng.integers(0, len(LEVELS), size=mask.sum())]
    return x, rng.integers(1, 3, size=(N, L))


def assert_as_log_space(x, labels, tol, where, grad=False):
    """ctcc.ctc_loss on log-probabilities gives the log-space kernel's
    costs (the infinite ones exactly) and, with grad, its gradient."""
    loss, g = ctcc.ctc_loss(x, labels, log_probs=True, grad=grad)
    want, want_g = ctcc.ctc_loss(x, labels, log_probs=True, grad=grad, kernel="log")
    finite = np.isfinite(want)
    assert (loss[~finite] == want[~finite]).all(), where
    np.testing.assert_allclose(loss[finite], want[finite], rtol=tol, atol=1e-12, err_msg=where)
    if grad:
        np.testing.assert_allclose(g, want_g, rtol=0, atol=1e-10, err_msg=where)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_loss_alone_counts_the_sums_that_underflow_to_zero(dtype):
    """Without the gradient the backward task tells an exact 0 (successors
    all 0, no error) from a sum that underflowed (flagged, charged to the
    bound) by the sum alone only where the frame's emissions are large
    enough for that (LIN_LEAN_LEAST); here they are not, and a kernel
    that trusted the sum anyway accepts wrong losses (checked: 9 of these
    samples in float64, off by up to 298 nats)."""
    tol = 1e-12 if dtype == np.float64 else 1e-6
    for T in range(3, 14):
        for L in range(1, 5):
            x, labels = levels_batch(T, L, seed=100 * T + L)
            assert_as_log_space(x.astype(dtype), labels, tol, f"T={T} L={L}")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_loss_alone_with_error_rows_past_the_double_range(dtype):
    """Long random log-probabilities with a tenth of their entries at
    LEVELS: the untilted loss-only attempt gives up, and the tilted one
    tracks each entry's error, whose rows here grow past the double range
    (inf, and inf times 0 is NaN in the bound). A NaN bound must send the
    sample to the log-space kernel: taking it for "no error rows" accepted
    losses off by hundreds of nats (checked)."""
    rng = np.random.default_rng(1)
    tol = 1e-12 if dtype == np.float64 else 1e-6
    for T, L in [(T, L) for T in (64, 90, 113, 127) for L in (1, 2, 3, 6)]:
        x, labels = sprinkled_batch(rng, T, L, 32, 0.1)
        assert_as_log_space(x.astype(dtype), labels, tol, f"T={T} L={L}")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_loss_alone_charges_the_first_frames_underflows(dtype):
    """As above, with half of the first frame's entries at those levels:
    the tilted loss-only attempt's error rows start at frame 0, whose
    entries have no predecessors, so an emission that underflowed there
    is flagged like any other. Error rows that started at 0 accepted
    losses off by tens of nats (checked: 4 samples in float64)."""
    tol = 1e-12 if dtype == np.float64 else 1e-6
    for seed in range(4):
        rng = np.random.default_rng(seed)
        for T, L in [(T, L) for T in (64, 75, 90, 127) for L in (1, 2, 3)]:
            x, labels = sprinkled_batch(rng, T, L, 32, 0.1, first=0.5)
            assert_as_log_space(x.astype(dtype), labels, tol, f"seed={seed} T={T} L={L}")


def test_a_class_flushed_to_zero_after_a_row_of_tiny_entries():
    """A sample (found by a random search over log-probabilities at levels
    0 to -1200) where frame 33 gives every class of its states -600 or
    less against an unused class's 0, so that the row's entries are all
    about e^-600 and the next frame's emissions carry e^600 to rescale it;
    that frame's blank, at -1200, is flushed to 0 by the exp before the
    factor multiplies it, where it stands for e^-600 of the row, far more
    than a flagged entry's charge (LIN_FLUSHED_MAX). The sample must fall
    back: without the check, the loss alone came out 26 nats too large."""
    path = os.path.join(os.path.dirname(__file__), "data", "flushed_after_tiny_row.npy")
    x = np.load(path)[:, None, :]
    labels = np.array([[1, 1, 1, 1, 1, 1, 2, 2, 2]])
    assert x[33, 0, :3].max() <= -600 and x[34, 0, 0] - x[34, 0].max() < -708
    want, want_grad = batch_reference(x, list(labels), log_probs=True)
    for grad in (False, True):
        used = np.zeros(1, np.uint8)
        loss, g = ctcc.ctc_loss(x, labels, log_probs=True, grad=grad, kernel_out=used)
        np.testing.assert_allclose(loss, want, rtol=1e-12)
        if grad:
            np.testing.assert_allclose(g, want_grad, rtol=0, atol=1e-12)


@pytest.mark.parametrize("grad", [False, True])
def test_random_extreme_levels_against_the_log_space_kernel(grad):
    """A search for inputs that defeat the scaled kernel's bound: standard
    normal log-probabilities with a share of the entries at LEVELS, from
    3 to 130 frames. Every sample, scaled or fallen back, must give the
    log-space kernel's loss and gradient. (Searches of this kind found the
    three faults the tests above pin down; this one fails on the code
    before their fixes, checked.)"""
    rng = np.random.default_rng(20261130)
    for _ in range(600):
        T = int(rng.integers(3, 131))
        L = int(rng.integers(1, 12))
        x, labels = sprinkled_batch(rng, T, L, 16, (0.05, 0.1, 0.3))
        assert_as_log_space(x, labels, 1e-12, f"T={T} L={L}", grad=grad)
