"""Concurrency: ctcc's Python functions called from many Python threads at
once give bitwise the results of sequential calls, and release the GIL
while the C core runs.

Each Python thread keeps its own workspace (``_workspace`` in
``ctcc/_core.pyx`` caches one buffer per thread), so concurrent calls never
share scratch memory.
"""

import ctypes
import sys
import threading
import time

import numpy as np
import pytest

import ctcc

NUM_THREADS = 8
ROUNDS = 3


def _job(seed):
    """A different problem per thread: shapes, dtype, layout, blank and the
    C-side thread count all vary with the seed."""
    rng = np.random.default_rng(seed)
    T = int(rng.integers(30, 120))
    N = int(rng.integers(1, 6))
    C = int(rng.integers(3, 30))
    dtype = np.float32 if seed % 2 == 0 else np.float64
    blank = 0 if seed % 3 else C - 1
    logits = (2.0 * rng.standard_normal((T, N, C))).astype(dtype)
    lengths = rng.integers(T // 2, T + 1, size=N)
    labels = []
    for n in range(N):
        L = int(rng.integers(0, max(1, lengths[n] // 3)))
        choices = [c for c in range(C) if c != blank]
        labels.append(rng.choice(choices, size=L).astype(np.int32))
    threads = 1 if seed % 4 < 2 else None
    return dict(logits=logits, labels=labels, lengths=lengths, blank=blank, num_threads=threads)


def _compute(job):
    """Every concurrent entry point on one job, as flat arrays."""
    kw = dict(blank=job["blank"], num_threads=job["num_threads"])
    x, labels, lengths = job["logits"], job["labels"], job["lengths"]
    out = []
    loss, grad = ctcc.ctc_loss(x, labels, logit_lengths=lengths, **kw)
    out += [loss, grad]
    loss, _ = ctcc.ctc_loss(x, labels, logit_lengths=lengths, grad=False, **kw)
    out.append(loss)
    loss, grad = ctcc.ctc_loss(x, labels, logit_lengths=lengths, alpha=0.5, gamma=1.0, **kw)
    out += [loss, grad]
    post, weights = ctcc.ctc_posteriors(
        x, labels, logit_lengths=lengths, gamma=0.5, return_weights=True, **kw
    )
    out += [post, weights]
    al = ctcc.forced_align(x, labels, logit_lengths=lengths, **kw)
    out += [al.frames, al.scores] + list(al.spans)
    out += ctcc.greedy_decode(x, lengths, **kw)
    paths, scores = ctcc.beam_search_decode(x, lengths, beam_width=4, top_paths=2, **kw)
    out += [p for row in paths for p in row] + [scores]
    return out


def _assert_bitwise(got, want):
    assert len(got) == len(want)
    for g, w in zip(got, want):
        g, w = np.asarray(g), np.asarray(w)
        assert g.dtype == w.dtype and g.shape == w.shape
        # Bitwise, NaN and -inf included: compare the bytes.
        assert g.tobytes() == w.tobytes()


def test_threads_match_sequential_bitwise():
    jobs = [_job(seed) for seed in range(NUM_THREADS)]
    want = [_compute(job) for job in jobs]

    barrier = threading.Barrier(NUM_THREADS)
    results = [[] for _ in range(NUM_THREADS)]
    errors = []

    def worker(i):
        try:
            barrier.wait()
            for _ in range(ROUNDS):
                results[i].append(_compute(jobs[i]))
        except BaseException as e:  # reported below, with the thread's index
            errors.append((i, e))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(NUM_THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for i in range(NUM_THREADS):
        assert len(results[i]) == ROUNDS
        for got in results[i]:
            _assert_bitwise(got, want[i])


def test_threads_with_one_shared_input():
    """Eight threads reading the same (read-only) arrays at once."""
    job = _job(11)
    job["logits"].setflags(write=False)
    want = _compute(job)
    barrier = threading.Barrier(NUM_THREADS)
    results = [None] * NUM_THREADS

    def worker(i):
        barrier.wait()
        results[i] = _compute(job)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(NUM_THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for got in results:
        _assert_bitwise(got, want)


def _probe_gil(call):
    """Runs call() on this thread while a pure-Python thread counts.

    Returns (ticks, longest_gap, duration): the counter's increments during
    the call, the longest time (seconds) inside the call during which the
    counter made no progress, and the call's duration. A call that holds
    the GIL stalls the counter for (nearly) its whole duration; one that
    releases it lets the counter run (on the other core, or time-sliced
    with it on a busy machine)."""
    state = {"n": 0, "stop": False, "gaps": []}
    started = threading.Event()

    def counter():
        clock = time.perf_counter
        prev = clock()
        started.set()
        while not state["stop"]:
            now = clock()
            if now - prev > 1e-3:
                state["gaps"].append((prev, now))
            prev = now
            state["n"] += 1

    thread = threading.Thread(target=counter)
    thread.start()
    started.wait()
    time.sleep(0.05)
    before = state["n"]
    t0 = time.perf_counter()
    call()
    t1 = time.perf_counter()
    after = state["n"]
    state["stop"] = True
    thread.join()
    longest = 0.0
    for a, b in state["gaps"]:
        overlap = min(b, t1) - max(a, t0)
        longest = max(longest, overlap)
    return after - before, longest, t1 - t0


def _long_loss_call():
    rng = np.random.default_rng(0)
    T, N, C, L = 2000, 8, 40, 300
    x = rng.standard_normal((T, N, C)).astype(np.float64)
    labels = rng.integers(1, C, size=(N, L))
    ctcc.ctc_loss(x, labels, num_threads=1)  # warm the workspace

    def call():
        # For a set time rather than a set count: long enough to tell on a
        # fast machine too.
        end = time.perf_counter() + 0.3
        while time.perf_counter() < end:
            ctcc.ctc_loss(x, labels, num_threads=1)

    return call


def test_gil_is_released_during_the_c_call():
    ticks, longest, duration = _probe_gil(_long_loss_call())
    assert duration > 0.1, "the call is too short to tell"
    # A GIL-holding call stalls the counter for about its whole duration (it
    # ticks only around the call's start and end: tens of thousands of
    # ticks, against millions when the GIL is released).
    assert ticks > 1000, (ticks, longest, duration)
    assert longest < 0.5 * duration, (ticks, longest, duration)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses libc usleep")
def test_gil_probe_detects_a_call_that_holds_the_gil():
    """Control: the probe does see a C call that keeps the GIL (ctypes.PyDLL
    keeps it), so the test above can fail."""
    usleep = ctypes.PyDLL(None).usleep
    ticks, longest, duration = _probe_gil(lambda: usleep(300_000))
    assert longest > 0.5 * duration, (ticks, longest, duration)
