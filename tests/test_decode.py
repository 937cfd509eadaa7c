"""The decoders (ctcc.greedy_decode, ctcc.beam_search_decode and their
TensorFlow adapters) against independent references: a NumPy argmax,
exact decoding by brute force, a plain (unpruned) prefix beam search written
here, ctcc's own loss, and TensorFlow's decoders."""

import itertools
import re

import numpy as np
import pytest

ctcc = pytest.importorskip("ctcc")


# --- references --------------------------------------------------------------


def _log_softmax(x):
    x = np.asarray(x, np.float64)
    m = x.max(axis=-1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=-1, keepdims=True))


def _collapse(path, blank):
    out, prev = [], None
    for c in path:
        if c != blank and c != prev:
            out.append(int(c))
        prev = c
    return tuple(out)


def _brute_force(lp, blank):
    """{labelling: log p} over all C^T paths of one sample ([T, C] log-probs)."""
    T, C = lp.shape
    probs = {}
    for path in itertools.product(range(C), repeat=T):
        s = float(sum(lp[t, c] for t, c in enumerate(path)))
        if s == -np.inf:
            continue
        key = _collapse(path, blank)
        probs[key] = np.logaddexp(probs.get(key, -np.inf), s)
    return probs


def _ranked(probs):
    return sorted(probs.items(), key=lambda kv: -kv[1])


def _plain_beam(lp, blank, width):
    """Prefix beam search without pruning: every class tried for every
    prefix, identical prefixes merged by a dict. [(labelling, log score)]."""
    beams = {(): (0.0, -np.inf)}  # prefix -> (log p_blank, log p_label)
    for t in range(lp.shape[0]):
        cand = {}

        def add(prefix, pb, pl, cand=cand):
            ob, ol = cand.get(prefix, (-np.inf, -np.inf))
            cand[prefix] = (np.logaddexp(ob, pb), np.logaddexp(ol, pl))

        for prefix, (pb, pl) in beams.items():
            total = np.logaddexp(pb, pl)
            last = prefix[-1] if prefix else None
            add(prefix, total + lp[t, blank], pl + lp[t, last] if prefix else -np.inf)
            for c in range(lp.shape[1]):
                if c == blank:
                    continue
                add(prefix + (c,), -np.inf, (pb if c == last else total) + lp[t, c])
        scored = [(k, v, np.logaddexp(*v)) for k, v in cand.items()]
        scored = [s for s in scored if s[2] > -np.inf]
        scored.sort(key=lambda s: -s[2])
        beams = {k: v for k, v, _ in scored[:width]}
    out = [(k, np.logaddexp(*v)) for k, v in beams.items()]
    return sorted(out, key=lambda kv: -kv[1])


def _as_lists(paths):
    return [[tuple(int(v) for v in p) for p in sample] for sample in paths]


# --- greedy ------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("log_probs", [False, True])
def test_greedy_matches_numpy_argmax(rng, dtype, log_probs):
    for _ in range(20):
        T, N, C = rng.integers(0, 15), rng.integers(1, 6), rng.integers(1, 8)
        x = rng.normal(size=(T, N, C)).astype(dtype)
        if log_probs:
            x = _log_softmax(x).astype(dtype)
        lengths = rng.integers(0, T + 1, size=N)
        blank = int(rng.integers(-C, C))
        got = ctcc.greedy_decode(x, lengths, blank=blank, log_probs=log_probs)
        assert len(got) == N
        for n in range(N):
            want = _collapse(np.argmax(x[: lengths[n], n], axis=-1), blank % C)
            assert got[n].dtype == np.int32
            assert tuple(got[n]) == want


def test_greedy_ties_go_to_lowest_class():
    x = np.zeros((3, 1, 4))
    x[0, 0, [1, 3]] = 2.0  # tie between 1 and 3
    x[1, 0, [0, 2]] = 2.0  # tie between the blank and 2
    x[2, 0, [3, 2]] = 2.0
    assert list(ctcc.greedy_decode(x)[0]) == [1, 2]


def test_greedy_nan_gives_empty():
    x = np.zeros((4, 2, 3))
    x[:, :, 1] = 1.0
    x[2, 1, 0] = np.nan
    got = ctcc.greedy_decode(x)
    assert list(got[0]) == [1] and got[1].size == 0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("blank", [0, -1, 2])
