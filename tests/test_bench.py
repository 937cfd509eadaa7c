"""The benchmark harness's pieces (``ctcc._bench``): the registry of runners,
the agreement check against deliberately wrong implementations, the
summary arithmetic, the command line, and short runs end to end."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from ctcc._bench import cli, report
from ctcc._bench.agreement import (
    CTCC_AFTER_F32_LOG_SOFTMAX,
    CTCC_TOLERANCE,
    DEFAULT_TOLERANCE,
    check_agreement,
)
from ctcc._bench.errors import error_line
from ctcc._bench.runners import (
    BY_KIND,
    FRAMEWORKS,
    IMPLEMENTATIONS,
    KIND_OF,
    RUNNERS,
    impls_for,
    tolerances,
)
from ctcc._bench.runners import ctcc as ctcc_runner
from ctcc._bench.worker import handle
from ctcc._bench.workloads import (
    DEFAULT_WORKLOADS,
    SEED,
    WORKLOADS,
    Workload,
    batch_for,
    custom_workload_error,
    dp_cells,
    make_batch,
    make_peaked_batch,
    min_frames_needed,
    random_alignment,
)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUNNERS_DIR = os.path.join(ROOT, "ctcc", "_bench", "runners")


# ------------------------------------------------------------------ registry


def test_registry_lists_every_runner_module():
    """Each module in ctcc/_bench/runners/ (but the base) has its runners in
    the registry, and the registry nothing else."""
    modules = {f[:-3] for f in os.listdir(RUNNERS_DIR) if f.endswith(".py") and f[0] != "_"} - {
        "base"
    }
    registered = {
        build_module.rsplit(".", 1)[-1] for build_module in (r.build.__module__ for r in RUNNERS)
    }
    assert registered == modules
    assert set(FRAMEWORKS) == set(BY_KIND) and len(FRAMEWORKS) == len(RUNNERS)
    names = [spec.name for r in RUNNERS for spec in r.impls]
    assert len(names) == len(set(names)), names


def test_every_adapter_has_a_runner_and_a_baseline_in_its_worker():
    """Every framework adapter (a folder of bindings/) is timed, next to the
    framework loss it replaces, in the same worker."""
    adapters = sorted(d for d in os.listdir(os.path.join(ROOT, "bindings")) if d[0] != "_")
    assert adapters, "no bindings/"
    for binding in adapters:
        timed = [n for n, s in IMPLEMENTATIONS.items() if f"ctcc.{binding}." in s.description]
        assert timed, f"ctcc.{binding} has no runner"
    for name, spec in IMPLEMENTATIONS.items():
        if spec.baseline is not None:
            assert spec.baseline in IMPLEMENTATIONS, name
            assert KIND_OF[spec.baseline] == KIND_OF[name], name
            assert spec.tolerance in (CTCC_TOLERANCE, CTCC_AFTER_F32_LOG_SOFTMAX), name
    # Keras: one worker per backend
    assert {"keras-tf", "keras-jax", "keras-torch"} <= set(FRAMEWORKS)


def test_command_line_offers_every_framework_and_implementation():
    help_text = subprocess.run(
        [sys.executable, "-m", "ctcc", "bench", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    flat = "".join(help_text.split())  # argparse wraps lines at hyphens too
    for kind in FRAMEWORKS:
        assert kind in flat, kind
    for name in IMPLEMENTATIONS:
        if name != "ctcc":
            assert name in flat, name


def test_quick_and_default_options():
    quick = cli.parse_args(["--quick"])
    assert (quick.repeats, quick.threads) == (cli.QUICK_REPEATS, [1])
    # the CI smoke: speech-small on every framework, a peaked batch on ctcc
    assert quick.workload_list == [
        Workload("speech-small", WORKLOADS["speech-small"], "random"),
        Workload("peaked-small", WORKLOADS["peaked-small"], "peaked", ("ctcc",)),
    ]
    assert quick.frameworks == list(FRAMEWORKS)
    full = cli.parse_args(["--frameworks", "torch", "--exclude", "ctcc-torch"])
    assert full.threads == [1, 2] and full.frameworks == ["ctcc", "torch"]
    names = [w.name for w in full.workload_list]
    assert names == list(DEFAULT_WORKLOADS) and "speech-peaked" in names
    assert "one-long" not in names and "peaked-small" not in names
    kinds = {w.name: w.kind for w in full.workload_list}
    assert kinds["speech-peaked"] == "peaked" and kinds["speech-long"] == "random"
    (one_long,) = cli.parse_args(["--workload", "one-long"]).workload_list
    assert one_long.shape == (20000, 1, 29, 1000)
    assert {impl for impl, _ in one_long.exclude} == {"tf-v2-dense", "keras-tf"}
    (custom,) = cli.parse_args(["--custom-peaked", "40", "3", "7", "5"]).workload_list
    assert custom == Workload("custom-peaked-40x3x7x5", (40, 3, 7, 5), "peaked")
    assert impls_for("torch", False, full.exclude) == ["torch"]
    assert impls_for("ctcc", False) == ["ctcc", "ctcc-loss-only", "ctcc-log", "ctcc-log-loss-only"]
    assert "numpy-softmax" in impls_for("ctcc", True)
    assert cli.main(["--custom", "3", "2", "5", "4", "--no-json"]) == 2  # T too short
    assert cli.main(["--custom-peaked", "3", "2", "5", "4", "--no-json"]) == 2
    assert cli.main(["--frameworks", "no-such"]) == 2


def test_custom_workload_check_uses_the_workers_labels():
    """--custom is refused exactly when the labels the workers build (for
    that T) need more frames than T; few classes make equal neighbours,
    which need a blank between them, common."""
    verdicts = set()
    for seed in range(40):
        T, N, C, L = 14, 3, 3, 10
        labels = make_batch(T, N, C, L, seed)[1]
        feasible = min_frames_needed(labels) <= T
        assert (custom_workload_error(T, N, C, L, seed) is None) == feasible, seed
        verdicts.add(feasible)
    assert verdicts == {True, False}


# ------------------------------------------------------------ peaked batches


def _collapse(path):
    """A CTC path's labels: repeats merged, blanks (0) dropped."""
    out = [int(c) for i, c in enumerate(path) if i == 0 or c != path[i - 1]]
    return [c for c in out if c != 0]


