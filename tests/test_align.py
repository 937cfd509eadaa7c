"""Tests of ctcc.forced_align (and ctcc.tensorflow.forced_align) against an
independent brute force over all paths of tiny problems, properties of the
paths on larger batches, and the error messages."""

import functools
import itertools
import re

import numpy as np
import pytest

ctcc = pytest.importorskip("ctcc")


# --- brute-force reference ---------------------------------------------------


@functools.cache
def _paths(T, C, blank):
    """Every class path of T frames over C classes: (paths [P, T], the
    collapsed label tuple of each, the CTC state sequence of each [P, T])."""
    paths = np.array(list(itertools.product(range(C), repeat=T)), dtype=np.int64)
    paths = paths.reshape(len(paths), T)  # one empty path when T = 0
    collapsed, states = [], np.zeros(paths.shape, np.int64)
    for p, path in enumerate(paths):
        out, prev = [], -1
        for t, c in enumerate(path):
            if c == blank:
                states[p, t] = 2 * len(out)
            elif c == prev:
                states[p, t] = 2 * len(out) - 1
            else:
                out.append(int(c))
                states[p, t] = 2 * len(out) - 1
            prev = c
        collapsed.append(tuple(out))
    return paths, collapsed, states


def _log_softmax(x):
    """Log-softmax over the last axis; a row of -inf only stays -inf."""
    x = np.asarray(x, np.float64)
    m = np.max(x, axis=-1, keepdims=True) if x.size else np.zeros(x.shape[:-1] + (1,))
    ok = np.isfinite(m)
    m = np.where(ok, m, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = x - m - np.log(np.sum(np.exp(x - m), axis=-1, keepdims=True))
    return np.where(ok, out, -np.inf)


def brute_align(logp, labels, blank, end_tie="blank"):
    """Best path of one sample from logp [T, C] (log-probabilities): returns
    (score, frames [T], spans [L, 2]). Ties go to the path whose state
    sequence, read from the last frame backwards, is the largest; with
    ``end_tie="label"``, first to a path ending on the last label."""
    T, C = logp.shape
    L = len(labels)
    paths, collapsed, states = _paths(T, C, blank)
    keep = np.array([c == tuple(labels) for c in collapsed], bool)
    no_path = (-np.inf, np.full(T, -1, np.int32), np.full((L, 2), -1, np.int32))
    if not keep.any():
        return no_path
    paths, states = paths[keep], states[keep]
    scores = logp[np.arange(T)[None, :], paths].sum(axis=1) if T else np.zeros(len(paths))
    best = scores.max()
    if best == -np.inf:
        return no_path
    cand = np.flatnonzero(scores == best)
    S = 2 * L + 1
    if end_tie == "label":
        pick = max(cand, key=lambda i: (T > 0 and states[i][-1] == S - 2, tuple(states[i][::-1])))
    else:
        pick = max(cand, key=lambda i: tuple(states[i][::-1]))
    frames = paths[pick].astype(np.int32)
    spans = np.full((L, 2), -1, np.int32)
    for t, s in enumerate(states[pick]):
        if s % 2 == 1:
            j = s // 2
            if spans[j, 0] < 0:
                spans[j, 0] = t
            spans[j, 1] = t + 1
    return float(best), frames, spans


def _random_problem(rng, *, ties=False, neg_inf=False):
    C = int(rng.integers(1, 5))
    T = int(rng.integers(0, 7))
    N = int(rng.integers(1, 4))
    blank = [0, -1, C // 2][int(rng.integers(0, 3))]
    b = blank % C
    others = [c for c in range(C) if c != b]
    labels = []
    for _ in range(N):
        # usually short enough for the frames, sometimes too long
        L = int(rng.integers(0, 5) if rng.random() < 0.25 else rng.integers(0, T // 2 + 2))
        L = min(L, 4) if others else 0
        seq = []
        for _ in range(L):
            if seq and rng.random() < 0.35:
                seq.append(seq[-1])  # a repeat
            else:
                seq.append(int(rng.choice(others)))
        labels.append(seq)
    if ties:
        # mostly -1, some -2: sums are exact and often equal
        x = -1.0 - (rng.random((T, N, C)) < 0.25)
    else:
        x = rng.normal(scale=2.0, size=(T, N, C))
    if neg_inf:
        x[rng.random(x.shape) < 0.2] = -np.inf
    # biased towards long inputs, so that most samples have a path
    lengths = np.maximum(rng.integers(0, T + 1, size=N), rng.integers(0, T + 1, size=N))
    return x, labels, lengths, blank


def _check_against_brute(
    x, labels, lengths, blank, *, log_probs, time_major, dtype, exact, end_tie="blank"
):
    xin = x.astype(dtype)
    arg = xin if time_major else np.ascontiguousarray(xin.transpose(1, 0, 2))
    res = ctcc.forced_align(
        arg,
        labels,
        lengths,
        blank=blank,
        time_major=time_major,
        log_probs=log_probs,
        end_tie=end_tie,
    )
    T, N, C = x.shape
    assert isinstance(res, ctcc.Alignment)
    assert res.frames.shape == (N, T) and res.frames.dtype == np.int32
    assert res.scores.shape == (N,) and res.scores.dtype == dtype
    assert len(res.spans) == N
    for n in range(N):
        xs = xin[: lengths[n], n].astype(np.float64)
        logp = xs if log_probs else _log_softmax(xs)
        score, frames, spans = brute_align(logp, labels[n], blank % C, end_tie)
        np.testing.assert_array_equal(res.frames[n, : lengths[n]], frames, err_msg=f"sample {n}")
        assert np.all(res.frames[n, lengths[n] :] == -1)
        assert res.spans[n].dtype == np.int32 and res.spans[n].shape == (len(labels[n]), 2)
        np.testing.assert_array_equal(res.spans[n], spans, err_msg=f"sample {n}")
        if exact and dtype == np.float64:
            assert res.scores[n] == score, (n, res.scores[n], score)
        elif np.isinf(score):
            assert res.scores[n] == score
        else:
            tol = 1e-6 if dtype == np.float32 else 1e-12
            np.testing.assert_allclose(res.scores[n], score, rtol=tol, atol=tol)


@pytest.mark.parametrize("seed", range(120))
def test_brute_force_random(seed):
    rng = np.random.default_rng(1000 + seed)
    x, labels, lengths, blank = _random_problem(rng, neg_inf=seed % 3 == 2)
    for log_probs in (False, True):
        for time_major in (True, False):
            dtype = np.float64 if (seed + time_major) % 2 else np.float32
            xin = _log_softmax(x) if log_probs and seed % 2 else x
            _check_against_brute(
                xin.astype(dtype).astype(np.float64),
                labels,
                lengths,
                blank,
                log_probs=log_probs,
                time_major=time_major,
                dtype=dtype,
                exact=False,
            )


@pytest.mark.parametrize(
    "end_tie, seed", [("blank", s) for s in range(100)] + [("label", s) for s in range(60)]
)
def test_brute_force_exact_ties(end_tie, seed):
    """Integer log-probabilities: many paths tie exactly, and the tie rule
    of the brute force (largest state sequence from the end; with
    end_tie="label", first a path ending on the last label, torchaudio's
    rule) must hold."""
    rng = np.random.default_rng((5000 if end_tie == "blank" else 7000) + seed)
    x, labels, lengths, blank = _random_problem(rng, ties=True, neg_inf=seed % 4 == 3)
    for dtype in (np.float64, np.float32):
        _check_against_brute(
            x,
            labels,
            lengths,
            blank,
            log_probs=True,
            time_major=bool(seed % 2),
            dtype=dtype,
            exact=True,
            end_tie=end_tie,
        )


def test_end_tie_by_hand_and_its_errors():
    x = np.full((3, 1, 2), -0.5)  # every path equally probable
    blank_end = ctcc.forced_align(x, [[1]], log_probs=True)
    label_end = ctcc.forced_align(x, [[1]], log_probs=True, end_tie="label")
    np.testing.assert_array_equal(blank_end.frames, [[1, 0, 0]])
    np.testing.assert_array_equal(label_end.frames, [[1, 1, 1]])
    np.testing.assert_array_equal(label_end.spans[0], [[0, 3]])
    assert label_end.scores[0] == blank_end.scores[0] == -1.5
    # Without a tie at the end the rule changes nothing.
    x = np.log(np.array([[0.7, 0.3], [0.6, 0.4], [0.9, 0.1]]))[:, None, :]
    for end_tie in ("blank", "label"):
        np.testing.assert_array_equal(
            ctcc.forced_align(x, [[1]], log_probs=True, end_tie=end_tie).frames, [[0, 1, 0]]
        )
    for bad in ("Label", "", None, 1, True):
        with pytest.raises(ValueError, match="end_tie"):
            ctcc.forced_align(x, [[1]], log_probs=True, end_tie=bad)


def test_tie_rules_by_hand():
    # All paths equally probable: stay as long as possible from the end, so
    # the label comes first and the path ends on the final blank.
    x = np.full((3, 1, 2), -0.5)
    res = ctcc.forced_align(x, [[1]], log_probs=True)
    np.testing.assert_array_equal(res.frames, [[1, 0, 0]])
    np.testing.assert_array_equal(res.spans[0], [[0, 1]])
    assert res.scores[0] == -1.5
    # Two labels in four frames, uniform: 1 2 0 0.
    x = np.zeros((4, 1, 3))
    res = ctcc.forced_align(x, [[1, 2]])
    np.testing.assert_array_equal(res.frames, [[1, 2, 0, 0]])
    np.testing.assert_array_equal(res.spans[0], [[0, 1], [1, 2]])
    np.testing.assert_allclose(res.scores[0], 4 * np.log(1 / 3), rtol=1e-14)


def test_special_cases():
    rng = np.random.default_rng(7)
    x = rng.normal(size=(5, 6, 4))
    x[:, 4, 2] = -np.inf  # class 2 impossible in sample 4
    labels = [[1, 1], [1, 1], [], [], [2], [3, 1, 3]]
    lengths = [3, 2, 4, 0, 5, 5]
    res = ctcc.forced_align(x, labels, lengths)
    # A repeat needs a blank between: 1 0 1 in three frames ...
    np.testing.assert_array_equal(res.frames[0], [1, 0, 1, -1, -1])
    np.testing.assert_array_equal(res.spans[0], [[0, 1], [2, 3]])
    # ... and is infeasible in two.
    assert res.scores[1] == -np.inf
    assert np.all(res.frames[1] == -1) and np.all(res.spans[1] == -1)
    # No labels: all blank; T = 0 and L = 0: score 0.
    np.testing.assert_array_equal(res.frames[2], [0, 0, 0, 0, -1])
    np.testing.assert_allclose(res.scores[2], _log_softmax(x[:4, 2])[:, 0].sum(), rtol=1e-12)
    assert res.scores[3] == 0 and np.all(res.frames[3] == -1)
    # Probability zero (-inf on the label's class): -inf, frames -1.
    assert res.scores[4] == -np.inf and np.all(res.frames[4] == -1)
    np.testing.assert_array_equal(res.spans[4], [[-1, -1]])
    assert np.isfinite(res.scores[5])


@pytest.mark.parametrize("log_probs", [False, True])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_and_inf_inputs(log_probs, bad):
    rng = np.random.default_rng(3)
    x = _log_softmax(rng.normal(size=(6, 3, 4)))
    labels = [[1, 2], [3], [2]]
    lengths = [6, 6, 4]
    clean = ctcc.forced_align(x, labels, lengths, log_probs=log_probs)
    x[2, 0, 3] = bad  # a class sample 0's labels do not use, in a valid frame
    x[5, 2, 1] = bad  # past sample 2's length: never read
    res = ctcc.forced_align(x, labels, lengths, log_probs=log_probs)
    assert np.isnan(res.scores[0])
    assert np.all(res.frames[0] == -1) and np.all(res.spans[0] == -1)
    np.testing.assert_array_equal(res.frames[1:], clean.frames[1:])
    np.testing.assert_array_equal(res.scores[1:], clean.scores[1:])


def test_empty_time():
    res = ctcc.forced_align(np.zeros((0, 2, 3), np.float32), [[], [1]])
    assert res.frames.shape == (2, 0)
    assert res.scores[0] == 0 and res.scores[1] == -np.inf
    np.testing.assert_array_equal(res.spans[1], [[-1, -1]])


# --- larger batches: properties ------------------------------------------------


def _large(seed, dtype=np.float32, N=24, T=90, C=12):
    rng = np.random.default_rng(seed)
    x = rng.normal(scale=3.0, size=(T, N, C)).astype(dtype)
    lengths = rng.integers(T // 2, T + 1, size=N)
    labels = [list(rng.integers(1, C, size=rng.integers(0, 35))) for _ in range(N)]
    return x, labels, lengths


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_paths_are_consistent(dtype):
    x, labels, lengths = _large(11, dtype)
    res = ctcc.forced_align(x, labels, lengths)
    loss, _ = ctcc.ctc_loss(x, labels, lengths, grad=False)
    logp = _log_softmax(x)
    feasible = 0
    for n, seq in enumerate(labels):
        T = lengths[n]
        frames = res.frames[n]
        assert np.all(frames[T:] == -1)
        repeats = sum(a == b for a, b in zip(seq, seq[1:]))
        if T < len(seq) + repeats:
            assert res.scores[n] == -np.inf and np.all(frames == -1)
            assert np.all(res.spans[n] == -1)
            continue
        feasible += 1
        f = frames[:T]
        # Collapsing the path gives the labels.
        merged = [int(c) for i, c in enumerate(f) if (i == 0 or c != f[i - 1]) and c != 0]
        assert merged == [int(v) for v in seq]
        # Spans: runs of each label's class, in order, covering exactly them.
        spans = res.spans[n]
        assert np.all(spans[:, 0] < spans[:, 1])
        assert np.all(spans[1:, 0] >= spans[:-1, 1])
        covered = np.zeros(T, bool)
        for (a, b), lab in zip(spans, seq):
            assert np.all(f[a:b] == lab)
            covered[a:b] = True
        assert np.all(f[~covered] == 0)
        # The score is the path's log-probability, at most the total one.
        want = logp[np.arange(T), n, f].sum()
        np.testing.assert_allclose(res.scores[n], want, rtol=1e-6 if dtype == np.float32 else 1e-12)
        assert res.scores[n] <= -loss[n] + 1e-5 * abs(loss[n])
    assert feasible > N_FEASIBLE_MIN


N_FEASIBLE_MIN = 10


def test_float32_matches_float64():
    x, labels, lengths = _large(12, np.float32)
    r32 = ctcc.forced_align(x, labels, lengths)
    r64 = ctcc.forced_align(x.astype(np.float64), labels, lengths)
    np.testing.assert_array_equal(r32.frames, r64.frames)
    for a, b in zip(r32.spans, r64.spans):
        np.testing.assert_array_equal(a, b)
    # The dynamic programme runs in double for both: the float32 score is the
    # rounded float64 one.
    np.testing.assert_array_equal(r32.scores, r64.scores.astype(np.float32))


@pytest.mark.parametrize("log_probs", [False, True])
def test_threads_bitwise_and_layouts(log_probs):
    x, labels, lengths = _large(13, np.float64)
    if log_probs:
        x = _log_softmax(x)
    results = [
        ctcc.forced_align(x, labels, lengths, log_probs=log_probs, num_threads=k)
        for k in (1, 2, 0, None)
    ]
    bm = ctcc.forced_align(
        np.ascontiguousarray(x.transpose(1, 0, 2)),
        labels,
        lengths,
        log_probs=log_probs,
        time_major=False,
        num_threads=2,
    )
    for r in results[1:] + [bm]:
        np.testing.assert_array_equal(r.frames, results[0].frames)
        assert r.scores.tobytes() == results[0].scores.tobytes()
        for a, b in zip(r.spans, results[0].spans):
            np.testing.assert_array_equal(a, b)


def test_label_forms_and_blank_positions():
    rng = np.random.default_rng(14)
    x = rng.normal(size=(20, 3, 6))
    seqs = [[1, 2, 3], [4], [5, 5, 1]]
    padded = np.full((3, 4), -1)
    for n, s in enumerate(seqs):
        padded[n, : len(s)] = s
    flat = np.concatenate(seqs)
    a = ctcc.forced_align(x, seqs)
    b = ctcc.forced_align(x, padded)
    c = ctcc.forced_align(x, flat, None, [3, 1, 3])
    for r in (b, c):
        np.testing.assert_array_equal(r.frames, a.frames)
        np.testing.assert_array_equal(r.scores, a.scores)
    # blank = last class: the same as blank 0 with classes 0 and 5 swapped.
    perm = [5, 1, 2, 3, 4, 0]
    swapped = [[{5: 0}.get(v, v) for v in s] for s in seqs]
    d = ctcc.forced_align(x[:, :, perm], swapped, blank=-1)
    e = ctcc.forced_align(x, seqs, blank=0)
    remap = np.where(d.frames == 5, 0, np.where(d.frames == 0, 5, d.frames))
    np.testing.assert_array_equal(remap, e.frames)
    np.testing.assert_allclose(d.scores, e.scores, rtol=1e-12)


# --- errors --------------------------------------------------------------------


def _raises(exc, fn, *patterns):
    with pytest.raises(exc) as info:
        fn()
    for p in patterns:
        assert re.search(p, str(info.value)), (p, str(info.value))


def test_bad_inputs_name_the_argument():
    x = np.zeros((5, 2, 4))
    good = [[1, 2], [3]]
    fa = ctcc.forced_align
    fa(x, good)  # the base case is valid
    _raises(TypeError, lambda: fa(x.astype(np.int64), good), "logits", "float32")
    _raises(ValueError, lambda: fa(x[0], good), "logits", "3-D")
    _raises(ValueError, lambda: fa(np.zeros((5, 0, 4)), []), "logits", "batch")
    _raises(ValueError, lambda: fa(np.zeros((5, 2, 0)), good), "logits", "alphabet")
    _raises(ValueError, lambda: fa(x, [[1, 4], [3]]), "labels", "sample 0", "position 1", "4")
    _raises(ValueError, lambda: fa(x, [[1, 2], [0]]), "labels", "sample 1", "blank")
    _raises(ValueError, lambda: fa(x, [[1, 2]]), "labels", "1 sequences", "2 samples")
    _raises(ValueError, lambda: fa(x, good, [5, 6]), r"logit_lengths\[1\] = 6")
    _raises(ValueError, lambda: fa(x, good, [-1, 5]), r"logit_lengths\[0\] = -1")
    _raises(ValueError, lambda: fa(x, good, [5]), "logit_lengths", "shape")
    _raises(ValueError, lambda: fa(x, good, None, [2, 2]), r"label_lengths\[1\] = 2")
    _raises(ValueError, lambda: fa(x, np.array([1, 2, 3])), "label_lengths")
    _raises(TypeError, lambda: fa(x, [[1.5], [2]]), r"labels\[0\]", "integers")
    _raises(ValueError, lambda: fa(x, good, blank=4), "blank = 4")
    _raises(ValueError, lambda: fa(x, good, blank=-5), "blank = -5")
    _raises(TypeError, lambda: fa(x, good, blank=1.0), "blank", "integer")
    _raises(ValueError, lambda: fa(x, good, num_threads=-1), "num_threads", "-1")
    _raises(TypeError, lambda: fa(x, good, num_threads="2"), "num_threads", "integer")


# --- TensorFlow ----------------------------------------------------------------


def _tf():
    return pytest.importorskip("tensorflow"), pytest.importorskip("ctcc.tensorflow")


def _assert_same(tf_res, np_res):
    np.testing.assert_array_equal(tf_res.frames.numpy(), np_res.frames)
    np.testing.assert_array_equal(tf_res.scores.numpy(), np_res.scores)
    spans = tf_res.spans
    assert spans.shape.rank == 3
    for got, want in zip(spans.to_list(), np_res.spans):
        np.testing.assert_array_equal(np.array(got, np.int32).reshape(-1, 2), want)


@pytest.mark.parametrize("time_major", [True, False])
@pytest.mark.parametrize("log_probs", [False, True])
def test_tensorflow_matches_numpy(time_major, log_probs):
    tf, ctf = _tf()
    rng = np.random.default_rng(21)
    T, N, C = 30, 4, 7
    x = rng.normal(size=(T, N, C)).astype(np.float32)
    if log_probs:
        x = _log_softmax(x).astype(np.float32)
    xin = x if time_major else np.ascontiguousarray(x.transpose(1, 0, 2))
    labels = np.array([[1, 2, 3, 0], [4, 4, 0, 0], [6, 0, 0, 0], [0, 0, 0, 0]], np.int32)
    label_length = np.array([3, 2, 1, 0], np.int32)
    logit_length = np.array([30, 25, 3, 10], np.int32)
    blank = -1 if log_probs else 0
    if blank == -1:
        labels = np.where(labels == 6, 5, labels)
    want = ctcc.forced_align(
        xin,
        labels,
        logit_length,
        label_length,
        blank=blank,
        time_major=time_major,
        log_probs=log_probs,
    )
    kwargs = dict(blank_index=blank, logits_time_major=time_major, log_probs=log_probs)
    eager = ctf.forced_align(xin, labels, logit_length, label_length, **kwargs)
    _assert_same(eager, want)
    assert eager.frames.dtype == tf.int32 and eager.scores.dtype == tf.float32

    @tf.function
    def graph(a, b, c, d):
        return ctf.forced_align(a, b, c, d, **kwargs)

    res = graph(tf.constant(xin), tf.constant(labels), logit_length, label_length)
    _assert_same(res, want)
    concrete = graph.get_concrete_function(
        tf.TensorSpec(xin.shape, tf.float32),
        tf.TensorSpec([N, 4], tf.int32),
        tf.TensorSpec([N], tf.int32),
        tf.TensorSpec([N], tf.int32),
    )
    frames_shape = concrete.structured_outputs.frames.shape
    assert frames_shape.as_list() == [N, T]
    assert concrete.structured_outputs.scores.shape.as_list() == [N]


def test_tensorflow_ragged_labels_and_errors():
    tf, ctf = _tf()
    rng = np.random.default_rng(22)
    x = rng.normal(size=(12, 2, 5))
    want = ctcc.forced_align(x, [[1, 2], [3, 3, 4]])
    got = ctf.forced_align(x, tf.ragged.constant([[1, 2], [3, 3, 4]]))
    _assert_same(got, want)
    assert got.scores.dtype == tf.float64
    with pytest.raises(tf.errors.InvalidArgumentError, match="labels.*sample 1"):
        ctf.forced_align(x, [[1, 2], [3, 9]], label_length=[2, 2])
    with pytest.raises(tf.errors.InvalidArgumentError, match="logit_length"):
        ctf.forced_align(x, [[1], [2]], [12, 13], [1, 1])
    with pytest.raises(ValueError, match="logits"):
        ctf.forced_align(x[0], [[1], [2]])
    with pytest.raises(ValueError, match="blank_index"):
        ctf.forced_align(x, [[1], [2]], blank_index=5)
    with pytest.raises(ValueError, match="batch sizes disagree"):
        ctf.forced_align(x, [[1], [2], [3]])


# --- the star (wildcard) label -------------------------------------------------


def _star_brute(lp, labels, blank, penalty):
    """Best score under the documented star semantics, by enumerating every
    assignment of frames to the items gap_0, label_1, gap_1, ..., gap_M
    (non-decreasing; each label at least one frame; a gap between equal
    labels at least one frame). A gap frame reads log p(blank), or in a gap
    holding a star max(log p(blank), max_c log p(c) + penalty)."""
    T = lp.shape[0]
    words = [v for v in labels if v != ctcc.STAR]
    M = len(words)
    star_gap = [False] * (M + 1)
    k = 0
    for v in labels:
        if v == ctcc.STAR:
            star_gap[k] = True
        else:
            k += 1
    gap_read = np.where(
        np.array(star_gap)[:, None],
        np.maximum(lp[:, blank][None, :], lp.max(axis=1)[None, :] + penalty),
        lp[:, blank][None, :],
    )  # [M + 1, T]
    best = -np.inf
    for items in itertools.combinations_with_replacement(range(2 * M + 1), T):
        counts = np.bincount(np.array(items, dtype=np.int64), minlength=2 * M + 1)
        if T and (counts[1::2] == 0).any():
            continue
        if T == 0 and M > 0:
            continue
        if any(words[j] == words[j + 1] and counts[2 * j + 2] == 0 for j in range(M - 1)):
            continue
        score = 0.0
        for t, item in enumerate(items):
            if item % 2:
                score += lp[t, words[item // 2]]
            else:
                score += gap_read[item // 2, t]
        best = max(best, score)
    return best


def _star_path_score(lp, frames, blank, penalty):
    """The score of a returned path, from its frames."""
    total = 0.0
    for t, c in enumerate(frames):
        total += lp[t].max() + penalty if c == ctcc.STAR else lp[t, c]
    return total


def _check_star_path(frames, spans, labels, blank):
    """frames collapse to the labels without stars; every STAR frame lies in
    the span of a star that sits between the right labels."""
    words = [v for v in labels if v != ctcc.STAR]
    out, prev = [], None
    for c in frames:
        if c not in (blank, ctcc.STAR) and c != prev:
            out.append(int(c))
        prev = c if c != ctcc.STAR else blank
    assert out == words
    star_frames = {t for t, c in enumerate(frames) if c == ctcc.STAR}
    covered = set()
    for i, v in enumerate(labels):
        a, b = spans[i]
        assert 0 <= a <= b <= len(frames)
        if v == ctcc.STAR:
            covered |= set(range(a, b))
        else:
            assert b > a and all(frames[t] == v for t in (a, b - 1))
    assert star_frames <= covered


@pytest.mark.parametrize("seed", range(40))
def test_star_brute_force(seed):
    rng = np.random.default_rng(1000 + seed)
    C, blank = 4, int(rng.integers(0, 4))
    T = int(rng.integers(1, 8))
    others = [c for c in range(C) if c != blank]
    quantised = seed % 2 == 1
    x = (
        rng.integers(-3, 1, size=(T, C)).astype(np.float64)
        if quantised
        else rng.normal(size=(T, C))
    )
    lp = x - np.log(np.exp(x).sum(axis=1, keepdims=True))
    labels = []
    for _ in range(int(rng.integers(0, 4))):
        labels.append(ctcc.STAR if rng.random() < 0.4 else int(rng.choice(others)))
    if seed % 5 == 0:
        labels = [ctcc.STAR] + labels + [ctcc.STAR]
    penalty = [-2.0, -0.5, 0.0, -np.inf][seed % 4]
    want = _star_brute(lp, labels, blank, penalty)
    got = ctcc.forced_align(
        lp[:, None, :], [labels], log_probs=True, blank=blank, star_penalty=penalty
    )
    if want == -np.inf:
        assert got.scores[0] == -np.inf and (got.frames == -1).all()
        return
    assert got.scores[0] == pytest.approx(want, rel=1e-12, abs=1e-12)
    frames = got.frames[0]
    assert _star_path_score(lp, frames, blank, penalty) == pytest.approx(want, abs=1e-9)
    _check_star_path(frames, got.spans[0], labels, blank)


def _peaked(frame_classes, C, rng):
    lp = rng.uniform(-30, -10, size=(len(frame_classes), C))
    lp[np.arange(len(frame_classes)), frame_classes] = 0.0
    return lp


def test_star_absorbs_an_omitted_stretch():
    """Words 1..5 spoken, the transcript omits word 3: with a star in its
    place the other words align exactly where the full transcript puts them
    and the star covers word 3; without the star they do not."""
    rng = np.random.default_rng(7)
    C = 12
    words = [[1, 2, 3], [4, 5], [6, 7, 8, 9], [10, 11], [3, 3, 2]]
    frames, where = [], []
    for w in words:
        frames += [0] * int(rng.integers(2, 6))
        starts = []
        for c in w:
            starts.append(len(frames))
            frames += [c] * int(rng.integers(1, 4)) + [0] * int(rng.integers(0, 2))
        where.append(starts)
    frames += [0] * 3
    lp = _peaked(np.array(frames), C, rng)
    full = [c for w in words for c in w]
    ref = ctcc.forced_align(lp[:, None, :], [full], log_probs=True)
    ref_spans = ref.spans[0]
    cut = len(words[0]) + len(words[1])
    short = full[:cut] + [ctcc.STAR] + full[cut + len(words[2]) :]
    for threads in (1, 2):
        got = ctcc.forced_align(lp[:, None, :], [short], log_probs=True, num_threads=threads)
        spans = got.spans[0]
        np.testing.assert_array_equal(spans[:cut], ref_spans[:cut])
        np.testing.assert_array_equal(spans[cut + 1 :], ref_spans[cut + len(words[2]) :])
        star = spans[cut]
        assert star[0] == ref_spans[cut][0] and star[1] == ref_spans[cut + len(words[2]) - 1][1]
        # Every frame reads as in the full alignment except word 3's content
        # frames (log-prob 0 there), read as star at the default -2 each.
        a, b = ref_spans[cut][0], ref_spans[cut + len(words[2]) - 1][1]
        content = sum(f != 0 for f in frames[a:b])
        assert got.scores[0] == pytest.approx(ref.scores[0] - 2.0 * content)
    # Without the star, word 3's content frames go to the neighbours' labels
    # or blanks at -10 or less each.
    plain = full[:cut] + full[cut + len(words[2]) :]
    bad = ctcc.forced_align(lp[:, None, :], [plain], log_probs=True)
    assert bad.scores[0] < ref.scores[0] - 10.0 * content


@pytest.mark.parametrize(
    "labels, frames, want",
    [
        # star at the start absorbs the leading word
        ([ctcc.STAR, 1], [3, 3, 0, 1], [[0, 2], [3, 4]]),
        # star at the end
        ([1, ctcc.STAR], [1, 0, 3, 3], [[0, 1], [2, 4]]),
        # skipped star: empty span at the end of the label before it
        ([1, ctcc.STAR, 2], [1, 1, 0, 2], [[0, 2], [2, 2], [3, 4]]),
        # two stars in a row act as one; the second gets an empty span
        ([1, ctcc.STAR, ctcc.STAR, 2], [1, 3, 3, 2], [[0, 1], [1, 3], [3, 3], [3, 4]]),
        # a star between equal labels: a frame is needed, here a blank one
        ([1, ctcc.STAR, 1], [1, 0, 1, 1], [[0, 1], [1, 1], [2, 4]]),
        # two separate stars
        ([ctcc.STAR, 1, ctcc.STAR, 2], [3, 1, 3, 2], [[0, 1], [1, 2], [2, 3], [3, 4]]),
        # only a star: everything content is star, the blank stays blank
        ([ctcc.STAR], [3, 0, 2, 0], [[0, 3]]),
    ],
)
def test_star_placements(labels, frames, want):
    rng = np.random.default_rng(3)
    lp = _peaked(np.array(frames), 4, rng)
    got = ctcc.forced_align(lp[:, None, :], [labels], log_probs=True)
    np.testing.assert_array_equal(got.spans[0], np.array(want, dtype=np.int32))
    assert got.scores[0] == pytest.approx(
        _star_brute(lp, labels, 0, ctcc._align.STAR_PENALTY), abs=1e-9
    )


def test_star_label_forms_and_errors():
    rng = np.random.default_rng(5)
    lp = np.log(rng.dirichlet(np.ones(4), size=(6, 2))).astype(np.float32)
    rows = [[ctcc.STAR, 1, 2], [3, ctcc.STAR]]
    want = ctcc.forced_align(lp, rows, log_probs=True)
    padded = np.array([[ctcc.STAR, 1, 2], [3, ctcc.STAR, -1]])
    flat = np.array([ctcc.STAR, 1, 2, 3, ctcc.STAR], dtype=np.int16)
    for labels, lengths in ((padded, None), (padded, [3, 2]), (flat, [3, 2])):
        got = ctcc.forced_align(lp, labels, label_lengths=lengths, log_probs=True)
        np.testing.assert_array_equal(got.frames, want.frames)
        for a, b in zip(got.spans, want.spans):
            np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="outside the alphabet"):
        ctcc.ctc_loss(lp, rows)
    with pytest.raises(ValueError, match=r"position 1 holds 4, outside"):
        ctcc.forced_align(lp, [[ctcc.STAR, 4], [1]], log_probs=True)
    with pytest.raises(ValueError, match="holds -3"):
        ctcc.forced_align(lp, [[ctcc.STAR, -3], [1]], log_probs=True)
    for bad in (0.5, float("nan"), np.inf):
        with pytest.raises(ValueError, match="star_penalty"):
            ctcc.forced_align(lp, rows, star_penalty=bad)
    with pytest.raises(TypeError, match="star_penalty"):
        ctcc.forced_align(lp, rows, star_penalty=True)
    assert ctcc.STAR == ctcc._core.LABEL_STAR
    assert ctcc._align.STAR_PENALTY == ctcc._core.STAR_PENALTY_DEFAULT


def test_star_one_class_alphabet():
    lp = np.zeros((3, 1, 1))
    got = ctcc.forced_align(lp, [[ctcc.STAR]], log_probs=True)
    assert got.scores[0] == 0.0 and (got.frames == 0).all()
    with pytest.raises(ValueError, match="only ctcc.STAR"):
        ctcc.forced_align(lp, [[ctcc.STAR, 0]], log_probs=True)


def test_long_sample_split_over_threads_with_stars_is_bitwise_identical():
    """One sample long enough to be split over the threads (2L + 1 >= 2048
    states), with stars: every thread count gives the same bits."""
    rng = np.random.default_rng(11)
    T, L, C = 4000, 1500, 9
    labels = rng.integers(1, C, size=L).tolist()
    for i in (0, 300, 301, 900, L):
        labels.insert(i, ctcc.STAR)
    x = rng.normal(size=(T, 1, C)).astype(np.float32)
    runs = [ctcc.forced_align(x, [labels], num_threads=k) for k in (1, 2, 3, 4)]
    for r in runs[1:]:
        assert r.scores.tobytes() == runs[0].scores.tobytes()
        np.testing.assert_array_equal(r.frames, runs[0].frames)
        np.testing.assert_array_equal(r.spans[0], runs[0].spans[0])