def test_greedy_matches_tensorflow(rng, dtype, blank):
    tf = pytest.importorskip("tensorflow")
    for _ in range(15):
        T, N, C = int(rng.integers(1, 30)), int(rng.integers(1, 8)), int(rng.integers(3, 12))
        x = rng.normal(size=(T, N, C)).astype(dtype)
        lengths = rng.integers(0, T + 1, size=N).astype(np.int32)
        decoded, _ = tf.nn.ctc_greedy_decoder(x, lengths, blank_index=blank % C)
        dense = tf.sparse.to_dense(decoded[0], default_value=-1).numpy()
        want = [tuple(int(v) for v in row if v >= 0) for row in dense]
        want += [()] * (N - len(want))
        got = ctcc.greedy_decode(x, lengths, blank=blank)
        assert [tuple(g) for g in got] == want
        got_bm = ctcc.greedy_decode(x.transpose(1, 0, 2), lengths, blank=blank, time_major=False)
        assert [tuple(g) for g in got_bm] == want


# --- beam search: exactness ----------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_beam_wide_is_exact(rng, dtype):
    tol = 1e-10 if dtype == np.float64 else 2e-6
    for trial in range(25):
        T, N, C = int(rng.integers(0, 6)), int(rng.integers(1, 4)), int(rng.integers(1, 5))
        x = rng.normal(scale=2.0, size=(T, N, C)).astype(dtype)
        lengths = rng.integers(0, T + 1, size=N)
        blank = int(rng.integers(0, C))
        K = 6
        paths, scores = ctcc.beam_search_decode(
            x, lengths, beam_width=400, top_paths=K, blank=blank
        )
        assert scores.dtype == dtype and scores.shape == (N, K)
        for n in range(N):
            ranked = _ranked(_brute_force(_log_softmax(x[: lengths[n], n]), blank))
            for j in range(K):
                if j < len(ranked):
                    assert tuple(paths[n][j]) == ranked[j][0], (trial, n, j)
                    np.testing.assert_allclose(scores[n, j], ranked[j][1], rtol=tol, atol=tol)
                else:  # fewer labellings than top_paths
                    assert paths[n][j].size == 0 and scores[n, j] == -np.inf


def test_beam_scores_are_minus_ctc_loss(rng):
    """With an exact beam, each score is log p(labelling) = -ctc_loss."""
    T, N, C = 6, 4, 4
    x = rng.normal(size=(T, N, C))
    paths, scores = ctcc.beam_search_decode(x, beam_width=1000, top_paths=5)
    for j in range(5):
        labels = [list(paths[n][j]) for n in range(N)]
        loss, _ = ctcc.ctc_loss(x, labels, grad=False)
        np.testing.assert_allclose(scores[:, j], -loss, rtol=1e-10)


@pytest.mark.parametrize("width", [1, 2, 3, 5])
def test_beam_matches_plain_beam_search(rng, width):
    """The pruned, trie-based search keeps exactly the beams of a plain one,
    also with many classes and narrow beams (prefixes leave and re-enter)."""
    for _ in range(12):
        T, C = int(rng.integers(1, 14)), int(rng.integers(2, 30))
        x = rng.normal(scale=2.5, size=(T, 2, C))
        x[:, :, ::3] += 2.0  # a few strong classes: many repeats and merges
        blank = int(rng.integers(0, C))
        K = int(rng.integers(1, width + 1))
        paths, scores = ctcc.beam_search_decode(x, beam_width=width, top_paths=K, blank=blank)
        for n in range(2):
            ref = _plain_beam(_log_softmax(x[:, n]), blank, width)
            for j in range(K):
                if j < len(ref):
                    assert tuple(paths[n][j]) == ref[j][0]
                    np.testing.assert_allclose(scores[n, j], ref[j][1], rtol=1e-10)
                else:
                    assert paths[n][j].size == 0 and scores[n, j] == -np.inf


@pytest.mark.parametrize("scale", [2.0, 6.0])
def test_beam_matches_plain_beam_search_many_tiny(rng, scale):
    """Many tiny samples, all beam_width entries compared: prefixes leave
    the beam while a child stays and come back (the trie must reuse their
    node), and the (beam_width + 1)-th best class of a frame enters."""
    for width in (1, 2, 3, 4):
        T, N, C = 12, 300, int(rng.integers(3, 8))
        x = rng.uniform(-scale, scale, size=(T, N, C))
        lengths = rng.integers(2, T + 1, size=N)
        paths, scores = ctcc.beam_search_decode(x, lengths, beam_width=width, top_paths=width)
        for n in range(N):
            ref = _plain_beam(_log_softmax(x[: lengths[n], n]), 0, width)
            got = [(tuple(p), s) for p, s in zip(paths[n], scores[n]) if s > -np.inf]
            assert [g[0] for g in got] == [r[0] for r in ref], (width, n)
            np.testing.assert_allclose([g[1] for g in got], [r[1] for r in ref], rtol=1e-10)


