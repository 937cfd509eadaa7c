"""ctcc.torch.forced_align and ctcc.torch.merge_tokens: torchaudio's
interface, batched.

References: torchaudio.functional.forced_align / merge_tokens where
torchaudio is installed, and always an independent one written here: a
float64 Viterbi recursion over the CTC states with torchaudio's rules,
ties included (cross-checked against enumerating every path of tiny
problems), and a loop for merge_tokens."""

from __future__ import annotations

import numpy as np
import pytest
import reference

torch = pytest.importorskip("torch", reason="ctcc.torch needs PyTorch")

import ctcc  # noqa: E402
import ctcc.torch  # noqa: E402

# --- independent references --------------------------------------------------


def viterbi(logp, labels, blank):
    """(path [T], per-frame scores [T]) of the most probable CTC path of
    ``labels`` under ``logp`` [T, C] (float64), or None when no path exists.
    States: blank, l1, blank, l2, ..., blank. Ties as torchaudio: stay, then
    the previous state, then the skip; at the end the final blank wins only
    if strictly better."""
    T = logp.shape[0]
    ext = [blank]
    for c in labels:
        ext += [c, blank]
    S = len(ext)
    if T == 0:
        return None
    score = np.full(S, -np.inf)
    score[0] = logp[0, ext[0]]
    if S > 1:
        score[1] = logp[0, ext[1]]
    back = np.zeros((T, S), np.int64)
    for t in range(1, T):
        new = np.full(S, -np.inf)
        for s in range(S):
            options = [(score[s], 0)]
            if s >= 1:
                options.append((score[s - 1], 1))
            if s >= 2 and ext[s] != blank and ext[s] != ext[s - 2]:
                options.append((score[s - 2], 2))
            best, move = options[0]
            for value, m in options[1:]:
                if value > best:
                    best, move = value, m
            new[s] = best + logp[t, ext[s]]
            back[t, s] = move
        score = new
    ends = [S - 1] + ([S - 2] if S > 1 else [])
    s = max(ends, key=lambda e: (score[e], e == S - 2))
    if not np.isfinite(score[s]):
        return None
    path = np.zeros(T, np.int64)
    for t in range(T - 1, -1, -1):
        path[t] = ext[s]
        s -= back[t, s]
    return path, logp[np.arange(T), path]


def brute_best(logp, labels, blank):
    T, C = logp.shape
    paths, collapsed = reference._all_paths(C, T, blank)
    good = paths[np.array([c == tuple(labels) for c in collapsed])]
    return good[int(np.argmax(logp[np.arange(T)[None, :], good].sum(axis=1)))]


def merge_reference(tokens, scores, blank):
    out, t = [], 0
    while t < len(tokens):
        e = t
        while e < len(tokens) and tokens[e] == tokens[t]:
            e += 1
        if tokens[t] != blank and tokens[t] >= 0:
            out.append((tokens[t], t, e, float(np.mean(scores[t:e]))))
        t = e
    return out


def batch(seed, N=4, T=40, C=7, blank=0, dtype=torch.float32, target_dtype=torch.int64):
    rng = np.random.default_rng(seed)
    log_probs = torch.from_numpy(reference.log_softmax(rng.normal(size=(N, T, C)) * 2))
    classes = np.array([c for c in range(C) if c != blank])
    L = 6
    targets = classes[rng.integers(0, len(classes), (N, L))]
    targets[0, 1] = targets[0, 0]  # a repeat
    target_lengths = np.array([6, 3, 0, 5, 6, 2][:N])
    input_lengths = np.array([40, 22, 9, 31, 40, 15][:N])
    return (
        log_probs.to(dtype),
        torch.from_numpy(targets).to(target_dtype),
        torch.from_numpy(input_lengths),
        torch.from_numpy(target_lengths),
    )


# --- forced_align -------------------------------------------------------------


