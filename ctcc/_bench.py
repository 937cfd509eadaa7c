#!/usr/bin/env python3
"""Benchmark harness: ctcc against TensorFlow and PyTorch CTC losses (CPU).

Run ``python -m ctcc bench --help`` (from a checkout, ``python
bench/ctcc_bench.py`` does the same; or call ``main(argv)``). Every
implementation is timed for loss + gradient with respect to the logits.

Design
------
Each (framework, thread count) pair runs in its own worker process: this
very file started as ``_bench.py --worker KIND ...``. A worker builds the
same random batch from a fixed seed, sets its framework's thread count before
the framework starts (TensorFlow can only be told then), and answers
one-line JSON commands on stdin with one-line JSON replies on stdout. The
parent

1. starts all workers of a workload and waits until they are ready;
2. asks each implementation for one call whose loss and gradient it saves,
   and checks that all implementations agree (this call is also the first
   warm-up: TensorFlow traces and compiles its tf.function here);
3. asks for one more untimed warm-up call;
4. runs ``--repeats`` rounds, one timed call per implementation per round,
   rotating the order every round so that the noise of a shared machine
   falls on all implementations alike;
5. reports median / min / max per implementation.

This file imports only the standard library and NumPy at the top level;
ctcc, TensorFlow and PyTorch are imported inside the workers (and ctcc in
the parent, for its version), so it can move into the ctcc package as it is.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Sequence
from typing import Any, Callable, Optional

import numpy as np

# --------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------

# name: (T, N, C, L)
WORKLOADS: dict[str, tuple[int, int, int, int]] = {
    "speech-small": (150, 32, 29, 40),
    "speech-long": (700, 32, 29, 100),
    "ocr-large-vocab": (64, 64, 5000, 20),
    "very-long": (4000, 4, 29, 400),
}
# Workloads that also get the NumPy softmax "limit" row.
SOFTMAX_LIMIT_WORKLOADS = ("ocr-large-vocab",)
QUICK_WORKLOAD = "speech-small"

DEFAULT_REPEATS = 7
QUICK_REPEATS = 2
DEFAULT_THREADS = (1, 2)
DEFAULT_SLOW_LIMIT_S = 20.0
# A timed sample is one call, or the mean of back-to-back calls for calls
# faster than this (timer resolution and wake-up jitter of tiny workloads).
MIN_SAMPLE_S = 0.02
MAX_CALLS_PER_SAMPLE = 1000
SEED = 20240601
# Agreement check, against ctcc in float64 (the exact answer up to float64
# rounding) and, for the losses, between every pair of implementations.
LOSS_RTOL = 1e-4  # relative, float32 losses
GRAD_ATOL = 1e-4  # absolute, gradients with respect to the logits ...
# ... plus a float32 allowance for sample n of GRAD_F32_FACTOR * sqrt(T) *
# 2**-23 * |loss_n|. A gradient entry is softmax - exp(alpha + beta - logZ);
# alpha, beta and logZ are of the size of the loss (hundreds to ten
# thousands), so float32 rounds the exponent to about 2**-23 * |loss_n| per
# step and the errors of T steps add up like a random walk. The largest
# errors seen on the built-in workloads are 0.4 of sqrt(T) * 2**-23 * |loss|
# (TensorFlow's classic op; PyTorch 0.3): a flat 1e-4 fails both of them on
# the long workloads (up to 3.5e-2 on very-long).
GRAD_F32_FACTOR = 2.0
F32_EPS = 2.0**-23

FRAMEWORKS = ("ctcc", "tf", "torch")

# implementation name -> (worker kind, description)
IMPLEMENTATIONS: dict[str, tuple[str, str]] = {
    "ctcc": ("ctcc", "ctcc.ctc_loss, loss + gradient"),
    "ctcc-loss-only": ("ctcc", "ctcc.ctc_loss(grad=False), loss only"),
    "numpy-softmax": ("ctcc", "limit: NumPy stable softmax over [T,N,C], no CTC"),
    "tf-v2-sparse": ("tf", "tf.nn.ctc_loss, SparseTensor labels, blank_index=0 (classic op)"),
    "tf-v2-dense": ("tf", "tf.nn.ctc_loss, dense labels, blank_index=0 (ctc_loss_dense)"),
    "tf-v1": ("tf", "tf.compat.v1.nn.ctc_loss, blank last (logits rolled outside timing)"),
    "torch": ("torch", "torch.nn.functional.ctc_loss after torch.log_softmax"),
}
# Implementations that produce a CTC loss (and are checked against each other).
CTC_IMPLS = ("ctcc", "ctcc-loss-only", "tf-v2-sparse", "tf-v2-dense", "tf-v1", "torch")
TF_IMPLS = ("tf-v2-sparse", "tf-v2-dense", "tf-v1")

# Thread-count environment for the workers (libraries that read these).
_THREAD_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


class BenchError(Exception):
    """A failure that stops the benchmark (exit status 1)."""


class Mismatch(BenchError):
    """Implementations disagree on a loss or a gradient."""


class WorkerDied(BenchError):
    """A worker process exited (crashed, killed, out of memory)."""


# --------------------------------------------------------------------------
# Data shared by the parent and the workers
# --------------------------------------------------------------------------


def make_batch(T: int, N: int, C: int, L: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Standard-normal float32 logits [T, N, C] and labels [N, L] uniform in
    [1, C) (blank = 0), the same in every process for the same seed."""
    rng = np.random.default_rng(seed)
    logits = rng.standard_normal((T, N, C), dtype=np.float32)
    labels = (
        rng.integers(1, C, size=(N, L), dtype=np.int32) if C > 1 else np.zeros((N, L), np.int32)
    )
    return logits, labels


def min_frames_needed(labels: np.ndarray) -> int:
    """The fewest frames in which every label row is feasible: its length
    plus one blank between each pair of equal neighbours."""
    if labels.shape[1] == 0:
        return 0
    repeats = (labels[:, 1:] == labels[:, :-1]).sum(axis=1)
    return int((labels.shape[1] + repeats).max())


def dp_cells(T: int, N: int, L: int) -> int:
    return N * T * (2 * L + 1)


def impls_for(kind: str, with_softmax_limit: bool, exclude: Sequence[str] = ()) -> list[str]:
    names = [name for name, (k, _) in IMPLEMENTATIONS.items() if k == kind and name not in exclude]
    if not with_softmax_limit:
        names = [n for n in names if n != "numpy-softmax"]
    return names


