"""Tests of ctcc.token_spans, ctcc.merge_tokens and ctcc.word_spans.

The references are independent of ctcc: the best path and the class
posteriors of tiny problems come from enumerating every path
(tests/reference.py), token spans from reading the runs of that path, and
the scores from plain loops over its frames."""

import numpy as np
import pytest
import reference

ctcc = pytest.importorskip("ctcc")


# --- independent references ----------------------------------------------------


def best_path(logp, labels, blank):
    """The most probable path that collapses to ``labels``, by enumeration
    (logp [T, C], continuous values: the maximum is unique)."""
    T, C = logp.shape
    paths, collapsed = reference._all_paths(C, T, blank)
    match = np.array([c == tuple(labels) for c in collapsed])
    good = paths[match]
    scores = logp[np.arange(T)[None, :], good].sum(axis=1)
    return good[int(np.argmax(scores))]


def runs(path, blank):
    """(token, start, end) of each run of one non-blank class, by a loop."""
    out, t = [], 0
    while t < len(path):
        e = t
        while e < len(path) and path[e] == path[t]:
            e += 1
        if path[t] != blank and path[t] >= 0:
            out.append((int(path[t]), t, e))
        t = e
    return out


# --- token_spans: confidences --------------------------------------------------


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("time_major", [True, False])
def test_token_spans_match_brute_force(seed, time_major):
    rng = np.random.default_rng(seed)
    T, C, blank = 6, 4, seed % 4
    a, b, c = [k for k in range(C) if k != blank]
    labels = [[a, a], [b, c, b], [c]]
    N = len(labels)
    logits = rng.normal(size=(T, N, C)) * 2.0
    x = logits if time_major else logits.transpose(1, 0, 2).copy()
    result = ctcc.forced_align(x, labels, blank=blank, time_major=time_major)
    by_logprob = ctcc.token_spans(result, x, blank=blank, time_major=time_major)
    by_posterior = ctcc.token_spans(
        result, x, blank=blank, time_major=time_major, score="posterior"
    )
    for n in range(N):
        logp = reference.log_softmax(logits[:, n])
        path = best_path(logp, labels[n], blank)
        expected = runs(path, blank)
        _, gamma = reference.brute_force(logp, labels[n], blank)
        got, post = by_logprob[n], by_posterior[n]
        assert got.token.tolist() == [r[0] for r in expected] == list(labels[n])
        assert got.start.tolist() == [r[1] for r in expected]
        assert got.end.tolist() == [r[2] for r in expected]
        want_lp = [np.mean([logp[t, c] for t in range(s, e)]) for c, s, e in expected]
        want_post = [np.mean([gamma[t, c] for t in range(s, e)]) for c, s, e in expected]
        np.testing.assert_allclose(got.score, want_lp, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(post.score, want_post, rtol=1e-9, atol=1e-12)
        assert post.start.tolist() == got.start.tolist()
        assert got.score.dtype == np.float64 and got.token.dtype == np.int32


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_token_spans_log_probs_and_dtypes(dtype):
    rng = np.random.default_rng(3)
    T, N, C = 40, 3, 7
    logits = rng.normal(size=(T, N, C)).astype(dtype)
    labels = [[1, 2, 2, 5], [6], []]
    result = ctcc.forced_align(logits, labels, logit_lengths=[40, 25, 10])
    spans = ctcc.token_spans(result, logits)
    logp = reference.log_softmax(logits.astype(np.float64))
    # log_probs=True on normalised input gives the same scores
    same = ctcc.token_spans(result, logp.astype(dtype), log_probs=True)
    for n in range(N):
        want = [np.mean(logp[s:e, n, c]) for c, s, e in zip(labels[n], *result.spans[n].T.tolist())]
        np.testing.assert_allclose(
            spans[n].score, want, rtol=1e-6 if dtype == np.float32 else 1e-12
        )
        np.testing.assert_allclose(same[n].score, want, rtol=1e-5, atol=1e-6)
    assert spans[2].token.shape == (0,) and spans[2].score.shape == (0,)


def test_posterior_is_one_when_the_labels_leave_no_doubt():
    # 3 frames, 3 labels: one possible path, every posterior 1.
    logits = np.random.default_rng(0).normal(size=(3, 1, 5))
    result = ctcc.forced_align(logits, [[1, 2, 3]])
    spans = ctcc.token_spans(result, logits, score="posterior")[0]
    np.testing.assert_allclose(spans.score, 1.0)
    assert (ctcc.token_spans(result, logits)[0].score < 0).all()


def test_sample_without_a_path():
    logits = np.zeros((3, 2, 4))
    result = ctcc.forced_align(logits, [[1, 1, 1], [2]])  # 3 frames hold no "1 1 1"
    for score in ("logprob", "posterior"):
        spans = ctcc.token_spans(result, logits, score=score)
        assert spans[0].token.tolist() == [-1, -1, -1]
        assert spans[0].start.tolist() == [-1] * 3 and spans[0].end.tolist() == [-1] * 3
        assert np.isnan(spans[0].score).all()
        assert spans[1].token.tolist() == [2] and np.isfinite(spans[1].score).all()


def test_star_tokens_are_read_off_the_path():
    """A hand-made alignment holding ctcc.STAR frames (as ctcc.forced_align
    reports them): the star's token is ctcc.STAR and its score NaN; an
    empty star span is allowed; posteriors refuse stars."""
    S = ctcc.STAR
    logp = np.log(np.full((7, 1, 3), 1 / 3))
    frames = np.array([[S, S, 0, 1, 0, 2, 2]], np.int32)
    spans = [np.array([[0, 2], [3, 4], [5, 7], [7, 7]], np.int32)]
    alignment = ctcc.Alignment(frames, np.zeros(1), spans)
    got = ctcc.token_spans(alignment, logp, log_probs=True)[0]
    assert got.token.tolist() == [S, 1, 2, S]
    assert np.isnan(got.score[[0, 3]]).all()
    np.testing.assert_allclose(got.score[1:3], np.log(1 / 3))
    with pytest.raises(ValueError, match="STAR"):
        ctcc.token_spans(alignment, logp, log_probs=True, score="posterior")


def test_star_of_a_real_alignment():
    """A transcript missing its first word ("3"): ctcc.forced_align puts a
    ctcc.STAR on its frames; token_spans gives the star its span and NaN,
    the other labels the mean log-probability of their frames; word_spans
    makes the star a word of its own."""
    probs = np.full((8, 5), 0.02)
    spoken = [3, 3, 0, 4, 0, 1, 0, 2]  # "3", the separator 4, "1", "2"
    probs[np.arange(8), spoken] = 0.92
    logp = np.log(probs)[:, None, :]
    labels = [[ctcc.STAR, 4, 1, 2]]
    result = ctcc.forced_align(logp, labels, log_probs=True)
    got = ctcc.token_spans(result, logp, log_probs=True)[0]
    assert got.token.tolist() == [ctcc.STAR, 4, 1, 2]
    spans = result.spans[0]
    # star frames cost -2 plus the best class: log 0.92 - 2 > log 0.02 (the blank)
    assert spans.tolist() == [[0, 2], [3, 4], [5, 6], [7, 8]]
    np.testing.assert_array_equal(got.start, spans[:, 0])
    assert np.isnan(got.score[0])
    want = [np.mean(np.log(probs[s:e, c])) for c, (s, e) in zip([4, 1, 2], spans[1:].tolist())]
    np.testing.assert_allclose(got.score[1:], want)
    words = ctcc.word_spans(got, separator=4)
    assert words.token_start.tolist() == [0, 2]
    assert words.start[0] == spans[0, 0] and words.end[0] == spans[0, 1]
    assert np.isnan(words.score[0]) and np.isfinite(words.score[1])


def test_token_spans_bad_alignments():
    logits = np.zeros((4, 1, 3))
    good = ctcc.forced_align(logits, [[1, 2]])
    with pytest.raises(TypeError, match="alignment"):
        ctcc.token_spans(good.frames, logits)
    with pytest.raises(ValueError, match=r"alignment.frames must be .*\[1, 5\]"):
        ctcc.token_spans(good, np.zeros((5, 1, 3)))
    with pytest.raises(ValueError, match="score"):
        ctcc.token_spans(good, logits, score="prob")
    bad = good._replace(spans=[np.array([[0, 2], [1, 3]], np.int32)])  # overlapping
    with pytest.raises(ValueError, match=r"alignment.spans\[0\]\[1\]"):
        ctcc.token_spans(bad, logits)
    frames = good.frames.copy()
    frames[0, 0] = 7  # not a class
    with pytest.raises(ValueError, match=r"alignment.frames\[0, 0\] = 7"):
        ctcc.token_spans(good._replace(frames=frames), logits)
    frames = good.frames.copy()
    frames[0, 1] = -1  # -1 in the middle of the sample
    with pytest.raises(ValueError, match="-1 may only follow"):
        ctcc.token_spans(good._replace(frames=frames), logits)
    with pytest.raises(TypeError, match="log_probs"):
        ctcc.token_spans(good, logits, log_probs=1)
    with pytest.raises(ValueError, match="blank"):
        ctcc.token_spans(good, logits, blank=3)


def test_token_spans_long_input_is_chunked():
    """More rows than one normalisation chunk: the same scores as a direct
    float64 log-softmax."""
    rng = np.random.default_rng(1)
    T, C = 3000, 1500  # 4.5 M logits: two chunks
    logits = rng.normal(size=(T, 1, C)).astype(np.float32)
    labels = [rng.integers(1, C, size=200).tolist()]
    result = ctcc.forced_align(logits, labels)
    got = ctcc.token_spans(result, logits)[0]
    logp = reference.log_softmax(logits[:, 0].astype(np.float64))
    want = [np.mean(logp[s:e, c]) for c, (s, e) in zip(labels[0], result.spans[0].tolist())]
    np.testing.assert_allclose(got.score, want, rtol=1e-9)


# --- merge_tokens ------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(5))
def test_merge_tokens_matches_a_loop(seed):
    rng = np.random.default_rng(seed)
    tokens = rng.integers(-1, 4, size=int(rng.integers(0, 30)))
    scores = rng.normal(size=tokens.shape)
    got = ctcc.merge_tokens(tokens, scores, blank=0)
    want = runs(tokens, 0)
    assert got.token.tolist() == [w[0] for w in want]
    assert got.start.tolist() == [w[1] for w in want]
    assert got.end.tolist() == [w[2] for w in want]
    np.testing.assert_allclose(got.score, [scores[s:e].mean() for _, s, e in want], rtol=1e-12)


@pytest.mark.parametrize("seed", range(20))
def test_merge_tokens_scores_with_nan_and_infinities(seed):
    """A NaN or an infinity reaches the mean of its own span only."""
    rng = np.random.default_rng(seed)
    tokens = rng.integers(0, 3, size=30)
    scores = rng.normal(size=30)
    scores[rng.integers(0, 30, size=3)] = rng.choice([np.nan, np.inf, -np.inf], size=3)
    got = ctcc.merge_tokens(tokens, scores)
    with np.errstate(invalid="ignore"):
        want = [scores[s:e].mean() for _, s, e in runs(tokens, 0)]
    np.testing.assert_allclose(got.score, want, rtol=1e-12)


def test_merge_tokens_drops_blank_and_padding_and_stars():
    tokens = np.array([2, 2, 0, 2, ctcc.STAR, ctcc.STAR, 3, -1, -1])
    got = ctcc.merge_tokens(tokens, np.arange(9.0), blank=0)
    assert got.token.tolist() == [2, 2, 3]
    assert got.start.tolist() == [0, 3, 6] and got.end.tolist() == [2, 4, 7]
    assert got.score.tolist() == [0.5, 3.0, 6.0]
    # another blank index
    got = ctcc.merge_tokens(np.array([0, 0, 4, 4, 0]), np.ones(5), blank=4)
    assert got.token.tolist() == [0, 0] and got.start.tolist() == [0, 4]


def test_merge_tokens_errors():
    with pytest.raises(ValueError, match="1-D"):
        ctcc.merge_tokens(np.zeros((2, 3), int), np.zeros((2, 3)))
    with pytest.raises(ValueError, match="same length"):
        ctcc.merge_tokens([1, 2], [0.5])
    with pytest.raises(TypeError, match="tokens must hold integers"):
        ctcc.merge_tokens([1.0, 2.0], [0.5, 0.5])
    with pytest.raises(TypeError, match="scores"):
        ctcc.merge_tokens([1, 2], ["a", "b"])
    with pytest.raises(TypeError, match="blank"):
        ctcc.merge_tokens([1, 2], [0.5, 0.5], blank=0.0)
    empty = ctcc.merge_tokens([], [])
    assert empty.token.shape == (0,) and empty.score.shape == (0,)


# --- word_spans ------------------------------------------------------------------


def word_reference(tokens, starts, ends, scores, groups):
    """(start, end, score) of each word by loops; groups: lists of token indices."""
    out = []
    for g in groups:
        frames = sum(ends[i] - starts[i] for i in g)
        total = sum(scores[i] * (ends[i] - starts[i]) for i in g if ends[i] > starts[i])
        out.append((starts[g[0]], ends[g[-1]], total / frames if frames else np.nan))
    return out


@pytest.mark.parametrize("seed", range(5))
def test_word_spans_by_separator_and_by_lengths(seed):
    rng = np.random.default_rng(seed)
    K = int(rng.integers(1, 25))
    tokens = rng.integers(1, 5, size=K)  # 4 is the separator
    lengths = rng.integers(1, 4, size=K)
    gaps = rng.integers(0, 3, size=K)
    starts = np.cumsum(gaps + np.concatenate(([0], lengths[:-1])))
    ends = starts + lengths
    scores = rng.normal(size=K)
    spans = ctcc.TokenSpans(tokens, starts, ends, scores)
    groups, word = [], []
    for i, t in enumerate(tokens.tolist()):
        if t == 4:
            if word:
                groups.append(word)
            word = []
        else:
            word.append(i)
    if word:
        groups.append(word)
    got = ctcc.word_spans(spans, separator=4)
    want = word_reference(tokens, starts, ends, scores, groups)
    assert got.start.tolist() == [w[0] for w in want]
    assert got.end.tolist() == [w[1] for w in want]
    np.testing.assert_allclose(got.score, [w[2] for w in want], rtol=1e-12)
    assert got.token_start.tolist() == [g[0] for g in groups]
    assert got.token_end.tolist() == [g[-1] + 1 for g in groups]

    # by lengths: a random partition of all K tokens
    cuts = np.sort(rng.choice(np.arange(1, K), size=min(K - 1, 3), replace=False)) if K > 1 else []
    bounds = [0, *list(cuts), K]
    wl = np.diff(bounds)
    groups = [list(range(a, b)) for a, b in zip(bounds[:-1], bounds[1:])]
    got = ctcc.word_spans(spans, word_lengths=wl)
    want = word_reference(tokens, starts, ends, scores, groups)
    assert got.start.tolist() == [w[0] for w in want]
    assert got.end.tolist() == [w[1] for w in want]
    np.testing.assert_allclose(got.score, [w[2] for w in want], rtol=1e-12)
    assert got.token_start.tolist() == bounds[:-1]


def test_word_spans_of_an_alignment_is_the_mean_over_the_word_frames():
    rng = np.random.default_rng(7)
    T, C = 60, 6  # class 5 separates words
    labels = [1, 2, 5, 3, 3, 4, 5, 2]
    logits = rng.normal(size=(T, 1, C))
    result = ctcc.forced_align(logits, [labels])
    spans = ctcc.token_spans(result, logits)[0]
    words = ctcc.word_spans(spans, separator=5)
    logp = reference.log_softmax(logits[:, 0])
    s = result.spans[0]
    for w, idx in enumerate([[0, 1], [3, 4, 5], [7]]):
        frames = [(t, labels[i]) for i in idx for t in range(s[i, 0], s[i, 1])]
        assert words.start[w] == s[idx[0], 0] and words.end[w] == s[idx[-1], 1]
        np.testing.assert_allclose(words.score[w], np.mean([logp[t, c] for t, c in frames]))
    by_len = ctcc.word_spans(
        ctcc.TokenSpans(*(f[[0, 1, 3, 4, 5, 7]] for f in spans)), word_lengths=[2, 3, 1]
    )
    np.testing.assert_allclose(by_len.score, words.score)


def test_word_spans_edge_cases():
    S = ctcc.STAR
    # separators at the ends and in a row make no empty word; a star
    # (score NaN, here without frames) counts for nothing in its word.
    spans = ctcc.TokenSpans(
        np.array([9, 1, 9, 9, S, 2, 9]),
        np.array([0, 1, 2, 3, 4, 4, 6]),
        np.array([1, 2, 3, 4, 4, 6, 7]),
        np.array([0.0, -1.0, 0.0, 0.0, np.nan, -3.0, 0.0]),
    )
    words = ctcc.word_spans(spans, separator=[9])
    assert words.start.tolist() == [1, 4] and words.end.tolist() == [2, 6]
    assert words.score.tolist() == [-1.0, -3.0]
    alone = ctcc.word_spans(spans, word_lengths=[4, 1, 2])
    assert np.isnan(alone.score[1])  # the star alone: no frames
    # a star with frames counts for nothing in a word's score
    starred = spans._replace(
        start=np.array([0, 1, 2, 3, 4, 5, 7]), end=np.array([1, 2, 3, 4, 5, 7, 8])
    )
    words = ctcc.word_spans(starred, separator=9)
    assert words.start.tolist() == [1, 4] and words.end.tolist() == [2, 7]
    assert words.score.tolist() == [-1.0, -3.0]
    # a sample without a path
    none = ctcc.TokenSpans(*(np.full(3, -1),) * 3, np.full(3, np.nan))
    words = ctcc.word_spans(none, word_lengths=[2, 1])
    assert words.start.tolist() == [-1, -1] and np.isnan(words.score).all()
    # no tokens
    empty = ctcc.word_spans(ctcc.TokenSpans(*(np.zeros(0, int),) * 3, np.zeros(0)), separator=1)
    assert empty.start.shape == (0,)
    assert ctcc.word_spans(
        ctcc.TokenSpans(*(np.zeros(0, int),) * 3, np.zeros(0)), word_lengths=[]
    ).start.shape == (0,)


def test_word_spans_accepts_token_span_objects():
    class Span:  # torchaudio's TokenSpan has these attributes
        def __init__(self, token, start, end, score):
            self.token, self.start, self.end, self.score = token, start, end, score

    objs = [Span(1, 0, 2, -0.5), Span(2, 3, 4, -2.0), Span(3, 6, 8, -1.0)]
    words = ctcc.word_spans(objs, word_lengths=[2, 1])
    assert words.start.tolist() == [0, 6] and words.end.tolist() == [4, 8]
    np.testing.assert_allclose(words.score, [(-1.0 - 2.0) / 3, -1.0])
    assert ctcc.word_spans([], separator=0).start.shape == (0,)


def test_word_spans_errors():
    spans = ctcc.TokenSpans(
        np.array([1, 2, 3]), np.array([0, 1, 2]), np.array([1, 2, 3]), np.zeros(3)
    )
    with pytest.raises(ValueError, match="exactly one"):
        ctcc.word_spans(spans)
    with pytest.raises(ValueError, match="exactly one"):
        ctcc.word_spans(spans, separator=1, word_lengths=[3])
    with pytest.raises(ValueError, match="add up to 4 tokens, but token_spans has 3"):
        ctcc.word_spans(spans, word_lengths=[2, 2])
    with pytest.raises(ValueError, match=r"word_lengths\[1\] = 0"):
        ctcc.word_spans(spans, word_lengths=[3, 0])
    with pytest.raises(TypeError, match="word_lengths must hold integers"):
        ctcc.word_spans(spans, word_lengths=[1.5, 1.5])
    with pytest.raises(ValueError, match="word_lengths must be 1-D"):
        ctcc.word_spans(spans, word_lengths=[[3]])
    with pytest.raises(TypeError, match="separator"):
        ctcc.word_spans(spans, separator="|")
    with pytest.raises(TypeError, match="separator"):
        ctcc.word_spans(spans, separator=True)
    with pytest.raises(TypeError, match="token_spans"):
        ctcc.word_spans("abc", separator=1)
    with pytest.raises(TypeError, match=r"token_spans\[0\]"):
        ctcc.word_spans([(1, 0, 1, 0.0)], separator=1)
    with pytest.raises(ValueError, match="token_spans.start"):
        ctcc.word_spans(
            ctcc.TokenSpans(np.zeros(3, int), np.zeros(2, int), np.zeros(3, int), np.zeros(3)),
            separator=1,
        )


# --- the long-recording example ------------------------------------------------


def test_long_recording_example_finds_the_true_word_times(tmp_path):
    """examples/align_long_recording.py (no plot): its synthetic recording
    with a phrase the transcript lacks aligns every word (and the star) to
    the true frames; the script checks it and exits 0."""
    import os
    import subprocess
    import sys

    script = os.path.join(
        os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
        "examples",
        "align_long_recording.py",
    )
    proc = subprocess.run(
        [sys.executable, script, "--minutes", "1"],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "largest error of a word boundary: 0 frames" in proc.stdout
    assert "*" in proc.stdout