def test_reference_viterbi_is_the_brute_force_best_path():
    rng = np.random.default_rng(0)
    for labels in ([1], [1, 1], [2, 1, 2], [3, 2]):
        logp = reference.log_softmax(rng.normal(size=(6, 4)) * 2)
        np.testing.assert_array_equal(viterbi(logp, labels, 0)[0], brute_best(logp, labels, 0))


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("blank", [0, 3])
def test_forced_align_matches_the_reference_per_sample(seed, blank):
    log_probs, targets, input_lengths, target_lengths = batch(
        seed, blank=blank, dtype=torch.float64
    )
    alignments, scores = ctcc.torch.forced_align(
        log_probs, targets, input_lengths, target_lengths, blank=blank
    )
    N, T, _ = log_probs.shape
    assert alignments.shape == (N, T) and scores.shape == (N, T)
    assert alignments.dtype == targets.dtype and scores.dtype == log_probs.dtype
    for n in range(N):
        length, L = int(input_lengths[n]), int(target_lengths[n])
        want = viterbi(log_probs[n, :length].numpy(), targets[n, :L].tolist(), blank)
        assert want is not None
        np.testing.assert_array_equal(alignments[n, :length].numpy(), want[0])
        np.testing.assert_allclose(scores[n, :length].numpy(), want[1], rtol=0, atol=0)
        assert (alignments[n, length:] == -1).all() and (scores[n, length:] == 0).all()


def _tie_heavy(rng, T, C, uniform):
    """[1, T, C] float64 log-probabilities on which many paths score exactly
    the same: all equal, or a few multiples of 0.5 (sums exact)."""
    if uniform:
        return torch.full((1, T, C), -float(np.log(C)), dtype=torch.float64)
    return torch.from_numpy(rng.integers(-3, 1, size=(1, T, C)) * 0.5)


