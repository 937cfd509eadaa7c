"""What the run ran on: the machine, the software, the ctcc source tree."""

from __future__ import annotations

import datetime
import os
import platform
import subprocess
import time
from typing import Any

import numpy as np

# Distributions whose versions the report names (None when not installed).
VERSIONED = ("tensorflow", "torch", "jax", "optax", "keras")


def now() -> str:
    return datetime.datetime.now().astimezone().isoformat(timespec="seconds")


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_flags() -> list[str]:
    """The vector extensions the CPU reports (Linux), e.g. avx2, avx512f."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.lower().startswith("flags"):
                    flags = line.split(":", 1)[1].split()
                    return sorted(f for f in flags if f.startswith(("avx", "fma", "sse4")))
    except OSError:
        pass
    return []


def mem_total_gib() -> float | None:
    try:
        with open("/proc/meminfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("MemTotal:"):
                    return round(int(line.split()[1]) / 2**20, 1)
    except (OSError, ValueError, IndexError):
        pass
    return None


def dist_version(name: str) -> str | None:
    try:
        from importlib import metadata

        return metadata.version(name)
    except Exception:  # noqa: BLE001 - not installed
        return None


def git_describe(root: str) -> str | None:
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


def load_average() -> list[float] | None:
    try:
        return list(os.getloadavg())
    except OSError:
        return None


# A busy loop for parallel_capacity: counts iterations from the start time
# given (time.time()) until `seconds` later, and prints the count.
_SPIN = """
import sys, time
start, seconds = float(sys.argv[1]), float(sys.argv[2])
while time.time() < start:
    pass
end, n = start + seconds, 0
while time.time() < end:
    n += 1
print(n)
"""


def _spin(copies: int, seconds: float) -> list[int]:
    """Iterations of _SPIN in `copies` processes running at the same time."""
    import sys

    start = time.time() + 0.3  # after every process has started
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _SPIN, repr(start), repr(seconds)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(copies)
    ]
    return [int(p.communicate(timeout=60)[0]) for p in procs]


def parallel_capacity(cpus: int, seconds: float = 0.4) -> dict[str, Any] | None:
    """How much work `cpus` CPUs do at once, in units of one CPU's: the
    same busy loop in one process, then in `cpus` processes at the same
    time. On a shared virtual machine the host may give the second CPU
    less than the first, which bounds what two threads can gain; the
    report prints this beside the thread ratios. None if it cannot run."""
    if cpus < 2:
        return None
    try:
        # One CPU's work: the better of a run before and one after (a
        # single run can be slowed too, which would inflate the ratio).
        first = _spin(1, seconds)[0]
        together = _spin(cpus, seconds)
        alone = max(first, _spin(1, seconds)[0])
    except (OSError, ValueError, subprocess.SubprocessError):
        return None
    if alone <= 0:
        return None
    return {
        "cpus": cpus,
        "seconds": seconds,
        "each": [round(n / alone, 3) for n in together],
        "total": round(sum(together) / alone, 3),
    }


def machine_info() -> dict[str, Any]:
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    info: dict[str, Any] = {
        "date": now(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu_model": cpu_model(),
        "cpu_flags": cpu_flags(),
        "cpu_count": os.cpu_count(),
        "usable_cpus": usable,
        "mem_total_gib": mem_total_gib(),
        "versions": {
            "numpy": np.__version__,
            **{name: dist_version(name) for name in VERSIONED},
            "ctcc": None,
        },
    }
    load = load_average()
    if load is not None:
        info["load_average_start"] = load
    return info
