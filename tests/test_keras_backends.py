"""ctcc.keras on every Keras backend: TensorFlow, JAX and PyTorch.

Keras fixes its backend when it is first imported, so each backend runs
tests/keras_backend_checks.py in a subprocess of its own, with KERAS_BACKEND
set; each check there is one test here. They compare CTCLoss and ctc_loss
with Keras' own CTC on that backend (keras.losses.CTC, keras.ops.ctc_loss:
tf.nn.ctc_loss, an optax-style recursion, torch.nn.functional.ctc_loss),
loss and gradient, in eager calls, under the backend's differentiation (on
JAX inside jax.jit), through Masking layers and in model.fit (on JAX
jit-compiled).
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, "keras_backend_checks.py")


def _checks():
    spec = importlib.util.spec_from_file_location("keras_backend_checks", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # standard library and NumPy only
    return module.CHECKS


BACKENDS = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}  # backend: module
CASES = [(backend, name) for backend in BACKENDS for name in _checks()]


def _missing(backend):
    for module in ("keras", BACKENDS[backend]):
        if importlib.util.find_spec(module) is None:
            return f"the {backend} backend of Keras needs {module}, which is not installed"
    return None


def _start(backend):
    env = dict(
        os.environ,
        KERAS_BACKEND=backend,
        TF_CPP_MIN_LOG_LEVEL="3",
        CUDA_VISIBLE_DEVICES="",
        JAX_PLATFORMS="cpu",
    )
    return subprocess.Popen(
        [sys.executable, SCRIPT],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


_PROCS = {}  # backend: the running checks
_RESULTS = {}  # backend: ({check: (status, details)}, the tail of the output)


@pytest.fixture(scope="module", autouse=True)
def _start_selected_backends(request):
    """Start the checks of every selected backend at once (they run side by
    side), and stop any still running at the end."""
    selected = {
        item.callspec.params["backend"]
        for item in request.session.items
        if item.path == request.path and hasattr(item, "callspec")
    }
    for backend in sorted(selected):
        if not _missing(backend):
            _PROCS[backend] = _start(backend)
    yield
    for proc in _PROCS.values():
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    _PROCS.clear()


def _results(backend):
    """{check: (status, details)} from the run of the checks on `backend`,
    and the tail of the run's output."""
    if backend in _RESULTS:
        return _RESULTS[backend]
    proc = _PROCS.get(backend) or _start(backend)
    try:
        out, err = proc.communicate(timeout=600)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        err += "\ntimed out after 600 s"
    results = {}
    for line in out.splitlines():
        if line.startswith("CHECK "):
            _, name, status, details = line.split(" ", 3)
            results[name] = (status, json.loads(details))
    tail = f"exit status {proc.returncode}\n{out[-3000:]}\n{err[-3000:]}"
    _RESULTS[backend] = results, tail
    return _RESULTS[backend]


@pytest.mark.parametrize("backend, check", CASES, ids=[f"{b}-{c}" for b, c in CASES])
def test_keras_backend(backend, check):
    reason = _missing(backend)
    if reason:
        pytest.skip(reason)
    results, tail = _results(backend)
    assert check in results, f"the checks on {backend} did not report {check}:\n{tail}"
    status, details = results[check]
    if status != "PASS":
        pytest.fail(f"{check} on the {backend} backend:\n" + "\n".join(details), pytrace=False)
