"""ctcc.tensorflow and ctcc.keras under tf.distribute.MultiWorkerMirroredStrategy.

Two worker processes on this machine (a TF_CONFIG cluster of two
127.0.0.1 workers on free ports), each with its share of a batch, train a
small Keras model with ctcc for a few SGD steps in a custom training loop
(per-sample losses from ctcc.tensorflow.ctc_loss, or from
ctcc.keras.CTCLoss(reduction=None), then tf.nn.compute_average_loss).
Both workers must end with the same weights, and
those of a third process that trains on the whole batch without a strategy.
The single-machine MirroredStrategy is tested in test_keras.py.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

pytest.importorskip("tensorflow", reason="ctcc.tensorflow needs TensorFlow")
keras = pytest.importorskip("keras", reason="ctcc.keras needs Keras 3")
if not keras.__version__.startswith("3."):
    pytest.skip("ctcc.keras needs Keras 3", allow_module_level=True)

HERE = os.path.dirname(os.path.abspath(__file__))
TIMEOUT = 180  # seconds for the three processes together


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _start(worker, workers, out, log, tf_config=None):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
    env.pop("TF_CONFIG", None)
    if tf_config is not None:
        env["TF_CONFIG"] = json.dumps(tf_config)
    script = os.path.join(HERE, "tf_mwms_worker.py")
    return subprocess.Popen(
        [sys.executable, script, str(worker), str(workers), str(out)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def test_multi_worker_mirrored_strategy_matches_one_process(tmp_path):
    """Two workers with half the batch each end with the weights of one
    process on the whole batch, with ctcc.tensorflow.ctc_loss and with
    ctcc.keras.CTCLoss."""
    cluster = {"worker": [f"127.0.0.1:{port}" for port in _free_ports(2)]}
    names = ["worker0", "worker1", "one"]
    outs = [tmp_path / f"{name}.npz" for name in names]
    logs = [open(tmp_path / f"{name}.log", "wb") for name in names]
    deadline = time.monotonic() + TIMEOUT
    procs = []
    try:
        for i in range(2):
            task = {"cluster": cluster, "task": {"type": "worker", "index": i}}
            procs.append(_start(i, 2, outs[i], logs[i], task))
        procs.append(_start(0, 1, outs[2], logs[2]))
        for p in procs:
            p.wait(timeout=max(1.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        pytest.fail(f"the workers did not finish in {TIMEOUT} s")
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        for log in logs:
            log.close()
    failed = [
        f"{name} (exit {p.returncode}):\n"
        + (tmp_path / f"{name}.log").read_text(errors="replace")[-3000:]
        for name, p in zip(names, procs)
        if p.returncode != 0
    ]
    assert not failed, "\n".join(failed)

    results = [dict(np.load(out)) for out in outs]
    one = results[2]
    assert set(one) == {
        f"{way}_{k}" for way in ("tf", "keras") for k in ("w0", "w1", "w2", "w3", "losses")
    }
    for way in ("tf", "keras"):
        losses = one[f"{way}_losses"]
        assert losses[-1] < losses[0]  # it trained
    for key, value in one.items():
        # the two workers hold the same mirrored weights, and report the same losses
        np.testing.assert_array_equal(results[0][key], results[1][key], err_msg=key)
        # which are those of one process on the whole batch
        np.testing.assert_allclose(results[0][key], value, rtol=1e-12, atol=1e-12, err_msg=key)