@pytest.mark.parametrize("L", [0, 1, 7, 40])
def test_random_alignment_is_a_ctc_path_of_its_labels(L):
    rng = np.random.default_rng(L)
    labels = rng.integers(1, 4, size=L).astype(np.int32)  # many equal neighbours
    need = L + int((labels[1:] == labels[:-1]).sum())
    lengths = set()
    for T in (need, need + 1, 3 * need + 5):
        path = random_alignment(labels, T, rng)
        assert path.shape == (T,)
        assert _collapse(path) == labels.tolist()
        lengths.add(T)
    if L:
        with pytest.raises(ValueError, match="too few"):
            random_alignment(labels, need - 1, rng)


def test_peaked_batch_is_a_trained_models_output():
    T, N, C, L = 200, 6, 29, 40
    x, labels = make_peaked_batch(T, N, C, L, SEED)
    assert x.dtype == np.float32 and x.shape == (T, N, C)
    np.testing.assert_array_equal(labels, make_batch(T, N, C, L, SEED)[1])
    lp = x.astype(np.float64)
    np.testing.assert_allclose(np.exp(lp).sum(axis=2), 1.0, atol=1e-6)  # normalised
    top = lp.argmax(axis=2)
    assert np.exp(lp.max(axis=2)).min() >= 0.999 - 1e-6
    rest = np.sort(lp, axis=2)[:, :, :-1]
    assert rest.min() >= -30.001 and rest.max() <= -9.999
    for n in range(N):  # the peak follows an alignment of the sample's labels
        assert _collapse(top[:, n]) == labels[n].tolist()
    # the same in every process, another for another seed
    np.testing.assert_array_equal(x, make_peaked_batch(T, N, C, L, SEED)[0])
    assert not np.array_equal(x, make_peaked_batch(T, N, C, L, SEED + 1)[0])
    np.testing.assert_array_equal(x, batch_for("peaked", T, N, C, L, SEED)[0])
    with pytest.raises(ValueError, match="batch kind"):
        batch_for("flat", T, N, C, L, SEED)


def test_peaked_loss_is_almost_the_alignments():
    """The loss (ctcc, float64) is at most the negative log-probability of
    the peaked alignment (numpy) and within the small weight of the other
    paths below it."""
    import ctcc

    T, N, C, L = 150, 8, 29, 40
    x, labels = make_peaked_batch(T, N, C, L, SEED)
    lp = x.astype(np.float64)
    path_nll = -lp.max(axis=2).sum(axis=0)
    loss, _ = ctcc.ctc_loss(lp, labels, log_probs=True, grad=False)
    assert np.all(loss <= path_nll + 1e-12)
    assert np.all(path_nll - loss < 0.01), path_nll - loss
    assert np.all(path_nll < 0.05)


