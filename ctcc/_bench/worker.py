"""Worker processes: one per (framework, thread count) and workload.

A worker is this package started as ``python -c BOOTSTRAP --worker KIND
...``: it builds the same batch (random or peaked) from a fixed seed, lets its runner
set the framework's thread count before the framework starts (TensorFlow can
only be told then), reports ``ready`` with its implementations, then answers
one-line JSON commands on stdin with one-line JSON replies on stdout:

- ``{"cmd": "check", "impl": NAME, "dir": DIR}``: one call, whose results
  are saved in DIR for the agreement check; replies its time;
- ``{"cmd": "time", "impl": NAME, "calls": K, "warm": W}``: W untimed
  calls (default 0), then K calls back to back; replies the K calls' mean
  wall time and mean CPU time of the process (all its threads);
- ``{"cmd": "quit"}``.

Anything else that writes to stdout (frameworks do) goes to stderr, which
the parent keeps in a temporary file for its error messages.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Sequence
from typing import Any

from ctcc._bench.agreement import save_outputs
from ctcc._bench.errors import WorkerDied
from ctcc._bench.runners import BY_KIND
from ctcc._bench.runners.base import Impl
from ctcc._bench.workloads import batch_for

# Thread-count environment for the workers (libraries that read these).
THREAD_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")

# Imports the ctcc the parent imported (from the folder that holds it, ahead
# of the current directory, which might hold another ctcc) and serves.
BOOTSTRAP = (
    "import sys; root = {root!r}; "
    "sys.path[:] = [root] + [p for p in sys.path if p not in ('', root)]; "
    "from ctcc._bench.cli import main; sys.exit(main(sys.argv[1:]))"
)


def handle(msg: dict[str, Any], impls: dict[str, Impl], threads: int) -> dict[str, Any]:
    """The reply to one command other than quit."""
    cmd = msg.get("cmd")
    if cmd not in ("time", "check"):
        return {"ok": False, "error": f"unknown command {cmd!r}"}
    name = msg["impl"]
    call, outputs = impls[name]
    try:
        if cmd == "time":
            calls = int(msg.get("calls", 1))
            for _ in range(int(msg.get("warm", 0))):
                call()
            cpu, start = time.process_time(), time.perf_counter()
            for _ in range(calls):
                call()
            seconds = (time.perf_counter() - start) / calls
            return {
                "ok": True,
                "seconds": seconds,
                "cpu_seconds": (time.process_time() - cpu) / calls,
            }
        start = time.perf_counter()
        out = call()
        seconds = time.perf_counter() - start
        loss, grad = outputs(out)
        save_outputs(msg["dir"], f"{name}-t{threads}", loss, grad)
        return {"ok": True, "seconds": seconds, "has_grad": grad is not None}
    except Exception:  # noqa: BLE001 - reported to the parent
        return {"ok": False, "error": traceback.format_exc()}


def worker_main(
    kind: str,
    threads: int,
    shape: Sequence[int],
    seed: int,
    names: Sequence[str],
    batch: str = "random",
) -> int:
    """Serves one-line JSON commands on stdin; replies on the original stdout."""
    proto = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr

    def send(obj: dict[str, Any]) -> None:
        proto.write(json.dumps(obj) + "\n")
        proto.flush()

    runner = BY_KIND[kind]
    T, N, C, L = shape
    logits, labels = batch_for(batch, T, N, C, L, seed)
    try:
        impls, info = runner.build(threads, logits, labels, names)
    except ImportError as exc:
        missing = getattr(exc, "name", None) or runner.module
        send({"status": "unavailable", "reason": f"{missing} is not installed ({exc})"})
        return 0
    except Exception:  # noqa: BLE001 - reported to the parent
        send({"status": "error", "reason": traceback.format_exc()})
        return 1
    listed = [n for n in names if n in impls]
    send({"status": "ready", "impls": listed, **info})

    for line in sys.stdin:
        msg = json.loads(line)
        if msg.get("cmd") == "quit":
            break
        send(handle(msg, impls, threads))
    return 0


class Worker:
    """One worker process: a (kind, thread count) pair for one workload."""

    def __init__(
        self,
        kind: str,
        threads: int,
        shape: tuple[int, int, int, int],
        seed: int,
        names: Sequence[str],
        ctcc_root: str,
        batch: str = "random",
    ) -> None:
        self.kind = kind
        self.threads = threads
        self.info: dict[str, Any] = {}
        self.impls: list[str] = []
        env = dict(os.environ)
        for var in THREAD_ENV:
            env[var] = str(threads)
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        env["PYTHONUNBUFFERED"] = "1"
        env.update(BY_KIND[kind].env(threads))
        cmd = [
            sys.executable,
            "-c",
            BOOTSTRAP.format(root=ctcc_root),
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
            "--worker-batch",
            batch,
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

    def _died(self) -> WorkerDied:
        self.proc.wait()
        return WorkerDied(
            f"worker {self.label} exited (status {self.proc.returncode}):\n" + self.stderr_tail()
        )

    def receive(self) -> dict[str, Any]:
        line = self.proc.stdout.readline()
        if not line:
            raise self._died()
        return json.loads(line)

    def request(self, **msg: Any) -> dict[str, Any]:
        try:
            self.proc.stdin.write(json.dumps(msg) + "\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            raise self._died() from None
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
    """Progress goes to stderr (the tables go to stdout)."""
    print(msg, file=sys.stderr, flush=True)