def test_beam_nan_gives_empty_nan():
    x = np.zeros((3, 2, 3))
    x[1, 1, 2] = np.nan
    paths, scores = ctcc.beam_search_decode(x, beam_width=4, top_paths=2)
    assert np.all(np.isnan(scores[1])) and all(p.size == 0 for p in paths[1])
    assert np.all(np.isfinite(scores[0]))


# --- beam search: penalty, prior, precisions, layouts, threads -------------------


def test_huge_blank_penalty_is_greedy_without_blank(rng):
    x = rng.normal(size=(20, 5, 6))
    paths, _ = ctcc.beam_search_decode(x, beam_width=1, blank_penalty=1e6)
    no_blank = x.copy()
    no_blank[:, :, 0] = -np.inf
    want = ctcc.greedy_decode(no_blank)
    assert [tuple(p[0]) for p in paths] == [tuple(w) for w in want]


@pytest.mark.parametrize("log_probs", [False, True])
def test_prior_and_penalty_shift_log_probs(rng, log_probs):
    T, N, C = 15, 4, 7
    x = rng.normal(size=(T, N, C))
    if log_probs:
        x = _log_softmax(x)
    prior = rng.normal(size=C)
    penalty = 0.8
    paths, scores = ctcc.beam_search_decode(
        x, beam_width=6, top_paths=3, log_probs=log_probs, blank_penalty=penalty, log_prior=prior
    )
    shifted = _log_softmax(x) - prior
    shifted[:, :, 0] -= penalty
    paths2, scores2 = ctcc.beam_search_decode(shifted, beam_width=6, top_paths=3, log_probs=True)
    assert _as_lists(paths) == _as_lists(paths2)
    np.testing.assert_allclose(scores, scores2, rtol=1e-12)
    # and they do change the result
    plain, _ = ctcc.beam_search_decode(x, beam_width=6, top_paths=3, log_probs=log_probs)
    big, _ = ctcc.beam_search_decode(
        x, beam_width=6, top_paths=3, log_probs=log_probs, blank_penalty=5.0
    )
    assert _as_lists(plain) != _as_lists(big)


def test_float32_matches_float64(rng):
    x = rng.normal(size=(40, 6, 9)).astype(np.float32)
    p32, s32 = ctcc.beam_search_decode(x, beam_width=8, top_paths=3)
    p64, s64 = ctcc.beam_search_decode(x.astype(np.float64), beam_width=8, top_paths=3)
    assert _as_lists(p32) == _as_lists(p64)
    np.testing.assert_allclose(s32, s64, rtol=1e-5)
    assert [tuple(g) for g in ctcc.greedy_decode(x)] == [
        tuple(g) for g in ctcc.greedy_decode(x.astype(np.float64))
    ]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_threads_and_layout_bitwise(rng, dtype):
    x = rng.normal(size=(50, 11, 8)).astype(dtype)
    lengths = rng.integers(0, 51, size=11)
    ref_p, ref_s = ctcc.beam_search_decode(x, lengths, beam_width=5, top_paths=2, num_threads=1)
    for threads in (2, 3, None):
        p, s = ctcc.beam_search_decode(x, lengths, beam_width=5, top_paths=2, num_threads=threads)
        assert _as_lists(p) == _as_lists(ref_p)
        assert s.tobytes() == ref_s.tobytes()
    p, s = ctcc.beam_search_decode(
        np.ascontiguousarray(x.transpose(1, 0, 2)),
        lengths,
        beam_width=5,
        top_paths=2,
        time_major=False,
    )
    assert _as_lists(p) == _as_lists(ref_p) and s.tobytes() == ref_s.tobytes()
    g1 = ctcc.greedy_decode(x, lengths, num_threads=1)
    g2 = ctcc.greedy_decode(x, lengths, num_threads=2)
    assert [tuple(a) for a in g1] == [tuple(b) for b in g2]


# --- against tf.nn.ctc_beam_search_decoder -------------------------------------


