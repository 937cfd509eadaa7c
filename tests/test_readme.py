"""Every ```python block of README.md and of the pages in docs/ runs as it
stands, on its own, in a fresh interpreter (a new process whose working
directory is an empty temporary folder). A block that imports an optional
framework (TensorFlow, Keras, PyTorch, JAX, matplotlib) is skipped when that
framework is not installed. A failure names the file and the line where the
block starts."""

import glob
import importlib.util
import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FILES = ["README.md"] + sorted(
    os.path.relpath(p, ROOT) for p in glob.glob(os.path.join(ROOT, "docs", "*.md"))
)
FENCE = re.compile(r"^(`{3,}|~{3,})\s*([^\s`]*)")
# Optional frameworks: a block that imports one (directly or through ctcc's
# adapter for it) is skipped when the framework is not installed.
OPTIONAL = {
    "tensorflow": "tensorflow",
    "keras": "tensorflow",
    "torch": "torch",
    "jax": "jax",
    "optax": "optax",
    "matplotlib": "matplotlib",
}
IMPORT = re.compile(r"^\s*(?:import|from)\s+(?:ctcc\.)?([A-Za-z_]\w*)", re.M)


def python_blocks(path):
    """(line number of the opening fence, code) of each ```python block."""
    blocks = []
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        fence, lang, start = m.group(1), m.group(2).lower(), i + 1
        i += 1
        body = []
        while i < len(lines) and not lines[i].startswith(fence):
            body.append(lines[i])
            i += 1
        i += 1
        if lang in ("python", "py"):
            blocks.append((start, "\n".join(body) + "\n"))
    return blocks


def test_block_extraction(tmp_path):
    path = tmp_path / "page.md"
    path.write_text("a\n```python\nx = 1\n```\n```text\nf(a, b)\n```\n````python\n```\ny\n````\n")
    blocks = python_blocks(path)
    assert blocks == [(2, "x = 1\n"), (8, "```\ny\n")]


CASES = [
    (path, line, code) for path in FILES for line, code in python_blocks(os.path.join(ROOT, path))
]


def test_readme_has_python_blocks():
    assert sum(1 for path, _, _ in CASES if path == "README.md") >= 6


def missing_frameworks(code):
    """The optional frameworks that `code` imports and that are not installed."""
    needed = {OPTIONAL[m] for m in IMPORT.findall(code) if m in OPTIONAL}
    return sorted(m for m in needed if importlib.util.find_spec(m) is None)


def test_missing_frameworks():
    code = "import numpy\nimport ctcc.tensorflow\nfrom ctcc.torch import x\nimport no_such_mod\n"
    assert IMPORT.findall(code) == ["numpy", "tensorflow", "torch", "no_such_mod"]
    assert missing_frameworks("import ctcc\n") == []


@pytest.mark.parametrize("path,line,code", CASES, ids=[f"{p}:{n}" for p, n, _ in CASES])
def test_python_block_runs(path, line, code, tmp_path):
    missing = missing_frameworks(code)
    if missing:
        pytest.skip(f"the block needs {', '.join(missing)}, not installed")
    env = dict(os.environ)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env.setdefault("KERAS_BACKEND", "tensorflow")
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, (
        f"the ```python block at {path}, line {line}, failed "
        f"(exit status {proc.returncode}):\n{code}\n--- stderr ---\n{proc.stderr[-3000:]}"
    )