def test_peaked_batch_of_a_large_vocabulary_keeps_the_peak():
    """With C = 5000 the other classes' probabilities would add up to 1e-2:
    they are scaled down so that the peak keeps p >= 0.999."""
    x, _ = make_peaked_batch(20, 3, 5000, 5, SEED)
    p = np.exp(x.astype(np.float64))
    np.testing.assert_allclose(p.sum(axis=2), 1.0, atol=1e-5)
    assert p.max(axis=2).min() >= 0.999 - 1e-6


# ------------------------------------------------------ the fallback report


def _kernels(x, labels, grad):
    """ctcc's own account of the kernel of each sample (kernel_out)."""
    import ctcc

    kernels = np.full(x.shape[1], 255, dtype=np.uint8)
    ctcc.ctc_loss(x, labels, grad=grad, kernel_out=kernels)
    assert set(np.unique(kernels)) <= {ctcc.KERNEL_SCALED, ctcc.KERNEL_LOG_SPACE}
    return kernels


def _mixed_batch():
    """Peaked samples, two of which need the log-space kernel: their first
    label's class has log-probability -1000 in every frame, so each path's
    probability (about e^-2000) is far below the double range."""
    x, labels = make_peaked_batch(60, 5, 6, 5, SEED)
    for n in (1, 3):
        x[:, n, labels[n, 0]] = -1000.0
    return x, labels


def test_fallback_report_counts_the_samples_the_log_space_kernel_computed():
    import ctcc

    x, labels = _mixed_batch()
    _, info = ctcc_runner.build(1, x, labels, ["ctcc"])
    report = info["fallback"]
    for suffix, grad in (("", True), ("_loss_only", False)):
        expected = int(np.count_nonzero(_kernels(x, labels, grad) == ctcc.KERNEL_LOG_SPACE))
        assert 0 < expected < x.shape[1], "the batch no longer mixes the two kernels"
        assert report["fell_back" + suffix] == expected
        assert report["fraction" + suffix] == expected / x.shape[1]
    assert report["samples"] == x.shape[1] and report["note"] == ""
    # a peaked batch (what the fast path is for) takes it everywhere
    _, info = ctcc_runner.build(1, *make_peaked_batch(60, 5, 6, 5, SEED), ["ctcc"])
    assert info["fallback"]["fell_back"] == info["fallback"]["fell_back_loss_only"] == 0


def test_log_space_rows_force_the_log_space_kernel(monkeypatch):
    """ctcc-log and ctcc-log-loss-only call ctcc.ctc_loss with kernel="log"
    (recorded on the way through) and give the same losses."""
    import ctcc

    x, labels = _mixed_batch()
    impls, _ = ctcc_runner.build(
        1, x, labels, ["ctcc", "ctcc-loss-only", "ctcc-log", "ctcc-log-loss-only"]
    )
    seen = []
    real = ctcc.ctc_loss

    def spy(*args, **kwargs):
        seen.append((kwargs.get("kernel", "auto"), kwargs.get("grad", True)))
        return real(*args, **kwargs)

    monkeypatch.setattr(ctcc, "ctc_loss", spy)
    losses = {}
    for name in ("ctcc", "ctcc-loss-only", "ctcc-log", "ctcc-log-loss-only"):
        call, outputs = impls[name]
        losses[name] = outputs(call())[0]
    assert seen == [("auto", True), ("auto", False), ("log", True), ("log", False)]
    for name, loss in losses.items():
        np.testing.assert_allclose(loss, losses["ctcc-log"], rtol=1e-6, err_msg=name)


