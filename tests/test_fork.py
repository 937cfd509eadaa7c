"""Fork safety: a process forked after ctcc ran a multi-threaded call can
still call every entry point (GNU libgomp's thread pool does not survive
fork(); a child that entered a parallel region waited forever for threads
that were not copied).

Each scenario runs in a fresh interpreter in its own session, under a
timeout; a hang kills the whole process group and fails the test instead of
blocking pytest. The child's results are compared with the parent's, which
were computed with several threads before the fork.
"""

import os
import signal
import subprocess
import sys
import textwrap

import pytest

ctcc = pytest.importorskip("ctcc")

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")

TIMEOUT = 60  # seconds for a whole scenario; each takes about one

# Every public entry point of the C core, once with several threads; the
# results are printed as one checksum per entry point.
COMMON = textwrap.dedent(
    """
    import os, sys
    import numpy as np
    import ctcc

    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 8, 6))
    LABELS = [[1, 2, 3]] * 8
    LENGTHS = [30, 28, 25, 30, 20, 30, 30, 29]

    def work(threads=4):
        out = {}
        for dtype in (np.float32, np.float64):
            x = X.astype(dtype)
            loss, grad = ctcc.ctc_loss(x, LABELS, LENGTHS, num_threads=threads)
            _, gmod = ctcc.ctc_loss(x, LABELS, LENGTHS, alpha=0.5, gamma=1.0,
                                    num_threads=threads)
            post = ctcc.ctc_posteriors(x, LABELS, LENGTHS, num_threads=threads)
            al = ctcc.forced_align(x, LABELS, LENGTHS, num_threads=threads)
            greedy = ctcc.greedy_decode(x, LENGTHS, num_threads=threads)
            beams, scores = ctcc.beam_search_decode(x, LENGTHS, beam_width=4,
                                                    num_threads=threads)
            out[dtype.__name__] = [
                float(np.sum(loss)), float(np.sum(grad * grad)),
                float(np.sum(gmod * gmod)), float(np.sum(post * post)),
                repr(al), repr([g.tolist() for g in greedy]),
                repr([[b.tolist() for b in bs] for bs in beams]),
                float(np.sum(scores)),
            ]
        return repr(out)
    """
)


def _run(body):
    """Runs COMMON + body in a fresh interpreter in a new session; returns
    its stdout. A hang past TIMEOUT kills the whole session and fails."""
    proc = subprocess.Popen(
        [sys.executable, "-c", COMMON + textwrap.dedent(body)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        pytest.fail(f"hung for {TIMEOUT} s (a forked child never returned)\n{out}\n{err}")
    assert proc.returncode == 0, out + err
    return out


@pytest.fixture(scope="module", autouse=True)
def _needs_threads():
    if not ctcc.openmp_enabled():
        pytest.skip("ctcc built without OpenMP: nothing runs in threads")


def test_os_fork_child_calls_every_entry_point():
    """The parent runs everything with 4 threads, forks, and the child runs
    everything again (asking for 4 threads): same results, no hang."""
    out = _run(
        """
        before = work()
        pid = os.fork()
        if pid == 0:
            try:
                code = 0 if work() == before else 3
            except BaseException as e:
                print("child:", repr(e), flush=True)
                code = 4
            os._exit(code)
        _, status = os.waitpid(pid, 0)
        print("child exit", os.waitstatus_to_exitcode(status))
        # the parent keeps its threads
        print("parent ok", work() == before)
        """
    )
    assert "child exit 0" in out
    assert "parent ok True" in out


def test_grandchild_and_default_thread_count():
    """A child forked from a forked child works too, with the default
    thread count (num_threads=None), and both report that calls there run
    on one thread."""
    out = _run(
        """
        before = work()
        def child(depth):
            try:
                ok = work(threads=None) == before
                ok = ok and ctcc.default_num_threads() == 1
                if ok and depth < 2:
                    pid = os.fork()
                    if pid == 0:
                        child(depth + 1)
                    _, status = os.waitpid(pid, 0)
                    ok = os.waitstatus_to_exitcode(status) == 0
            except BaseException as e:
                print("child:", repr(e), flush=True)
                ok = False
            os._exit(0 if ok else 3)
        pid = os.fork()
        if pid == 0:
            child(1)
        _, status = os.waitpid(pid, 0)
        print("child exit", os.waitstatus_to_exitcode(status))
        """
    )
    assert "child exit 0" in out


def test_multiprocessing_fork_pool():
    """A fork-context multiprocessing.Pool (the default start method on
    Linux up to Python 3.13) after a multi-threaded call in the parent."""
    out = _run(
        """
        import multiprocessing as mp

        def task(i):
            return work()

        if __name__ == "__main__":
            before = work()
            with mp.get_context("fork").Pool(2) as pool:
                results = pool.map(task, range(4))
            print("pool ok", all(r == before for r in results))
        """
    )
    assert "pool ok True" in out


def test_greedy_decode_alone_in_a_forked_child():
    """Greedy decoding was one of the reported hangs: parent and child use
    nothing else."""
    out = _run(
        """
        x = X.astype(np.float32)
        before = repr([g.tolist() for g in ctcc.greedy_decode(x, num_threads=4)])
        pid = os.fork()
        if pid == 0:
            got = repr([g.tolist() for g in ctcc.greedy_decode(x, num_threads=4)])
            os._exit(0 if got == before else 3)
        _, status = os.waitpid(pid, 0)
        print("child exit", os.waitstatus_to_exitcode(status))
        """
    )
    assert "child exit 0" in out