def _tf_beam(tf, x, lengths, width, top_paths):
    decoded, log_probs = tf.nn.ctc_beam_search_decoder(
        x, lengths, beam_width=width, top_paths=top_paths
    )
    N = x.shape[1]
    out = [[() for _ in range(top_paths)] for _ in range(N)]
    for j, sp in enumerate(decoded):
        dense = tf.sparse.to_dense(sp, default_value=-1).numpy()
        for n in range(dense.shape[0]):
            out[n][j] = tuple(int(v) for v in dense[n] if v >= 0)
    return out, log_probs.numpy()


def test_beam_matches_tensorflow_when_exact(rng):
    """With beams wide enough to be exact, TF (blank = last class) and ctcc
    rank the same labellings with the same log-probabilities; TF accumulates
    in single precision, so near-equal labellings may swap places."""
    tf = pytest.importorskip("tensorflow")
    for _ in range(10):
        # enough labellings for top_paths: TF raises when it finds fewer
        T, N, C = int(rng.integers(3, 6)), 3, int(rng.integers(3, 5))
        x = rng.normal(scale=2.0, size=(T, N, C)).astype(np.float32)
        lengths = rng.integers(3, T + 1, size=N).astype(np.int32)
        K = 4
        tf_paths, tf_scores = _tf_beam(tf, x, lengths, 400, K)
        paths, scores = ctcc.beam_search_decode(x, lengths, beam_width=400, top_paths=K, blank=-1)
        for n in range(N):
            ours = {tuple(p): s for p, s in zip(paths[n], scores[n]) if s > -np.inf}
            theirs = {p: s for p, s in zip(tf_paths[n], tf_scores[n]) if s > -np.inf}
            kth = min(min(ours.values()), min(theirs.values()))
            for lab in set(ours) | set(theirs):
                if lab in ours and lab in theirs:
                    np.testing.assert_allclose(ours[lab], theirs[lab], rtol=1e-5, atol=1e-5)
                else:  # only at the boundary of the top K, by rounding
                    s = ours.get(lab, theirs.get(lab))
                    assert abs(s - kth) < 1e-4