def test_the_run_reports_the_fallback_of_every_workload(tmp_path):
    """End to end: the JSON and the summary give, per workload and thread
    count, the samples that a direct call's kernel_out says fell back."""
    import ctcc

    out = tmp_path / "r.json"
    proc = _bench(
        ["-m", "ctcc", "bench", "--frameworks", "ctcc", "--threads", "1", "2"]
        + ["--custom", "300", "3", "6", "40", "--custom-peaked", "40", "4", "7", "6"]
        + ["--repeats", "1", "--json", str(out)],
        tmp_path,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    result = json.loads(out.read_text())
    assert [wl["batch"] for wl in result["workloads"]] == ["random", "peaked"]
    for wl in result["workloads"]:
        x, labels = batch_for(wl["batch"], wl["T"], wl["N"], wl["C"], wl["L"], SEED)
        expected = {
            suffix: int(np.count_nonzero(_kernels(x, labels, grad) == ctcc.KERNEL_LOG_SPACE))
            for suffix, grad in (("", True), ("_loss_only", False))
        }
        assert set(wl["fallback"]) == {"1", "2"}
        for threads in ("1", "2"):
            fb = wl["fallback"][threads]
            assert fb["samples"] == wl["N"]
            assert fb["fell_back"] == expected[""], (wl["name"], threads)
            assert fb["fell_back_loss_only"] == expected["_loss_only"]
            assert fb["fraction"] == expected[""] / wl["N"]
        for row in wl["summary"]:
            assert row["fallback_fraction"] == expected[""] / wl["N"]
            cells = dp_cells(wl["T"], wl["N"], wl["L"])
            assert row["ctcc_ns_per_cell"] == pytest.approx(row["ctcc_ms"] * 1e6 / cells)
        timed = {(r["impl"], r["threads"]) for r in wl["results"] if r["n"]}
        assert ("ctcc-log", 2) in timed and ("ctcc-log-loss-only", 1) in timed
        shown = f"{expected['']} / {expected['_loss_only']} of {wl['N']}"
        assert any(wl["name"] in line and shown in line for line in proc.stdout.splitlines())
    assert "fell back (grad / loss only)" in proc.stdout
    # The parallel capacity beside the two-thread ratios (where there are
    # two CPUs to measure).
    machine_info = result["machine"]
    if machine_info["usable_cpus"] >= 2:
        for when in ("start", "end"):
            probe = machine_info[f"parallel_capacity_{when}"]
            assert probe["cpus"] == 2 and len(probe["each"]) == 2
        assert "2 CPUs busy at once did" in proc.stdout


def test_calls_per_sample_are_set_by_steady_calls_not_a_cold_first_one():
    """A first call 10 times slower than the next ones (a thread pool woken,
    memory touched the first time) must not leave a sample of 2 calls:
    the calibration also times about 20 ms of calls back to back."""
    import argparse
    import types

    from ctcc._bench import measure
    from ctcc._bench.workloads import Workload

    run = measure.WorkloadRun(
        Workload("w", (10, 2, 5, 3)),
        argparse.Namespace(slow_limit=20.0),
        False,
        ".",
        {},
    )
    worker = types.SimpleNamespace(kind="ctcc", threads=2, impls=["ctcc"])
    run.workers = [worker]
    run.init_state()
    run.state[("ctcc", 2)]["check_call_s"] = 0.01
    asked = []

    def ask(w, impl, **msg):
        asked.append(msg.get("calls", 1))
        per_call = 0.01 if len(asked) == 1 else 0.001  # cold, then steady
        return {"ok": True, "seconds": per_call}

    run.ask = ask
    run.warm_up()
    assert asked == [1, 2]
    assert run.state[("ctcc", 2)]["calls_per_sample"] == 20


def test_worker_leaves_warm_calls_out_of_the_sample():
    """``warm`` calls run first and are not timed: a slow first call (a
    thread pool woken) does not show in the sample."""
    import time as _time

    made = []

    def call():
        made.append(None)
        if len(made) == 1:
            _time.sleep(0.2)

    reply = handle({"cmd": "time", "impl": "x", "calls": 3, "warm": 1}, {"x": (call, None)}, 1)
    assert reply["ok"] and len(made) == 4
    assert reply["seconds"] < 0.05
    made.clear()
    reply = handle({"cmd": "time", "impl": "x", "calls": 3}, {"x": (call, None)}, 1)
    assert len(made) == 3 and reply["seconds"] > 0.06  # without: in the mean


@pytest.mark.parametrize("per_call, warm", [(0.001, 1), (0.05, 1), (0.5, 0)])
def test_timed_samples_of_short_calls_follow_an_untimed_call(per_call, warm):
    """Calls shorter than WARM_LIMIT_S get one untimed call before each
    timed sample; longer calls none (it would cost a whole call)."""
    import argparse
    import types

    from ctcc._bench import measure
    from ctcc._bench.workloads import Workload

    run = measure.WorkloadRun(
        Workload("w", (10, 2, 5, 3)),
        argparse.Namespace(slow_limit=20.0, repeats=2),
        False,
        ".",
        {},
    )
    worker = types.SimpleNamespace(kind="ctcc", threads=2, impls=["ctcc"])
    run.workers = [worker]
    run.init_state()
    run.state[("ctcc", 2)]["check_call_s"] = per_call
    asked = []

    def ask(w, impl, **msg):
        asked.append(msg)
        return {"ok": True, "seconds": per_call, "cpu_seconds": per_call}

    run.ask = ask
    run.warm_up()
    asked.clear()
    run.timed_round(0)
    run.timed_round(1)
    assert [m.get("warm") for m in asked] == [warm, warm]
    assert run.state[("ctcc", 2)]["warm_calls_per_sample"] == warm


def test_parallel_capacity_counts_each_processs_work():
    from ctcc._bench import machine

    assert machine.parallel_capacity(1) is None
    probe = machine.parallel_capacity(2, seconds=0.1)
    assert probe["cpus"] == 2 and len(probe["each"]) == 2
    assert all(share > 0 for share in probe["each"])
    assert probe["total"] == pytest.approx(sum(probe["each"]), abs=0.01)


# ----------------------------------------------------------- agreement check

T, N, C, L = 30, 3, 6, 5


def _log_softmax(x):
    x = x.astype(np.float64)
    m = x.max(axis=2, keepdims=True)
    return (x - m - np.log(np.exp(x - m).sum(axis=2, keepdims=True))).astype(np.float32)


def _check(tmp_path, extra, tols=None, batch="random", shape=(T, N, C, L)):
    """Saves the check calls of ctcc and of ``extra`` (name -> (call,
    outputs)) through the worker's own command handler, then runs the
    agreement check."""
    logits, labels = batch_for(batch, *shape, SEED)
    impls, _ = ctcc_runner.build(1, logits, labels, ["ctcc"])
    impls.update(extra(logits, labels))
    done = []
    for name in impls:
        reply = handle({"cmd": "check", "impl": name, "dir": str(tmp_path)}, impls, 1)
        assert reply["ok"], reply
        if name != ctcc_runner.REFERENCE:
            done.append((name, 1, reply["has_grad"]))
    return check_agreement(str(tmp_path), f"{ctcc_runner.REFERENCE}-t1", done, shape[0], tols)


def _numpy_impl(fn):
    return fn, lambda out: (np.asarray(out[0], np.float64), out[1])


def test_agreement_flags_a_wrong_blank(tmp_path):
    import ctcc

    def extra(logits, labels):
        # blank taken as the last class: the classes are off by one
        rolled = np.roll(logits, -1, axis=2)
        return {"wrong-blank": _numpy_impl(lambda: ctcc.ctc_loss(rolled, labels, blank=0))}

    result = _check(tmp_path, extra)
    assert not result["ok"]
    assert any(p.startswith("loss: wrong-blank/t1 vs float64") for p in result["problems"])
    assert any(p.startswith("gradient: wrong-blank/t1") for p in result["problems"])
    assert any("ctcc/t1 vs wrong-blank/t1" in p for p in result["problems"])


def test_agreement_flags_a_gradient_with_respect_to_the_wrong_input(tmp_path):
    """The right losses with the gradient with respect to the
    log-probabilities (-posteriors) where the logits' is asked for."""
    import ctcc

    def extra(logits, labels):
        lp = _log_softmax(logits)
        return {
            "posteriors": _numpy_impl(lambda: ctcc.ctc_loss(lp, labels, blank=0, log_probs=True))
        }

    result = _check(tmp_path, extra)
    assert not result["ok"]
    assert result["problems"] and all(
        p.startswith("gradient: posteriors/t1") for p in result["problems"]
    ), result["problems"]
    assert result["runs"]["posteriors/t1"]["loss_rel_vs_f64"] < 1e-6


def test_adapters_are_held_to_ctccs_own_accuracy(tmp_path):
    """A loss 1e-5 off passes as a framework's float32 result but not as one
    of ctcc's adapters."""
    import ctcc

    def extra(logits, labels):
        def off():
            loss, grad = ctcc.ctc_loss(logits, labels, blank=0)
            return loss * (1 + 1e-5), grad

        return {"slightly-off": _numpy_impl(off)}

    as_framework = _check(tmp_path, extra, {"slightly-off": DEFAULT_TOLERANCE})
    assert as_framework["ok"], as_framework["problems"]
    as_adapter = _check(tmp_path, extra, {"slightly-off": CTCC_TOLERANCE})
    assert not as_adapter["ok"]
    assert "slightly-off/t1 vs float64" in as_adapter["problems"][0]


@pytest.mark.parametrize("batch", ["random", "peaked"])
def test_torchs_own_loss_passes_the_check(tmp_path, batch):
    """An independent implementation, run by its runner, agrees: on peaked
    outputs too, where its float32 log_softmax puts its tiny losses 1e-4
    (relative) off, within the allowance of a rounding per frame."""
    pytest.importorskip("torch")
    from ctcc._bench.runners import torch as torch_runner

    def extra(logits, labels):
        impls, _ = torch_runner.build(1, logits, labels, ["torch", "ctcc-torch"])
        return impls

    shape = (T, N, C, L) if batch == "random" else (700, 8, 29, 100)
    result = _check(tmp_path, extra, tolerances(), batch, shape)
    assert result["ok"], result["problems"]
    assert result["runs"]["torch/t1"]["grad_abs_vs_f64"] < 1e-4
    if batch == "random":
        assert result["runs"]["torch/t1"]["grad_abs_vs_f64"] > 1e-9  # torch's own rounding
    else:
        assert result["runs"]["torch/t1"]["loss_rel_vs_f64"] > 1e-5  # needs the allowance


def test_the_loss_allowance_per_frame_is_float32s_and_no_more(tmp_path):
    """On a peaked batch (losses about 0.04 for 700 frames) a loss off by
    half a float32 rounding per frame passes as a framework's, not as
    ctcc's; off by two roundings per frame it fails either way."""
    import ctcc

    shape = (700, 4, 29, 100)

    def off_by(roundings):
        def extra(logits, labels):
            def call():
                loss, grad = ctcc.ctc_loss(logits, labels, blank=0)
                return loss + roundings * shape[0] * 2.0**-23, grad

            return {"off": _numpy_impl(call)}

        return extra

    for roundings, tolerance, ok in (
        (0.5, DEFAULT_TOLERANCE, True),
        (0.5, CTCC_TOLERANCE, False),
        (0.5, CTCC_AFTER_F32_LOG_SOFTMAX, True),
        (2.0, DEFAULT_TOLERANCE, False),
    ):
        result = _check(tmp_path, off_by(roundings), {"off": tolerance}, "peaked", shape)
        assert result["ok"] == ok, (roundings, tolerance, result["problems"])
        if not ok:
            assert result["problems"][0].startswith("loss: off/t1 vs float64")


def test_worker_reports_a_failing_call():
    def boom():
        raise RuntimeError("deliberate")

    reply = handle({"cmd": "time", "impl": "x"}, {"x": (boom, None)}, 1)
    assert not reply["ok"] and "RuntimeError: deliberate" in reply["error"]
    assert not handle({"cmd": "nope"}, {}, 1)["ok"]


def test_error_line_names_the_exception():
    text = (
        "Traceback (most recent call last):\n  File 'x', line 1\n"
        "jax.errors.TracerArrayConversionError: conversion of a tracer\n"
        "See https://example\n--------------------\nFor simplicity, JAX has removed frames"
    )
    assert error_line(text) == "jax.errors.TracerArrayConversionError: conversion of a tracer"
    assert error_line("no exception here\n") == "no exception here"


# ---------------------------------------------------------------- reporting


def _row(impl, threads, ms):
    return {"impl": impl, "threads": threads, "median_ms": ms}


def test_summary_and_adapter_ratios():
    record = {
        "name": "w",
        "cells": 2_000_000,
        "fallback": {
            "1": {"samples": 8, "fell_back": 3, "fraction": 0.375, "fell_back_loss_only": 2}
        },
        "results": [
            _row("ctcc", 1, 10.0),
            _row("ctcc-loss-only", 1, 4.0),
            _row("ctcc-log", 1, 25.0),
            _row("ctcc-log-loss-only", 1, 9.0),
            _row("tf-v2-sparse", 1, 90.0),
            _row("tf-v1", 1, 80.0),
            _row("ctcc-tf", 1, 12.0),
            _row("torch", 1, 60.0),
            _row("ctcc-torch", 1, 15.0),
            _row("optax", 1, 40.0),
            _row("ctcc-jax", 1, None),
        ],
    }
    (s,) = report.summary_rows(record)
    # the keys of the first reports, and optax's
    assert (s["tf_best_ms"], s["tf_best_path"], s["tf_over_ctcc"]) == (80.0, "tf-v1", 8.0)
    assert (s["torch_ms"], s["torch_over_ctcc"]) == (60.0, 6.0)
    assert (s["optax_ms"], s["optax_over_ctcc"]) == (40.0, 4.0)
    assert s["ctcc_loss_only_ms"] == 4.0
    # per DP cell; the log-space kernel against the default
    assert (s["ctcc_ns_per_cell"], s["ctcc_loss_only_ns_per_cell"]) == (5.0, 2.0)
    assert (s["ctcc-log_ms"], s["ctcc-log_over_ctcc"]) == (25.0, 2.5)
    assert s["ctcc_log_loss_only_over_ctcc_loss_only"] == 2.25
    assert (s["fell_back"], s["fallback_fraction"], s["fell_back_loss_only"]) == (3, 0.375, 2)
    rows = {r["adapter"]: r for r in report.adapter_rows(record)}
    assert rows["ctcc-torch"]["baseline"] == "torch"
    assert rows["ctcc-torch"]["speedup"] == 4.0 and rows["ctcc-torch"]["over_ctcc"] == 1.5
    assert rows["ctcc-tf"]["baseline"] == "tf-v2-sparse" and rows["ctcc-tf"]["speedup"] == 7.5
    assert rows["ctcc-jax"]["speedup"] is None
    table = report.summary_table({"workloads": [{**record, "summary": [s]}]}).splitlines()
    cells = [c.strip() for c in table[0].strip("|").split("|")]
    assert cells[:10] == [
        "workload",
        "threads",
        "ctcc ms",
        "ctcc ns/cell",
        "ctcc loss-only ms",
        "loss-only ns/cell",
        "ctcc-log ms",
        "TF best ms",
        "TF path",
        "torch ms",
    ]
    assert "optax ms" in cells and "optax / ctcc" in cells and "ctcc-log / ctcc" in cells
    values = dict(zip(cells, (c.strip() for c in table[2].strip("|").split("|"))))
    assert values["fell back (grad / loss only)"] == "3 / 2 of 8"
    assert (values["ctcc ns/cell"], values["ctcc-log / ctcc"]) == ("5.00", "2.50")


# --------------------------------------------------------------- end to end


def _bench(args, cwd, timeout=300):
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, timeout=timeout, cwd=cwd
    )