# --------------------------------------------------------------------------
# Worker side: the implementations
# --------------------------------------------------------------------------
#
# A worker builds, for each implementation, a pair (call, outputs):
#   call()        the timed operation; returns whatever the framework returns
#   outputs(out)  converts call()'s result to (loss float64 [N], grad float32
#                 [T, N, C] in ctcc's convention, or None), untimed


Impl = tuple[Callable[[], Any], Callable[[Any], tuple[np.ndarray, Optional[np.ndarray]]]]


def _build_ctcc(
    threads: int, logits: np.ndarray, labels: np.ndarray, names: Sequence[str]
) -> tuple[dict[str, Impl], dict[str, Any]]:
    import ctcc

    T, N, C = logits.shape
    L = labels.shape[1]
    logit_lengths = np.full(N, T, dtype=np.int32)
    label_lengths = np.full(N, L, dtype=np.int32)
    impls: dict[str, Impl] = {}

    def ctcc_full() -> Any:
        return ctcc.ctc_loss(
            logits, labels, logit_lengths, label_lengths, blank=0, num_threads=threads
        )

    def ctcc_loss_only() -> Any:
        return ctcc.ctc_loss(
            logits, labels, logit_lengths, label_lengths, blank=0, num_threads=threads, grad=False
        )

    def softmax() -> np.ndarray:
        # Numerically stable softmax, as a floor for anything that reads the
        # logits and writes a gradient of the same size. NumPy runs it on one
        # thread whatever the thread count.
        out = np.empty_like(logits)
        np.subtract(logits, logits.max(axis=2, keepdims=True), out=out)
        np.exp(out, out=out)
        out /= out.sum(axis=2, keepdims=True)
        return out

    def as_outputs(out: Any) -> tuple[np.ndarray, np.ndarray | None]:
        loss, grad = out
        return np.asarray(loss, dtype=np.float64), grad

    def softmax_outputs(out: Any) -> tuple[np.ndarray, np.ndarray | None]:
        return np.zeros(0), None

    table = {
        "ctcc": (ctcc_full, as_outputs),
        "ctcc-loss-only": (ctcc_loss_only, as_outputs),
        "numpy-softmax": (softmax, softmax_outputs),
    }
    for name in names:
        impls[name] = table[name]

    def reference() -> Any:
        # The float64 reference of the agreement check (never timed).
        return ctcc.ctc_loss(
            logits.astype(np.float64),
            labels,
            logit_lengths,
            label_lengths,
            blank=0,
            num_threads=threads,
        )

    def reference_outputs(out: Any) -> tuple[np.ndarray, np.ndarray | None]:
        return np.asarray(out[0], dtype=np.float64), out[1]

    impls["reference-f64"] = (reference, reference_outputs)

    info: dict[str, Any] = {
        "versions": {"ctcc": ctcc.__version__, "numpy": np.__version__},
        "openmp": bool(ctcc.openmp_enabled()),
        "core_sha256": _file_sha256(getattr(sys.modules.get("ctcc._core"), "__file__", None)),
    }
    info.update(_ctcc_workspace(ctcc, logit_lengths, label_lengths, C))
    return impls, info


def _file_sha256(path: str | None) -> str | None:
    """Identifies the compiled ctcc core a worker loaded (rebuilds change it)."""
    if not path:
        return None
    import hashlib

    try:
        with open(path, "rb") as fh:
            return hashlib.sha256(fh.read()).hexdigest()[:16]
    except OSError:
        return None