@pytest.mark.parametrize("seed", range(40))
def test_forced_align_ties_as_torchaudio(seed):
    """Exact ties everywhere: the path is the reference's, whose rules are
    torchaudio's (within frames stay, previous, skip; at the end the last
    label unless the final blank is strictly better)."""
    rng = np.random.default_rng(900 + seed)
    T, C = int(rng.integers(1, 12)), int(rng.integers(2, 6))
    L = int(rng.integers(0, T // 2 + 2))
    labels = rng.integers(1, C, size=L)
    log_probs = _tie_heavy(rng, T, C, uniform=seed % 2 == 0)
    want = viterbi(log_probs[0].numpy(), labels.tolist(), 0)
    got, scores = ctcc.torch.forced_align(log_probs, torch.from_numpy(labels[None]))
    if want is None:
        assert (got == -1).all()
        return
    np.testing.assert_array_equal(got[0].numpy(), want[0])
    np.testing.assert_array_equal(scores[0].numpy(), want[1])


def test_reference_viterbi_ties_are_the_brute_force_rule():
    """The reference's tie rules, checked against every path: among the best
    paths, one ending on the last label if any, then the largest state
    sequence read from the end."""
    rng = np.random.default_rng(5)
    for trial in range(30):
        T, C = int(rng.integers(1, 7)), int(rng.integers(2, 4))
        labels = rng.integers(1, C, size=int(rng.integers(1, 3))).tolist()
        logp = _tie_heavy(rng, T, C, uniform=trial % 2 == 0)[0].numpy()
        paths, collapsed = reference._all_paths(C, T, 0)
        good = paths[np.array([c == tuple(labels) for c in collapsed], bool)]
        want = viterbi(logp, labels, 0)
        if len(good) == 0:
            assert want is None
            continue
        sums = logp[np.arange(T)[None, :], good].sum(axis=1)
        best = good[sums == sums.max()]
        states = [_states_of(p, labels) for p in best]
        key = [(s[-1] == 2 * len(labels) - 1, tuple(s[::-1])) for s in states]
        np.testing.assert_array_equal(want[0], best[max(range(len(best)), key=key.__getitem__)])


def _states_of(path, labels):
    """The CTC state sequence of a path that collapses to labels (blank 0):
    blanks before label j are state 2j, label j is 2j + 1."""
    states, j = [], 0
    prev = 0
    for c in path:
        if c == 0:
            states.append(2 * j)
        elif prev == c and states[-1] % 2 == 1:
            states.append(states[-1])
        else:
            j += 1
            states.append(2 * j - 1)
        prev = c
    return states


@pytest.mark.parametrize(
    "dtype, target_dtype",
    [
        (torch.float32, torch.int32),
        (torch.float32, torch.int64),
        (torch.float64, torch.int32),
        (torch.float16, torch.int64),
        (torch.bfloat16, torch.int64),
    ],
)
def test_forced_align_dtypes(dtype, target_dtype):
    log_probs, targets, input_lengths, target_lengths = batch(
        1, dtype=dtype, target_dtype=target_dtype
    )
    alignments, scores = ctcc.torch.forced_align(log_probs, targets, input_lengths, target_lengths)
    assert alignments.dtype == target_dtype and scores.dtype == dtype
    # the path is the one of the float32 values; the scores are log_probs's own
    base, _ = ctcc.torch.forced_align(
        log_probs.float(), targets.long(), input_lengths, target_lengths
    )
    np.testing.assert_array_equal(alignments.long().numpy(), base.numpy())
    valid = alignments >= 0
    picked = log_probs.gather(2, alignments.long().clamp(min=0).unsqueeze(2)).squeeze(2)
    assert torch.equal(scores[valid], picked[valid])
    # the sum of the scores is ctcc's path log-probability
    result = ctcc.forced_align(
        log_probs.float().numpy(),
        targets.numpy(),
        input_lengths.numpy(),
        target_lengths.numpy(),
        time_major=False,
        log_probs=True,
    )
    tol = {torch.float32: 1e-4, torch.float64: 1e-4}.get(dtype, 0.5)
    np.testing.assert_allclose(scores.double().sum(1).numpy(), result.scores, atol=tol)


def test_forced_align_defaults_and_single_sample_as_torchaudio():
    """No lengths: every frame and every target entry counts, as torchaudio."""
    log_probs, targets, _, _ = batch(2, N=1)
    alignments, scores = ctcc.torch.forced_align(log_probs, targets)
    want = viterbi(log_probs[0].double().numpy(), targets[0].tolist(), 0)
    np.testing.assert_array_equal(alignments[0].numpy(), want[0])
    np.testing.assert_allclose(scores[0].numpy(), want[1], rtol=1e-6)


def test_forced_align_samples_without_a_path():
    log_probs = torch.zeros(3, 4, 5).log_softmax(-1)
    log_probs[2, :, 1] = -float("inf")  # label 1 impossible
    log_probs[1, 2, 3] = float("nan")
    targets = torch.tensor([[1, 1, 1], [2, 3, 0], [1, 0, 0]])
    alignments, scores = ctcc.torch.forced_align(
        log_probs, targets, torch.tensor([4, 4, 3]), torch.tensor([3, 2, 1])
    )
    # 4 frames hold "1 _ 1 _ 1"? no: 5 needed
    assert (alignments == -1).all()
    assert torch.isinf(scores[0]).all() and (scores[0] < 0).all()
    assert torch.isnan(scores[1]).all()
    assert torch.isinf(scores[2, :3]).all() and scores[2, 3] == 0


def test_forced_align_star_frames():
    """Stars as ctcc.forced_align reports them: the alignment shows
    ctcc.STAR, the score is the frame's best log-probability plus the
    penalty, and the scores still add up to the path's."""
    probs = torch.full((1, 6, 4), 0.02)
    probs[0, torch.arange(6), torch.tensor([3, 3, 0, 1, 0, 2])] = 0.94
    log_probs = probs.log()
    targets = torch.tensor([[ctcc.STAR, 1, 2]])
    alignments, scores = ctcc.torch.forced_align(log_probs, targets, star_penalty=-1.5)
    assert alignments.tolist() == [[ctcc.STAR, ctcc.STAR, 0, 1, 0, 2]]
    np.testing.assert_allclose(scores[0, :2].numpy(), np.log(0.94) - 1.5, rtol=1e-6)
    np.testing.assert_allclose(scores[0, 2:].numpy(), np.log(0.94), rtol=1e-6)
    result = ctcc.forced_align(
        log_probs.numpy(),
        [[ctcc.STAR, 1, 2]],
        time_major=False,
        log_probs=True,
        star_penalty=-1.5,
    )
    np.testing.assert_allclose(scores.sum().item(), result.scores[0], rtol=1e-6)
    spans = ctcc.torch.merge_tokens(alignments[0], scores[0])
    assert [(s.token, s.start, s.end) for s in spans] == [(1, 3, 4), (2, 5, 6)]


def test_forced_align_thread_counts_agree():
    log_probs, targets, input_lengths, target_lengths = batch(5, N=6, T=80)
    one = ctcc.torch.forced_align(log_probs, targets, input_lengths, target_lengths, num_threads=1)
    two = ctcc.torch.forced_align(log_probs, targets, input_lengths, target_lengths, num_threads=2)
    assert torch.equal(one[0], two[0]) and torch.equal(one[1], two[1])


def test_forced_align_has_no_gradient_and_leaves_inputs_alone():
    log_probs, targets, input_lengths, target_lengths = batch(6)
    log_probs.requires_grad_()
    before = log_probs.detach().clone()
    alignments, scores = ctcc.torch.forced_align(log_probs, targets, input_lengths, target_lengths)
    assert not scores.requires_grad
    assert torch.equal(log_probs.detach(), before)


def test_forced_align_errors():
    log_probs, targets, input_lengths, target_lengths = batch(0)
    fa = ctcc.torch.forced_align
    with pytest.raises(TypeError, match="log_probs must be a torch.Tensor"):
        fa(log_probs.numpy(), targets)
    with pytest.raises(TypeError, match="log_probs must be float32"):
        fa(log_probs.to(torch.int32), targets)
    with pytest.raises(ValueError, match=r"log_probs must be \[N, T, C\]"):
        fa(log_probs[0], targets)
    with pytest.raises(ValueError, match="on meta"):
        fa(log_probs.to("meta"), targets)
    with pytest.raises(TypeError, match="targets must be int32 or int64"):
        fa(log_probs, targets.float())
    with pytest.raises(TypeError, match="targets must be int32 or int64"):
        fa(log_probs, targets.to(torch.int16))
    with pytest.raises(ValueError, match=r"targets must be \[N, L\] with N = 4"):
        fa(log_probs, targets[:2])
    with pytest.raises(ValueError, match=r"input_lengths must have shape \(4,\)"):
        fa(log_probs, targets, input_lengths[:3], target_lengths)
    with pytest.raises(TypeError, match="target_lengths must hold integers"):
        fa(log_probs, targets, input_lengths, target_lengths.float())
    with pytest.raises(TypeError, match="input_lengths must be a torch.Tensor"):
        fa(log_probs, targets, [40, 22, 9, 31], target_lengths)
    with pytest.raises(TypeError, match="blank"):
        fa(log_probs, targets, blank=0.0)
    with pytest.raises(ValueError, match="blank"):
        fa(log_probs, targets, blank=7)
    bad = targets.clone()
    bad[1, 0] = 0
    with pytest.raises(ValueError, match=r"ctcc.torch.forced_align: .*targets"):
        fa(log_probs, bad, input_lengths, target_lengths)  # the blank as a label
    bad[1, 0] = 9
    with pytest.raises(ValueError, match=r"ctcc.torch.forced_align: .*targets"):
        fa(log_probs, bad, input_lengths, target_lengths)  # outside the alphabet
    with pytest.raises(ValueError, match=r"input_lengths"):
        fa(log_probs, targets, input_lengths + 1, target_lengths)  # 41 > T
    with pytest.raises(ValueError, match=r"target_lengths"):
        fa(log_probs, targets, input_lengths, target_lengths + 1)  # 7 > L
    with pytest.raises(TypeError, match="num_threads"):
        fa(log_probs, targets, num_threads=1.0)


def _torchaudio_forced_align():
    try:
        import torchaudio.functional as F
    except Exception as e:  # not installed, or built for another torch
        pytest.skip(f"torchaudio cannot be imported ({type(e).__name__})")
    if not hasattr(F, "forced_align"):
        pytest.skip("this torchaudio has no functional.forced_align")
    return F


@pytest.mark.parametrize("seed", range(3))
def test_same_as_torchaudio(seed):
    F = _torchaudio_forced_align()
    log_probs, targets, _, _ = batch(seed, N=1, T=60)
    want = F.forced_align(log_probs, targets, blank=0)
    got = ctcc.torch.forced_align(log_probs, targets, blank=0)
    assert torch.equal(got[0], want[0])
    torch.testing.assert_close(got[1], want[1], rtol=0, atol=0)
    want_spans = F.merge_tokens(want[0][0], want[1][0].exp())
    got_spans = ctcc.torch.merge_tokens(got[0][0], got[1][0].exp())
    assert [(s.token, s.start, s.end) for s in got_spans] == [
        (s.token, s.start, s.end) for s in want_spans
    ]
    np.testing.assert_allclose(
        [s.score for s in got_spans], [s.score for s in want_spans], rtol=1e-6
    )


@pytest.mark.parametrize("seed", range(12))
def test_same_as_torchaudio_on_many_shapes_and_ties(seed):
    """torchaudio one sample at a time against one batched call.

    Random float64 input and input on which every path ties: the same
    paths and scores. Input whose scores are a few multiples of 0.5 (many
    exact ties between a cell's predecessors): torchaudio up to at least
    2.11 may then keep a predecessor that is not the best (pytorch/audio
    issue 4221) and return a path that is not most probable, so there
    ctcc's path must score at least as high (its ties are checked against
    the reference above). Random float32: torchaudio adds in float32, ctcc
    in double; the same inequality, in double."""
    F = _torchaudio_forced_align()
    rng = np.random.default_rng(300 + seed)
    N, C = 6, int(rng.integers(2, 30))
    T = int(rng.integers(1, 200))
    kind = ("random64", "random32", "uniform", "steps")[seed % 4]
    if kind.startswith("random"):
        lp = torch.randn(N, T, C, dtype=torch.float64).log_softmax(-1)
        lp = lp.float() if kind == "random32" else lp
    else:
        lp = torch.cat([_tie_heavy(rng, T, C, uniform=kind == "uniform") for _ in range(N)])
    lengths = torch.from_numpy(rng.integers(1, T + 1, size=N))
    lengths[0] = T
    tlen = torch.from_numpy(np.minimum(rng.integers(0, 12, size=N), (lengths.numpy() + 1) // 2))
    targets = torch.from_numpy(rng.integers(1, C, size=(N, int(tlen.max()))))
    got, got_scores = ctcc.torch.forced_align(lp, targets, lengths, tlen)
    for n in range(N):
        T_n, L_n = int(lengths[n]), int(tlen[n])
        try:
            want, want_scores = F.forced_align(lp[n : n + 1, :T_n], targets[n : n + 1, :L_n])
        except RuntimeError:  # too few frames for the labels, or no labels
            continue
        if kind in ("random64", "uniform"):
            assert torch.equal(got[n, :T_n], want[0].to(got.dtype)), (kind, n)
            assert torch.equal(got_scores[n, :T_n], want_scores[0]), (kind, n)
        else:
            mine = got_scores[n, :T_n].double().sum().item()
            theirs = lp[n, :T_n].double().gather(1, want[0][:, None]).sum().item()
            assert mine >= theirs, (kind, n, mine, theirs)


# --- merge_tokens -------------------------------------------------------------


@pytest.mark.parametrize("seed", range(5))
def test_merge_tokens_matches_the_loop(seed):
    rng = np.random.default_rng(seed)
    T = int(rng.integers(0, 40))
    tokens = torch.from_numpy(rng.integers(0, 4, size=T))
    scores = torch.from_numpy(rng.random(T)).float()
    got = ctcc.torch.merge_tokens(tokens, scores)
    want = merge_reference(tokens.tolist(), scores.double().numpy(), 0)
    assert [(s.token, s.start, s.end) for s in got] == [w[:3] for w in want]
    np.testing.assert_allclose([s.score for s in got], [w[3] for w in want], rtol=1e-12)
    assert all(isinstance(s, ctcc.torch.TokenSpan) for s in got)
    assert all(type(s.token) is int and type(s.score) is float for s in got)
    assert [len(s) for s in got] == [w[2] - w[1] for w in want]


def test_merge_tokens_of_a_batched_alignment_drops_padding():
    log_probs, targets, input_lengths, target_lengths = batch(3)
    alignments, scores = ctcc.torch.forced_align(log_probs, targets, input_lengths, target_lengths)
    for n in range(alignments.shape[0]):
        spans = ctcc.torch.merge_tokens(alignments[n], scores[n])
        assert [s.token for s in spans] == targets[n, : target_lengths[n]].tolist()
        assert all(s.end <= input_lengths[n] for s in spans)


def test_merge_tokens_errors():
    mt = ctcc.torch.merge_tokens
    with pytest.raises(ValueError, match="1-D"):
        mt(torch.zeros(2, 3, dtype=torch.int64), torch.zeros(2, 3))
    with pytest.raises(ValueError, match="same length"):
        mt(torch.tensor([1, 2]), torch.tensor([0.5]))
    with pytest.raises(TypeError, match="tokens must hold integers"):
        mt(torch.tensor([1.0]), torch.tensor([0.5]))
    with pytest.raises(TypeError, match="scores must be a floating tensor"):
        mt(torch.tensor([1]), torch.tensor([1]))
    with pytest.raises(TypeError, match="tokens must be a torch.Tensor"):
        mt([1, 2], torch.tensor([0.5, 0.5]))
    with pytest.raises(ValueError, match="blank must be"):
        mt(torch.tensor([1]), torch.tensor([0.5]), blank=-1)
