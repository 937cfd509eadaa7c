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
from ctcc._bench.agreement import CTCC_TOLERANCE, DEFAULT_TOLERANCE, check_agreement
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
from ctcc._bench.workloads import SEED, make_batch

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
            assert spec.tolerance == CTCC_TOLERANCE, name
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
    assert [n for n, _ in quick.workload_list] == ["speech-small"]
    assert quick.frameworks == list(FRAMEWORKS)
    full = cli.parse_args(["--frameworks", "torch", "--exclude", "ctcc-torch"])
    assert full.threads == [1, 2] and full.frameworks == ["ctcc", "torch"]
    assert impls_for("torch", False, full.exclude) == ["torch"]
    assert impls_for("ctcc", False) == ["ctcc", "ctcc-loss-only"]
    assert "numpy-softmax" in impls_for("ctcc", True)
    assert cli.main(["--custom", "3", "2", "5", "4", "--no-json"]) == 2  # T too short
    assert cli.main(["--frameworks", "no-such"]) == 2


# ----------------------------------------------------------- agreement check

T, N, C, L = 30, 3, 6, 5


def _log_softmax(x):
    x = x.astype(np.float64)
    m = x.max(axis=2, keepdims=True)
    return (x - m - np.log(np.exp(x - m).sum(axis=2, keepdims=True))).astype(np.float32)


def _check(tmp_path, extra, tols=None):
    """Saves the check calls of ctcc and of ``extra`` (name -> (call,
    outputs)) through the worker's own command handler, then runs the
    agreement check."""
    logits, labels = make_batch(T, N, C, L, SEED)
    impls, _ = ctcc_runner.build(1, logits, labels, ["ctcc"])
    impls.update(extra(logits, labels))
    done = []
    for name in impls:
        reply = handle({"cmd": "check", "impl": name, "dir": str(tmp_path)}, impls, 1)
        assert reply["ok"], reply
        if name != ctcc_runner.REFERENCE:
            done.append((name, 1, reply["has_grad"]))
    return check_agreement(str(tmp_path), f"{ctcc_runner.REFERENCE}-t1", done, T, tols)


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


def test_torchs_own_loss_passes_the_check(tmp_path):
    """An independent implementation, run by its runner, agrees."""
    pytest.importorskip("torch")
    from ctcc._bench.runners import torch as torch_runner

    def extra(logits, labels):
        impls, _ = torch_runner.build(1, logits, labels, ["torch"])
        return impls

    result = _check(tmp_path, extra, tolerances())
    assert result["ok"], result["problems"]
    assert 1e-9 < result["runs"]["torch/t1"]["grad_abs_vs_f64"] < 1e-4


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
        "results": [
            _row("ctcc", 1, 10.0),
            _row("ctcc-loss-only", 1, 4.0),
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
    rows = {r["adapter"]: r for r in report.adapter_rows(record)}
    assert rows["ctcc-torch"]["baseline"] == "torch"
    assert rows["ctcc-torch"]["speedup"] == 4.0 and rows["ctcc-torch"]["over_ctcc"] == 1.5
    assert rows["ctcc-tf"]["baseline"] == "tf-v2-sparse" and rows["ctcc-tf"]["speedup"] == 7.5
    assert rows["ctcc-jax"]["speedup"] is None
    header = report.summary_table({"workloads": [{**record, "summary": [s]}]}).splitlines()[0]
    cells = [c.strip() for c in header.strip("|").split("|")]
    assert cells[:7] == [
        "workload",
        "threads",
        "ctcc ms",
        "ctcc loss-only ms",
        "TF best ms",
        "TF path",
        "torch ms",
    ]
    assert "optax ms" in cells and "optax / ctcc" in cells


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