def _git_describe(root: str) -> str | None:
    """The commit of the source tree ctcc was imported from, '+dirty' when
    tracked files differ from it; None outside a git checkout."""
    try:
        head = subprocess.run(
            ["git", "-C", root, "rev-parse", "--short=12", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", root, "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return head + ("+dirty" if dirty else "") if head else None


def _ctcc_workspace(
    ctcc: Any, logit_lengths: np.ndarray, label_lengths: np.ndarray, alphabet_size: int
) -> dict[str, Any]:
    """ctcc's scratch memory in bytes for this batch (with and without the
    gradient), where the package has ``ctcc.workspace_size(logit_lengths,
    label_lengths, alphabet_size, *, dtype, grad)``; None otherwise."""
    fn = getattr(ctcc, "workspace_size", None)
    if not callable(fn):
        return {
            "workspace_bytes": None,
            "workspace_bytes_loss_only": None,
            "workspace_note": "ctcc.workspace_size not available",
        }
    try:
        return {
            "workspace_bytes": int(
                fn(logit_lengths, label_lengths, alphabet_size, dtype=np.float32, grad=True)
            ),
            "workspace_bytes_loss_only": int(
                fn(logit_lengths, label_lengths, alphabet_size, dtype=np.float32, grad=False)
            ),
            "workspace_note": "",
        }
    except Exception as exc:  # noqa: BLE001 - an older or newer API: reported, not fatal
        return {
            "workspace_bytes": None,
            "workspace_bytes_loss_only": None,
            "workspace_note": f"ctcc.workspace_size: {type(exc).__name__}: {exc}",
        }


def _build_tf(
    threads: int, logits: np.ndarray, labels: np.ndarray, names: Sequence[str]
) -> tuple[dict[str, Impl], dict[str, Any]]:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    # Must happen before TensorFlow runs its first operation.
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)

    T, N, C = logits.shape
    L = labels.shape[1]
    x = tf.constant(logits)
    logit_length = tf.fill([N], T)
    label_length = tf.fill([N], L)
    dense_labels = tf.constant(labels)
    # from_dense keeps the nonzero entries: all of them, labels are >= 1.
    sparse_labels = tf.sparse.from_dense(dense_labels)
    # Classic op: blank is the last class. Move class 0 to the end (outside
    # the timed region) and shift the labels down by one.
    x_rolled = tf.constant(np.roll(logits, -1, axis=2))
    indices = np.stack(np.meshgrid(np.arange(N), np.arange(L), indexing="ij"), -1).reshape(-1, 2)
    sparse_labels_v1 = tf.SparseTensor(indices.astype(np.int64), (labels - 1).reshape(-1), [N, L])

    def with_gradient(loss_fn: Callable[[Any], Any]) -> Callable[[Any], Any]:
        @tf.function
        def step(inputs: Any) -> Any:
            with tf.GradientTape() as tape:
                tape.watch(inputs)
                loss = loss_fn(inputs)
                total = tf.reduce_sum(loss)
            return loss, tape.gradient(total, inputs)

        return step

    v2_sparse = with_gradient(
        lambda inputs: tf.nn.ctc_loss(
            labels=sparse_labels,
            logits=inputs,
            label_length=None,
            logit_length=logit_length,
            logits_time_major=True,
            blank_index=0,
        )
    )
    v2_dense = with_gradient(
        lambda inputs: tf.nn.ctc_loss(
            labels=dense_labels,
            logits=inputs,
            label_length=label_length,
            logit_length=logit_length,
            logits_time_major=True,
            blank_index=0,
        )
    )
    v1 = with_gradient(
        lambda inputs: tf.compat.v1.nn.ctc_loss(
            labels=sparse_labels_v1, inputs=inputs, sequence_length=logit_length, time_major=True
        )
    )

    def outputs(out: Any) -> tuple[np.ndarray, np.ndarray | None]:
        loss, grad = out
        return loss.numpy().astype(np.float64), grad.numpy()

    def outputs_v1(out: Any) -> tuple[np.ndarray, np.ndarray | None]:
        loss, grad = out
        return loss.numpy().astype(np.float64), np.roll(grad.numpy(), 1, axis=2)

    table: dict[str, Impl] = {
        "tf-v2-sparse": (lambda: v2_sparse(x), outputs),
        "tf-v2-dense": (lambda: v2_dense(x), outputs),
        "tf-v1": (lambda: v1(x_rolled), outputs_v1),
    }
    info = {
        "versions": {"tensorflow": tf.__version__, "numpy": np.__version__},
        "intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
        "inter_op_threads": tf.config.threading.get_inter_op_parallelism_threads(),
    }
    return {name: table[name] for name in names}, info


def _build_torch(
    threads: int, logits: np.ndarray, labels: np.ndarray, names: Sequence[str]
) -> tuple[dict[str, Impl], dict[str, Any]]:
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(threads)
    try:
        torch.set_num_interop_threads(threads)
    except RuntimeError:  # already started; the intra-op count is what matters
        pass

    T, N, C = logits.shape
    L = labels.shape[1]
    x = torch.tensor(logits, requires_grad=True)
    targets = torch.tensor(labels, dtype=torch.long)
    input_lengths = torch.full((N,), T, dtype=torch.long)
    target_lengths = torch.full((N,), L, dtype=torch.long)

    def call() -> Any:
        x.grad = None
        log_probs = torch.log_softmax(x, dim=2)
        loss = F.ctc_loss(
            log_probs,
            targets,
            input_lengths,
            target_lengths,
            blank=0,
            reduction="none",
            zero_infinity=False,
        )
        loss.sum().backward()
        return loss, x.grad

    def outputs(out: Any) -> tuple[np.ndarray, np.ndarray | None]:
        loss, grad = out
        return loss.detach().numpy().astype(np.float64), grad.numpy().copy()

    info = {
        "versions": {"torch": torch.__version__, "numpy": np.__version__},
        "intra_op_threads": torch.get_num_threads(),
        "inter_op_threads": torch.get_num_interop_threads(),
    }
    return ({"torch": (call, outputs)} if "torch" in names else {}), info


_BUILDERS = {"ctcc": _build_ctcc, "tf": _build_tf, "torch": _build_torch}
_MISSING_MODULE = {"ctcc": "ctcc", "tf": "tensorflow", "torch": "torch"}


def worker_main(
    kind: str, threads: int, shape: Sequence[int], seed: int, names: Sequence[str]
) -> int:
    """Serves one-line JSON commands on stdin; replies on the original stdout.
    Anything else that writes to stdout goes to stderr instead."""
    proto = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    # Python put this file's folder first on sys.path; once the file lives
    # inside a package, the package's own modules must not shadow others.
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != here]

    def send(obj: dict[str, Any]) -> None:
        proto.write(json.dumps(obj) + "\n")
        proto.flush()

    T, N, C, L = shape
    logits, labels = make_batch(T, N, C, L, seed)
    try:
        impls, info = _BUILDERS[kind](threads, logits, labels, names)
    except ImportError as exc:
        missing = getattr(exc, "name", None) or _MISSING_MODULE[kind]
        send({"status": "unavailable", "reason": f"{missing} is not installed ({exc})"})
        return 0
    except Exception:  # noqa: BLE001 - reported to the parent
        send({"status": "error", "reason": traceback.format_exc()})
        return 1
    send({"status": "ready", "impls": [n for n in impls if n != "reference-f64"], **info})

    for line in sys.stdin:
        msg = json.loads(line)
        cmd = msg.get("cmd")
        if cmd == "quit":
            break
        name = msg["impl"]
        call, outputs = impls[name]
        try:
            if cmd == "time":
                calls = int(msg.get("calls", 1))
                start = time.perf_counter()
                for _ in range(calls):
                    call()
                send({"ok": True, "seconds": (time.perf_counter() - start) / calls})
            elif cmd == "check":
                start = time.perf_counter()
                out = call()
                seconds = time.perf_counter() - start
                loss, grad = outputs(out)
                prefix = os.path.join(msg["dir"], f"{name}-t{threads}")
                np.save(prefix + "-loss.npy", loss)
                if grad is not None:
                    np.save(prefix + "-grad.npy", np.ascontiguousarray(grad))
                send({"ok": True, "seconds": seconds, "has_grad": grad is not None})
            else:
                send({"ok": False, "error": f"unknown command {cmd!r}"})
        except Exception:  # noqa: BLE001 - reported to the parent
            send({"ok": False, "error": traceback.format_exc()})
    return 0


# --------------------------------------------------------------------------
# Parent side: worker processes
# --------------------------------------------------------------------------


