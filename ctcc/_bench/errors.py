"""The failures that stop a benchmark run (exit status 1), and the line of
a traceback that names one."""

from __future__ import annotations

import re

_EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt|Warning)\b(:|$)")


class BenchError(Exception):
    """A failure that stops the benchmark (exit status 1)."""


class Mismatch(BenchError):
    """Implementations disagree on a loss or a gradient."""


class WorkerDied(BenchError):
    """A worker process exited (crashed, killed, out of memory)."""


def error_line(text: str) -> str:
    """The line of a traceback that says what went wrong: the last one that
    names an exception (frameworks append notes after it), else the last."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()] or ["?"]
    for line in reversed(lines):
        if _EXCEPTION_LINE.match(line):
            return line
    return lines[-1]