def test_beam_top1_matches_tensorflow_on_peaky_inputs(rng):
    tf = pytest.importorskip("tensorflow")
    T, N, C = 60, 8, 12
    best = rng.integers(0, C, size=(T, N))
    x = rng.normal(size=(T, N, C)).astype(np.float32)
    x[np.arange(T)[:, None], np.arange(N)[None, :], best] += 6.0
    lengths = rng.integers(T // 2, T + 1, size=N).astype(np.int32)
    tf_paths, tf_scores = _tf_beam(tf, x, lengths, 16, 1)
    paths, scores = ctcc.beam_search_decode(x, lengths, beam_width=16, blank=-1)
    assert [p[0] for p in tf_paths] == [tuple(p[0]) for p in paths]
    # Both scores are lower bounds of log p(labelling) (pruned alignments are
    # lost); TF's search keeps more of them with the same beam_width, so its
    # score is the larger one, and both are close on such inputs.
    loss, _ = ctcc.ctc_loss(x, [list(p[0]) for p in paths], lengths, blank=-1, grad=False)
    assert np.all(scores[:, 0] <= -loss + 1e-5)
    assert np.all(tf_scores[:, 0] <= -loss + 1e-4)
    assert np.all(scores[:, 0] <= tf_scores[:, 0] + 1e-5)
    np.testing.assert_allclose(scores[:, 0], tf_scores[:, 0], rtol=0.05)


# --- errors ------------------------------------------------------------------


def _raises(exc, fn, *patterns):
    with pytest.raises(exc) as info:
        fn()
    for p in patterns:
        assert re.search(p, str(info.value)), (p, str(info.value))


X = np.zeros((5, 2, 4), np.float32)


@pytest.mark.parametrize("decode", [ctcc.greedy_decode, ctcc.beam_search_decode])
def test_shared_errors(decode):
    _raises(TypeError, lambda: decode(X.astype(np.int32)), "logits", "int32")
    _raises(ValueError, lambda: decode(X[0]), "logits", r"\(2, 4\)")
    _raises(ValueError, lambda: decode(np.zeros((5, 0, 4))), "logits", "batch")
    _raises(ValueError, lambda: decode(X, blank=4), "blank", "4")
    _raises(ValueError, lambda: decode(X, blank=-5), "blank", "-5")
    _raises(TypeError, lambda: decode(X, blank=1.5), "blank", "1.5")
    _raises(ValueError, lambda: decode(X, [5, 6]), r"logit_lengths\[1\] = 6", r"\[0, 5\]")
    _raises(ValueError, lambda: decode(X, [5, -1]), r"logit_lengths\[1\] = -1")
    _raises(ValueError, lambda: decode(X, [5]), "logit_lengths", r"\(2,\)")
    _raises(TypeError, lambda: decode(X, [5.0, 1.0]), "logit_lengths", "float")
    _raises(ValueError, lambda: decode(X, num_threads=-1), "num_threads", "-1")


def test_beam_errors():
    f = ctcc.beam_search_decode
    _raises(ValueError, lambda: f(X, beam_width=0), "beam_width", "0")
    _raises(TypeError, lambda: f(X, beam_width=True), "beam_width", "True")
    _raises(TypeError, lambda: f(X, beam_width=2.5), "beam_width", "2.5")
    _raises(ValueError, lambda: f(X, top_paths=0), "top_paths", "0")
    _raises(ValueError, lambda: f(X, beam_width=3, top_paths=4), "top_paths = 4", "beam_width = 3")
    _raises(ValueError, lambda: f(X, beam_width=2**30), "beam_width", str(2**30))
    _raises(ValueError, lambda: f(X, blank_penalty=np.nan), "blank_penalty", "nan")
    _raises(ValueError, lambda: f(X, blank_penalty=np.inf), "blank_penalty", "inf")
    _raises(TypeError, lambda: f(X, blank_penalty="1"), "blank_penalty", "str")
    _raises(ValueError, lambda: f(X, log_prior=np.zeros(3)), "log_prior", r"\(4,\)", r"\(3,\)")
    _raises(
        ValueError, lambda: f(X, log_prior=[0, 0, -np.inf, 0]), r"log_prior\[2\] = -inf", "finite"
    )
    _raises(TypeError, lambda: f(X, log_prior=["a"] * 4), "log_prior")


# --- TensorFlow adapter ----------------------------------------------------------


def test_tensorflow_adapter(rng):
    tf = pytest.importorskip("tensorflow")
    ct = pytest.importorskip("ctcc.tensorflow")
    x = rng.normal(size=(12, 4, 6)).astype(np.float32)
    lengths = np.array([12, 7, 0, 3], np.int32)

    greedy = ct.greedy_decode(x, lengths, blank_index=-1)
    assert isinstance(greedy, tf.RaggedTensor) and greedy.dtype == tf.int64
    assert [tuple(r) for r in greedy.to_list()] == [
        tuple(g) for g in ctcc.greedy_decode(x, lengths, blank=-1)
    ]

    want_p, want_s = ctcc.beam_search_decode(
        x, lengths, beam_width=5, top_paths=3, blank_penalty=0.5
    )

    @tf.function
    def graph(xb, ln):
        return ct.beam_search_decode(
            xb, ln, beam_width=5, top_paths=3, logits_time_major=False, blank_penalty=0.5
        )

    for paths, scores in (
        ct.beam_search_decode(x, lengths, beam_width=5, top_paths=3, blank_penalty=0.5),
        graph(tf.constant(x.transpose(1, 0, 2)), tf.constant(lengths)),
    ):
        assert paths.shape[:2] == (4, 3) and scores.shape == (4, 3)
        assert [[tuple(p) for p in s] for s in paths.to_list()] == _as_lists(want_p)
        np.testing.assert_array_equal(scores.numpy(), want_s)

    prior = rng.normal(size=6)
    p1, s1 = ct.beam_search_decode(x, beam_width=4, log_prior=prior)
    p2, s2 = ctcc.beam_search_decode(x, beam_width=4, log_prior=prior)
    assert [[tuple(p) for p in s] for s in p1.to_list()] == _as_lists(p2)

    half, hs = ct.beam_search_decode(tf.constant(x, tf.float16), beam_width=2)
    assert hs.dtype == tf.float16

    with pytest.raises(tf.errors.InvalidArgumentError, match=r"logit_length\[0\] = 13"):
        ct.greedy_decode(x, [13, 1, 1, 1])
    with pytest.raises(ValueError, match="top_paths = 3"):
        ct.beam_search_decode(x, beam_width=2, top_paths=3)
    with pytest.raises(ValueError, match="blank_index = 6"):
        ct.greedy_decode(x, blank_index=6)
    with pytest.raises(tf.errors.InvalidArgumentError, match="log_prior"):
        ct.beam_search_decode(x, log_prior=[np.nan] * 6)