class Worker:
    """One worker process: a (kind, thread count) pair for one workload."""

    def __init__(
        self,
        kind: str,
        threads: int,
        shape: tuple[int, int, int, int],
        seed: int,
        names: Sequence[str],
        ctcc_root: str | None,
    ) -> None:
        self.kind = kind
        self.threads = threads
        self.info: dict[str, Any] = {}
        self.impls: list[str] = []
        self.dead_reason = ""
        env = dict(os.environ)
        for var in _THREAD_ENV:
            env[var] = str(threads)
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        env["PYTHONUNBUFFERED"] = "1"
        if kind == "ctcc" and ctcc_root:
            # Benchmark the very ctcc the parent imported.
            env["PYTHONPATH"] = os.pathsep.join(
                p for p in (ctcc_root, env.get("PYTHONPATH", "")) if p
            )
        cmd = [
            sys.executable,
            os.path.abspath(__file__),
            "--worker",
            kind,
            "--worker-threads",
            str(threads),
            "--worker-shape",
            *map(str, shape),
            "--worker-seed",
            str(seed),
            "--worker-impls",
            ",".join(names),
        ]
        self.stderr = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen(
            cmd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            text=True,
            env=env,
        )

    @property
    def label(self) -> str:
        return f"{self.kind}/t{self.threads}"

    def stderr_tail(self, lines: int = 15) -> str:
        self.stderr.flush()
        self.stderr.seek(0)
        text = self.stderr.read().strip().splitlines()
        return "\n".join(text[-lines:])

    def receive(self) -> dict[str, Any]:
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait()
            raise WorkerDied(
                f"worker {self.label} exited (status {self.proc.returncode}):\n"
                + self.stderr_tail()
            )
        return json.loads(line)

    def request(self, **msg: Any) -> dict[str, Any]:
        try:
            self.proc.stdin.write(json.dumps(msg) + "\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            self.proc.wait()
            raise WorkerDied(
                f"worker {self.label} exited (status {self.proc.returncode}):\n"
                + self.stderr_tail()
            ) from None
        return self.receive()

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write(json.dumps({"cmd": "quit"}) + "\n")
                self.proc.stdin.close()
                self.proc.wait(timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
        self.stderr.close()


def progress(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------
# Parent side: agreement check
# --------------------------------------------------------------------------


def check_agreement(
    check_dir: str, reference: str, done: list[tuple[str, int, bool]], T: int
) -> dict[str, Any]:
    """Compares the saved float32 results with the float64 reference (losses
    and gradients) and with each other (losses). The report's "ok" is False
    and "problems" says why when they disagree."""

    def load(run: str, what: str) -> np.ndarray:
        return np.load(os.path.join(check_dir, f"{run}-{what}.npy"), mmap_mode="r")

    def rel_diff(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            rel = np.where(a == b, 0.0, np.abs(a - b) / np.maximum(np.abs(a), np.abs(b)))
        return np.where(np.isnan(rel), np.inf, rel)

    ref_loss = np.asarray(load(reference, "loss"))
    ref_grad = load(reference, "grad")
    if not np.all(np.isfinite(ref_loss)):
        bad = np.flatnonzero(~np.isfinite(ref_loss))[:5].tolist()
        return {
            "ok": False,
            "problems": [f"the float64 reference loss is not finite at samples {bad}"],
        }
    # Per-sample gradient tolerance: GRAD_ATOL plus the float32 allowance.
    grad_tol = GRAD_ATOL + GRAD_F32_FACTOR * np.sqrt(T) * F32_EPS * np.abs(ref_loss)
    runs = [(f"{n}-t{t}", f"{n}/t{t}", has) for n, t, has in done]
    losses = {label: np.asarray(load(run, "loss")) for run, label, _ in runs}

    problems: list[str] = []
    per_run: dict[str, dict[str, Any]] = {}
    for run, label, has_grad in runs:
        rel = rel_diff(losses[label], ref_loss)
        entry: dict[str, Any] = {"loss_rel_vs_f64": float(rel.max())}
        if not rel.max() <= LOSS_RTOL:
            n = int(np.argmax(rel))
            problems.append(
                f"loss: {label} vs float64 reference: relative difference "
                f"{rel.max():.3g} > {LOSS_RTOL:g} (sample {n}: "
                f"{losses[label][n]:.9g} vs {ref_loss[n]:.9g})"
            )
        if has_grad:
            grad = load(run, "grad")
            if grad.shape != ref_grad.shape:
                problems.append(
                    f"gradient: {label} has shape {grad.shape}, the reference {ref_grad.shape}"
                )
            else:
                diff = np.abs(grad - ref_grad)  # float64
                diff[np.isnan(diff)] = np.inf
                per_sample = diff.max(axis=(0, 2))
                used = per_sample / grad_tol
                n = int(np.argmax(used))
                entry.update(
                    grad_abs_vs_f64=float(per_sample.max()), grad_tolerance_used=float(used.max())
                )
                if not used.max() <= 1.0:
                    t, c = np.unravel_index(
                        int(np.argmax(diff[:, n, :])), (diff.shape[0], diff.shape[2])
                    )
                    problems.append(
                        f"gradient: {label} vs float64 reference: absolute difference "
                        f"{per_sample[n]:.3g} > tolerance {grad_tol[n]:.3g} for sample {n} "
                        f"(largest at t={int(t)}, c={int(c)})"
                    )
                del diff
            del grad
        per_run[label] = entry

    worst_pair, worst = None, 0.0
    labels = list(losses)
    for i, a in enumerate(labels):
        for b in labels[i + 1 :]:
            rel = rel_diff(losses[a], losses[b])
            if rel.max() >= worst:
                worst_pair, worst = [a, b], float(rel.max())
            if not rel.max() <= LOSS_RTOL:
                n = int(np.argmax(rel))
                problems.append(
                    f"loss: {a} vs {b}: relative difference {rel.max():.3g} > "
                    f"{LOSS_RTOL:g} (sample {n}: {losses[a][n]:.9g} vs "
                    f"{losses[b][n]:.9g})"
                )
    report = {
        "ok": not problems,
        "problems": problems,
        "reference": "ctcc float64",
        "loss_rtol": LOSS_RTOL,
        "grad_atol": GRAD_ATOL,
        "grad_f32_factor": GRAD_F32_FACTOR,
        "grad_tolerance_range": [float(grad_tol.min()), float(grad_tol.max())],
        "max_loss_rel_diff_between_runs": worst,
        "worst_loss_pair": worst_pair,
        "runs": per_run,
    }
    return report


# --------------------------------------------------------------------------
# Parent side: one workload
# --------------------------------------------------------------------------


def run_workload(
    name: str,
    shape: tuple[int, int, int, int],
    args: argparse.Namespace,
    with_softmax_limit: bool,
    ctcc_root: str | None,
    record: dict[str, Any],
) -> None:
    """Checks and times every implementation on one workload; fills record."""
    T, N, C, L = shape
    cells = dp_cells(T, N, L)
    progress(f"\n== {name}: T={T} N={N} C={C} L={L}, {cells / 1e6:.2f} M DP cells ==")
    record.update(
        {
            "name": name,
            "T": T,
            "N": N,
            "C": C,
            "L": L,
            "cells": cells,
            "skipped": [],
            "results": [],
            "workspace_bytes": {},
        }
    )

    workers: list[Worker] = []
    try:
        kinds = [k for k in args.frameworks if impls_for(k, with_softmax_limit, args.exclude)]
        progress(
            "  starting workers: " + ", ".join(f"{k}/t{t}" for k in kinds for t in args.threads)
        )
        for kind in kinds:
            names = impls_for(kind, with_softmax_limit, args.exclude)
            for threads in args.threads:
                workers.append(Worker(kind, threads, shape, args.seed, names, ctcc_root))
        ready: list[Worker] = []
        for w in workers:
            msg = w.receive()
            if msg["status"] == "ready":
                w.impls = msg["impls"]
                w.info = msg
                ready.append(w)
                if w.kind == "ctcc":
                    record["workspace_bytes"][str(w.threads)] = msg.get("workspace_bytes")
                    record["workspace_bytes_loss_only"] = msg.get("workspace_bytes_loss_only")
                    record["workspace_note"] = msg.get("workspace_note", "")
            else:
                reason = msg.get("reason", "").strip()
                if w.kind == "ctcc":
                    raise BenchError(f"the ctcc worker failed to start: {reason}")
                progress(f"  skipping {w.label}: {reason.splitlines()[-1] if reason else '?'}")
                record["skipped"].append(
                    {"framework": w.kind, "threads": w.threads, "reason": reason}
                )
                w.close()
        workers = ready
        record["worker_info"] = {
            w.label: {k: v for k, v in w.info.items() if k not in ("status", "impls")}
            for w in workers
        }

        # (worker, impl) slots in a fixed order: frameworks, then threads.
        slots = [(w, impl) for w in workers for impl in w.impls]
        state: dict[tuple[str, int], dict[str, Any]] = {}
        for w, impl in slots:
            state[(impl, w.threads)] = {
                "impl": impl,
                "framework": w.kind,
                "threads": w.threads,
                "description": IMPLEMENTATIONS[impl][1],
                "times_s": [],
                "notes": [],
                "active": True,
                "check_call_s": None,
                "warmup_s": None,
                "calls_per_sample": 1,
            }

        def ask(w: Worker, impl: str, **msg: Any) -> dict[str, Any]:
            """A request whose failure is fatal for ctcc (the reference)
            and only puts the implementation out of the race otherwise."""
            try:
                reply = w.request(impl=impl, **msg)
            except WorkerDied as exc:
                if w.kind == "ctcc":
                    raise
                reply = {"ok": False, "error": str(exc), "note": str(exc).splitlines()[0]}
            if not reply["ok"]:
                if w.kind == "ctcc":
                    raise BenchError(f"{impl} failed on {name}:\n{reply['error']}")
                progress(f"  {impl} threads={w.threads} FAILED:\n{reply['error']}")
                for other in w.impls if w.proc.poll() is not None else [impl]:
                    st = state[(other, w.threads)]
                    if st["active"]:
                        st["active"] = False
                        lines = reply["error"].strip().splitlines() or ["?"]
                        st["notes"].append("failed: " + reply.get("note", lines[-1]))
            return reply

        # 1. Agreement check (also the first warm-up call).
        check_dir = tempfile.mkdtemp(prefix="ctcc-bench-")
        try:
            ref_worker = next(w for w in workers if w.kind == "ctcc")
            progress(f"  float64 reference: ctcc threads={ref_worker.threads}")
            ask(ref_worker, "reference-f64", cmd="check", dir=check_dir)
            reference = f"reference-f64-t{ref_worker.threads}"
            done: list[tuple[str, int, bool]] = []
            for w, impl in slots:
                st = state[(impl, w.threads)]
                if not st["active"]:
                    continue
                slow = [
                    (o["threads"], o["check_call_s"])
                    for o in state.values()
                    if o["impl"] == impl and (o["check_call_s"] or 0) > args.slow_limit
                ]
                if slow:
                    # Far over the limit with another thread count: one call
                    # here would cost minutes and say little more.
                    st["active"] = False
                    st["notes"].append(
                        f"not run: its first call with {slow[0][0]} thread(s) took "
                        f"{slow[0][1]:.3g} s > {args.slow_limit:g} s"
                    )
                    progress(f"  skipping {impl} threads={w.threads}: too slow")
                    continue
                progress(f"  check call: {impl} threads={w.threads}")
                reply = ask(w, impl, cmd="check", dir=check_dir)
                if not reply["ok"]:
                    continue
                st["check_call_s"] = reply["seconds"]
                if impl in CTC_IMPLS:
                    done.append((impl, w.threads, reply["has_grad"]))
            progress(f"  comparing losses and gradients of {len(done)} runs")
            check = record["check"] = check_agreement(check_dir, reference, done, T)
            if not check["ok"]:
                raise Mismatch("\n".join(check["problems"]))
            for label, entry in check["runs"].items():
                grad = (
                    f", gradient {entry['grad_abs_vs_f64']:.2g} "
                    f"({entry['grad_tolerance_used']:.0%} of tolerance)"
                    if "grad_abs_vs_f64" in entry
                    else ""
                )
                progress(
                    f"    {label:<22} vs float64: loss {entry['loss_rel_vs_f64']:.2g} "
                    f"(relative){grad}"
                )
        finally:
            shutil.rmtree(check_dir, ignore_errors=True)

        # 2. One more untimed warm-up call, unless a call is already too slow.
        for w, impl in slots:
            st = state[(impl, w.threads)]
            if not st["active"]:
                continue
            if st["check_call_s"] > args.slow_limit:
                # Too slow to repeat: report the first call (it includes any
                # tracing, a small part of such a call) as the only sample.
                st["times_s"].append(st["check_call_s"])
                st["active"] = False
                st["notes"].append(
                    f"first call only ({st['check_call_s']:.3g} s > "
                    f"{args.slow_limit:g} s; includes tracing)"
                )
                progress(
                    f"  {impl} threads={w.threads}: first call took "
                    f"{st['check_call_s']:.1f} s, not repeated"
                )
                continue
            progress(f"  warm-up: {impl} threads={w.threads}")
            reply = ask(w, impl, cmd="time")
            if not reply["ok"]:
                continue
            st["warmup_s"] = reply["seconds"]
            if reply["seconds"] < MIN_SAMPLE_S:
                st["calls_per_sample"] = int(
                    min(MAX_CALLS_PER_SAMPLE, np.ceil(MIN_SAMPLE_S / max(reply["seconds"], 1e-9)))
                )

        # 3. Timed rounds, round-robin, order rotated every round.
        for r in range(args.repeats):
            order = slots[r % len(slots) :] + slots[: r % len(slots)] if slots else []
            parts = []
            for w, impl in order:
                st = state[(impl, w.threads)]
                if not st["active"]:
                    continue
                last = (
                    st["times_s"][-1] if st["times_s"] else (st["warmup_s"] or st["check_call_s"])
                )
                if last and last > 2.0:
                    progress(
                        f"  round {r + 1}/{args.repeats}: running {impl} threads={w.threads} "
                        f"(~{last:.0f} s per call)"
                    )
                reply = ask(w, impl, cmd="time", calls=st["calls_per_sample"])
                if not reply["ok"]:
                    continue
                seconds = reply["seconds"]
                st["times_s"].append(seconds)
                parts.append(f"{impl}/t{w.threads} {seconds * 1e3:.1f}")
                if seconds > args.slow_limit and r + 1 < args.repeats:
                    st["active"] = False
                    st["notes"].append(
                        f"stopped after {len(st['times_s'])} timed call(s): "
                        f"{seconds:.1f} s per call > {args.slow_limit:g} s"
                    )
            progress(f"  round {r + 1}/{args.repeats} (ms): " + ", ".join(parts))
    finally:
        for w in workers:
            w.close()

    # Statistics.
    results = []
    for st in state.values():
        times = np.array(st.pop("times_s"))
        st.pop("active")
        row = dict(st)
        row["times_ms"] = [round(float(t) * 1e3, 4) for t in times]
        row["n"] = int(times.size)
        if times.size:
            med = float(np.median(times))
            row.update(
                median_ms=med * 1e3,
                min_ms=float(times.min()) * 1e3,
                max_ms=float(times.max()) * 1e3,
                ns_per_cell=med * 1e9 / cells,
            )
        else:
            row.update(median_ms=None, min_ms=None, max_ms=None, ns_per_cell=None)
        for key in ("check_call_s", "warmup_s"):
            value = row.pop(key)
            row[key.replace("_s", "_ms")] = None if value is None else value * 1e3
        row["note"] = "; ".join(row.pop("notes"))
        results.append(row)
    by_key = {(r["impl"], r["threads"]): r for r in results}
    for row in results:
        ref = by_key.get(("ctcc", row["threads"]))
        ok = ref and ref["median_ms"] and row["median_ms"]
        row["ratio_vs_ctcc"] = row["median_ms"] / ref["median_ms"] if ok else None
    record["results"] = results
    record["summary"] = summary_rows(record)


# --------------------------------------------------------------------------
# Machine description and report
# --------------------------------------------------------------------------


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _mem_total_gib() -> float | None:
    try:
        with open("/proc/meminfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("MemTotal:"):
                    return round(int(line.split()[1]) / 2**20, 1)
    except (OSError, ValueError, IndexError):
        pass
    return None


def _dist_version(name: str) -> str | None:
    try:
        from importlib import metadata

        return metadata.version(name)
    except Exception:  # noqa: BLE001 - not installed
        return None


def machine_info() -> dict[str, Any]:
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    info: dict[str, Any] = {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu_model": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "usable_cpus": usable,
        "mem_total_gib": _mem_total_gib(),
        "versions": {
            "numpy": np.__version__,
            "tensorflow": _dist_version("tensorflow"),
            "torch": _dist_version("torch"),
            "ctcc": None,
        },
    }
    try:
        info["load_average_start"] = list(os.getloadavg())
    except OSError:
        pass
    return info


def _fmt(value: float | None, digits: int = 2) -> str:
    if value is None:
        return "-"
    if value >= 1000:
        return f"{value:,.0f}"
    if value >= 100:
        return f"{value:.1f}"
    return f"{value:.{digits}f}"


def _markdown(header: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[bool]) -> str:
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)
    ]

    def line(cells: Sequence[str]) -> str:
        return (
            "| "
            + " | ".join(c.rjust(w) if a else c.ljust(w) for c, w, a in zip(cells, widths, right))
            + " |"
        )

    sep = (
        "|"
        + "|".join(("-" * (w + 1) + ":") if a else ("-" * (w + 2)) for w, a in zip(widths, right))
        + "|"
    )
    return "\n".join([line(header), sep] + [line(r) for r in rows])


def results_table(report: dict[str, Any]) -> str:
    header = [
        "workload",
        "threads",
        "implementation",
        "median ms",
        "min ms",
        "max ms",
        "ns/cell",
        "x ctcc",
        "n",
        "note",
    ]
    right = [False, True, False, True, True, True, True, True, True, False]
    rows = []
    for wl in report["workloads"]:
        for row in sorted(wl.get("results", []), key=lambda r: (r["threads"], _impl_order(r))):
            rows.append(
                [
                    wl["name"],
                    str(row["threads"]),
                    row["impl"],
                    _fmt(row["median_ms"]),
                    _fmt(row["min_ms"]),
                    _fmt(row["max_ms"]),
                    _fmt(row["ns_per_cell"]),
                    "-" if row["ratio_vs_ctcc"] is None else f"{row['ratio_vs_ctcc']:.2f}",
                    _samples(row),
                    row["note"],
                ]
            )
        for skip in wl.get("skipped", []):
            reason = skip["reason"].strip().splitlines()
            rows.append(
                [
                    wl["name"],
                    str(skip["threads"]),
                    skip["framework"],
                    "-",
                    "-",
                    "-",
                    "-",
                    "-",
                    "0",
                    "skipped: " + (reason[-1] if reason else "?"),
                ]
            )
    return _markdown(header, rows, right)


def _samples(row: dict[str, Any]) -> str:
    calls = row.get("calls_per_sample", 1)
    return f"{row['n']}x{calls}" if calls > 1 else str(row["n"])


def _impl_order(row: dict[str, Any]) -> int:
    return list(IMPLEMENTATIONS).index(row["impl"])


def summary_rows(record: dict[str, Any]) -> list[dict[str, Any]]:
    """Per thread count of one workload: ctcc, the fastest TensorFlow path,
    PyTorch, and the ratios other / ctcc."""
    res = {(r["impl"], r["threads"]): r for r in record.get("results", [])}
    rows = []
    for threads in sorted({r["threads"] for r in record.get("results", [])}):

        def med(impl: str, threads: int = threads) -> float | None:
            row = res.get((impl, threads))
            return row["median_ms"] if row else None

        ctcc_ms = med("ctcc")
        tf_rows = [(med(i), i) for i in TF_IMPLS if med(i) is not None]
        tf_ms, tf_path = min(tf_rows) if tf_rows else (None, None)
        torch_ms = med("torch")
        rows.append(
            {
                "workload": record["name"],
                "threads": threads,
                "ctcc_ms": ctcc_ms,
                "ctcc_loss_only_ms": med("ctcc-loss-only"),
                "tf_best_ms": tf_ms,
                "tf_best_path": tf_path,
                "torch_ms": torch_ms,
                "tf_over_ctcc": tf_ms / ctcc_ms if tf_ms and ctcc_ms else None,
                "torch_over_ctcc": torch_ms / ctcc_ms if torch_ms and ctcc_ms else None,
                "numpy_softmax_ms": med("numpy-softmax"),
                "workspace_bytes": record.get("workspace_bytes", {}).get(str(threads)),
                "workspace_bytes_loss_only": record.get("workspace_bytes_loss_only"),
            }
        )
    return rows


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def summary_table(report: dict[str, Any]) -> str:
    header = [
        "workload",
        "threads",
        "ctcc ms",
        "ctcc loss-only ms",
        "TF best ms",
        "TF path",
        "torch ms",
        "TF / ctcc",
        "torch / ctcc",
    ]
    right = [False, True, True, True, True, False, True, True, True]
    with_ws = any(
        r["workspace_bytes"] is not None
        for wl in report["workloads"]
        for r in wl.get("summary", [])
    )
    if with_ws:
        header.append("ctcc workspace (grad / loss only)")
        right.append(True)
    rows = []
    for wl in report["workloads"]:
        for r in wl.get("summary", []):
            row = [
                r["workload"],
                str(r["threads"]),
                _fmt(r["ctcc_ms"]),
                _fmt(r["ctcc_loss_only_ms"]),
                _fmt(r["tf_best_ms"]),
                r["tf_best_path"] or "-",
                _fmt(r["torch_ms"]),
                _ratio(r["tf_over_ctcc"]),
                _ratio(r["torch_over_ctcc"]),
            ]
            if with_ws:
                row.append(
                    f"{_bytes(r['workspace_bytes'])} / {_bytes(r['workspace_bytes_loss_only'])}"
                )
            rows.append(row)
    return _markdown(header, rows, right)


def agreement_table(report: dict[str, Any]) -> str:
    header = ["workload", "run", "loss rel. error", "grad abs. error", "of grad tolerance"]
    right = [False, False, True, True, True]
    rows = []
    for wl in report["workloads"]:
        for label, e in wl.get("check", {}).get("runs", {}).items():
            has = "grad_abs_vs_f64" in e
            rows.append(
                [
                    wl["name"],
                    label,
                    f"{e['loss_rel_vs_f64']:.1e}",
                    f"{e['grad_abs_vs_f64']:.1e}" if has else "-",
                    f"{e['grad_tolerance_used']:.0%}" if has else "-",
                ]
            )
    return _markdown(header, rows, right)


def _bytes(n: int | None) -> str:
    if n is None:
        return "-"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return "-"


def machine_line(report: dict[str, Any]) -> str:
    m = report["machine"]
    v = m["versions"]
    load = m.get("load_average_start")
    return (
        f"{m['date']}, {m['cpu_model']}, {m['usable_cpus']} usable CPU(s) of "
        f"{m['cpu_count']}, {m['platform']}, Python {m['python']}; numpy {v['numpy']}, "
        f"ctcc {v['ctcc']} (git {m.get('ctcc_git') or '-'}, "
        f"OpenMP {'on' if m.get('ctcc_openmp') else 'off'}), "
        f"tensorflow {v['tensorflow'] or '-'}, torch {v['torch'] or '-'}"
        + (f"; load average at start {load[0]:.2f}" if load else "")
    )


# --------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------


def default_json_path() -> str:
    """Where ``python -m ctcc bench`` writes its results without --json: a
    file in the current directory (bench/ctcc_bench.py, the checkout's entry
    point, passes its own default, bench/results/latest.json)."""
    return "ctcc_bench_results.json"


def parse_args(argv: Sequence[str] | None, default_json: str | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m ctcc bench",
        description="Time ctcc against TensorFlow and PyTorch CTC losses (loss + gradient "
        "with respect to the logits, float32, CPU). Each framework and thread "
        "count runs in its own worker process; rounds are interleaved.",
    )
    p.add_argument(
        "--workload",
        action="append",
        choices=list(WORKLOADS),
        metavar="NAME",
        help="a workload to run (repeatable; default all): "
        + ", ".join(f"{k} {v}" for k, v in WORKLOADS.items())
        + " as (T, N, C, L)",
    )
    p.add_argument(
        "--custom",
        nargs=4,
        type=int,
        action="append",
        metavar=("T", "N", "C", "L"),
        help="an extra workload (repeatable)",
    )
    p.add_argument(
        "--threads", nargs="+", type=int, default=None, help="thread counts (default: 1 2)"
    )
    p.add_argument(
        "--repeats",
        type=int,
        default=None,
        help=f"timed calls per implementation (default {DEFAULT_REPEATS})",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help=f"CI smoke test: {QUICK_REPEATS} repeats and only {QUICK_WORKLOAD} "
        "unless --workload/--custom/--repeats say otherwise",
    )
    p.add_argument(
        "--frameworks",
        nargs="+",
        choices=FRAMEWORKS,
        default=list(FRAMEWORKS),
        help="frameworks to run (default: all; ctcc is always run, it is the reference)",
    )
    p.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="IMPL",
        choices=[i for i in IMPLEMENTATIONS if i != "ctcc"],
        help="leave out an implementation (repeatable): "
        + ", ".join(i for i in IMPLEMENTATIONS if i != "ctcc"),
    )
    p.add_argument(
        "--softmax-limit",
        action="store_true",
        help="time the NumPy softmax limit on every workload "
        f"(default: {', '.join(SOFTMAX_LIMIT_WORKLOADS)} only)",
    )
    p.add_argument(
        "--slow-limit",
        type=float,
        default=DEFAULT_SLOW_LIMIT_S,
        metavar="SECONDS",
        help="stop timing an implementation after a call slower than this "
        f"(default {DEFAULT_SLOW_LIMIT_S:g})",
    )
    p.add_argument("--seed", type=int, default=SEED, help=f"random seed (default {SEED})")
    p.add_argument(
        "--json",
        default=None,
        metavar="PATH",
        help="where to write all results (default: "
        + (default_json or f"{default_json_path()} in the current directory")
        + ")",
    )
    p.add_argument("--no-json", action="store_true", help="write no JSON file")
    # Internal: worker mode.
    p.add_argument("--worker", choices=FRAMEWORKS, help=argparse.SUPPRESS)
    p.add_argument("--worker-threads", type=int, help=argparse.SUPPRESS)
    p.add_argument("--worker-shape", nargs=4, type=int, help=argparse.SUPPRESS)
    p.add_argument("--worker-seed", type=int, help=argparse.SUPPRESS)
    p.add_argument("--worker-impls", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    args.default_json = default_json or default_json_path()
    if args.worker:
        return args

    if args.repeats is None:
        args.repeats = QUICK_REPEATS if args.quick else DEFAULT_REPEATS
    if args.repeats < 1:
        p.error("--repeats must be at least 1")
    args.threads = list(dict.fromkeys(args.threads or DEFAULT_THREADS))
    if any(t < 1 for t in args.threads):
        p.error("--threads: thread counts must be at least 1")
    if "ctcc" not in args.frameworks:
        args.frameworks = ["ctcc"] + list(args.frameworks)
    args.frameworks = [f for f in FRAMEWORKS if f in args.frameworks]
    workloads: list[tuple[str, tuple[int, int, int, int]]] = []
    for name in dict.fromkeys(args.workload or []):
        workloads.append((name, WORKLOADS[name]))
    for T, N, C, L in args.custom or []:
        if min(T, N, C) < 1 or L < 0 or C < 2:
            p.error(f"--custom {T} {N} {C} {L}: need T, N >= 1, C >= 2, L >= 0")
        _, labels = make_batch(1, N, C, L, args.seed)  # same labels as the workers
        if min_frames_needed(labels) > T:
            p.error(
                f"--custom {T} {N} {C} {L}: T = {T} frames are too few for the random "
                f"labels (need {min_frames_needed(labels)}); the loss would be infinite"
            )
        workloads.append((f"custom-{T}x{N}x{C}x{L}", (T, N, C, L)))
    if not workloads:
        names = [QUICK_WORKLOAD] if args.quick else list(WORKLOADS)
        workloads = [(n, WORKLOADS[n]) for n in names]
    args.workload_list = workloads
    if args.slow_limit <= 0:
        p.error("--slow-limit must be positive")
    return args


def _write_json(path: str, report: dict[str, Any]) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(report, fh, indent=1)
        fh.write("\n")
    os.replace(tmp, path)


def main(argv: Sequence[str] | None = None, default_json: str | None = None) -> int:
    """Runs the benchmark (or, with --worker, one worker); returns the exit
    status: 0 success, 1 disagreement or failure, 2 usage error.
    ``default_json`` is the results file used without --json/--no-json
    (default: ``ctcc_bench_results.json`` in the current directory)."""
    try:
        args = parse_args(argv, default_json)
    except SystemExit as exc:  # --help, or a usage error argparse reported
        return exc.code if isinstance(exc.code, int) else 2
    if args.worker:
        return worker_main(
            args.worker,
            args.worker_threads,
            args.worker_shape,
            args.worker_seed,
            args.worker_impls.split(","),
        )

    report: dict[str, Any] = {"schema": 1, "status": "running", "machine": machine_info()}
    try:
        import ctcc
    except ImportError as exc:
        print(f"ctcc_bench: cannot import ctcc: {exc}", file=sys.stderr)
        return 2
    ctcc_root = os.path.dirname(os.path.dirname(os.path.abspath(ctcc.__file__)))
    report["machine"]["versions"]["ctcc"] = ctcc.__version__
    report["machine"]["ctcc_openmp"] = bool(ctcc.openmp_enabled())
    report["machine"]["ctcc_git"] = _git_describe(ctcc_root)
    report["config"] = {
        "argv": list(sys.argv[1:] if argv is None else argv),
        "workloads": {n: list(s) for n, s in args.workload_list},
        "threads": args.threads,
        "repeats": args.repeats,
        "frameworks": args.frameworks,
        "exclude": args.exclude,
        "slow_limit_s": args.slow_limit,
        "seed": args.seed,
        "dtype": "float32",
        "blank": 0,
        "loss_rtol": LOSS_RTOL,
        "grad_atol": GRAD_ATOL,
        "implementations": {k: v[1] for k, v in IMPLEMENTATIONS.items()},
    }
    report["workloads"] = []
    json_path = None if args.no_json else (args.json or args.default_json)
    progress(
        f"ctcc benchmark: {len(args.workload_list)} workload(s), threads "
        f"{args.threads}, {args.repeats} repeat(s), frameworks {', '.join(args.frameworks)}"
    )
    status = 0
    try:
        for name, shape in args.workload_list:
            record: dict[str, Any] = {}
            report["workloads"].append(record)
            limit = args.softmax_limit or name in SOFTMAX_LIMIT_WORKLOADS
            run_workload(name, shape, args, limit, ctcc_root, record)
        report["status"] = "ok"
    except Mismatch as exc:
        bar = "!" * 78
        print(
            f"\n{bar}\nctcc_bench: IMPLEMENTATIONS DISAGREE on workload "
            f"{report['workloads'][-1].get('name')} -- no timings are reported.\n{exc}\n{bar}",
            file=sys.stderr,
        )
        report["status"] = "mismatch"
        report["error"] = str(exc)
        status = 1
    except BenchError as exc:
        print(f"\nctcc_bench: ERROR: {exc}", file=sys.stderr)
        report["status"] = "error"
        report["error"] = str(exc)
        status = 1
    except KeyboardInterrupt:
        print("\nctcc_bench: interrupted", file=sys.stderr)
        report["status"] = "interrupted"
        status = 130
    report["machine"]["date_end"] = (
        datetime.datetime.now().astimezone().isoformat(timespec="seconds")
    )
    try:
        report["machine"]["load_average_end"] = list(os.getloadavg())
    except OSError:
        pass
    cores = {
        info.get("core_sha256")
        for wl in report["workloads"]
        for label, info in wl.get("worker_info", {}).items()
        if label.startswith("ctcc/")
    }
    if len(cores) > 1:
        warning = (
            "the compiled ctcc core changed during the run (rebuilt?): workloads used "
            f"different builds {sorted(map(str, cores))}; compare them with care"
        )
        report.setdefault("warnings", []).append(warning)
        print(f"\nctcc_bench: WARNING: {warning}", file=sys.stderr)

    if json_path:
        _write_json(json_path, report)
        progress(f"\nresults written to {json_path}")
    if status == 0:
        print(f"\nMachine: {machine_line(report)}\n")
        print("Summary (median ms; ratio = other / ctcc, how many times faster ctcc is):\n")
        print(summary_table(report))
        print("\nAll implementations (x ctcc = median / ctcc's median at the same thread count):\n")
        print(results_table(report))
        print(
            "\nAgreement with ctcc in float64 (largest over samples; the check call of each run):\n"
        )
        print(agreement_table(report))
    return status


if __name__ == "__main__":
    sys.exit(main())