def test_a_tiny_custom_workload_runs_every_installed_runner_of_torch_and_jax(tmp_path):
    out = tmp_path / "r.json"
    proc = _bench(
        ["-m", "ctcc", "bench", "--custom", "12", "2", "5", "3", "--threads", "1"]
        + ["--repeats", "1", "--frameworks", "torch", "jax", "--json", str(out)],
        tmp_path,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["status"] == "ok"
    (wl,) = result["workloads"]
    timed = {r["impl"] for r in wl["results"] if r["n"] > 0}
    skipped = {s.get("impl", s["framework"]) for s in wl["skipped"]}
    for kind in ("torch", "jax"):
        for name in BY_KIND[kind].names():
            assert name in timed or name in skipped or kind in skipped, name
    assert timed >= {"ctcc", "ctcc-loss-only"}
    checked = set(wl["check"]["runs"])
    assert {f"{name}/t1" for name in timed} <= checked
    adapters = {r["adapter"] for r in wl["adapters"]}
    assert adapters == {n for n in ("ctcc-torch", "ctcc-jax") if n in timed}
    assert "Summary" in proc.stdout and "Agreement" in proc.stdout


def test_workers_import_the_ctcc_of_the_parent(tmp_path):
    """A folder named ctcc in the current directory does not replace the
    ctcc the parent imported in the workers."""
    decoy = tmp_path / "ctcc"
    decoy.mkdir()
    (decoy / "__init__.py").write_text("raise ImportError('the decoy ctcc was imported')\n")
    script = os.path.join(ROOT, "bench", "ctcc_bench.py")
    proc = _bench(
        [script, "--frameworks", "ctcc", "--custom", "8", "2", "4", "2"]
        + ["--threads", "1", "--repeats", "1", "--no-json"],
        tmp_path,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "decoy" not in proc.stderr
