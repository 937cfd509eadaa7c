"""One workload, measured: start the workers, check that every
implementation agrees, warm up, time interleaved rounds, summarise.

For each workload the parent

1. starts all workers of the workload and waits until they are ready;
2. asks each implementation for one call whose loss and gradient it saves,
   and checks that all implementations agree (this call is also the first
   warm-up: TensorFlow traces and compiles its tf.function here, JAX its
   jit);
3. asks for one more untimed warm-up call;
4. runs ``--repeats`` rounds, one timed sample per implementation per
   round (calls shorter than WARM_LIMIT_S after one untimed call),
   rotating the order every round so that the noise of a shared machine
   falls on all implementations alike;
5. reports median / min / max per implementation.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from typing import Any

import numpy as np

from ctcc._bench.agreement import check_agreement
from ctcc._bench.errors import BenchError, Mismatch, WorkerDied, error_line
from ctcc._bench.report import adapter_rows, summary_rows
from ctcc._bench.runners import IMPLEMENTATIONS, impls_for, tolerances
from ctcc._bench.runners.ctcc import REFERENCE
from ctcc._bench.worker import Worker, progress
from ctcc._bench.workloads import Workload, dp_cells

# A timed sample is one call, or the mean of back-to-back calls for calls
# faster than this (timer resolution and wake-up jitter of tiny workloads).
MIN_SAMPLE_S = 0.02
MAX_CALLS_PER_SAMPLE = 1000
# A worker waits, idle, while the others run their samples: its thread
# pool goes to sleep and the others evict its data from the caches. The
# first call after that pays the wake-up (on a virtual machine whose idle
# CPU the host has descheduled, milliseconds: a 2-thread call of 0.5 ms
# took 7.2 ms after 20 ms of idling, measured), which the interleaving
# causes and a loop of steady calls does not see. So a timed sample of
# calls shorter than this follows one untimed call; for longer calls the
# wake-up is a small part of the call, and an untimed call would add a
# whole call per round.
WARM_LIMIT_S = 0.1


def _calls_for(seconds_per_call: float) -> int:
    """Calls per timed sample for calls of this length: enough for
    MIN_SAMPLE_S, at most MAX_CALLS_PER_SAMPLE."""
    return int(min(MAX_CALLS_PER_SAMPLE, np.ceil(MIN_SAMPLE_S / max(seconds_per_call, 1e-9))))


class WorkloadRun:
    """The measurement of one workload; fills ``record`` (the workload's part
    of the JSON report)."""

    def __init__(
        self,
        workload: Workload,
        args: argparse.Namespace,
        with_softmax_limit: bool,
        ctcc_root: str,
        record: dict[str, Any],
    ) -> None:
        self.workload = workload
        self.name = workload.name
        self.shape = workload.shape
        self.args = args
        self.with_softmax_limit = with_softmax_limit
        self.ctcc_root = ctcc_root
        self.record = record
        self.workers: list[Worker] = []
        self.slots: list[tuple[Worker, str]] = []
        self.state: dict[tuple[str, int], dict[str, Any]] = {}

    # ---------------------------------------------------------------- phases

    def run(self) -> None:
        T, N, C, L = self.shape
        cells = dp_cells(T, N, L)
        batch = self.workload.kind
        progress(
            f"\n== {self.name}: T={T} N={N} C={C} L={L}, {batch} batch, "
            f"{cells / 1e6:.2f} M DP cells =="
        )
        self.record.update(
            name=self.name, T=T, N=N, C=C, L=L, batch=batch, cells=cells, skipped=[], results=[]
        )
        self.record["workspace_bytes"] = {}
        self.record["fallback"] = {}
        try:
            self.start_workers()
            self.init_state()
            self.check()
            self.warm_up()
            for r in range(self.args.repeats):
                self.timed_round(r)
        finally:
            for w in self.workers:
                w.close()
        self.statistics(cells)

    def start_workers(self) -> None:
        """Starts every (kind, threads) worker; keeps those that are ready."""
        args = self.args
        only = self.workload.frameworks
        left_out = dict(self.workload.exclude)
        exclude = [*args.exclude, *left_out]
        for kind in args.frameworks:
            for impl in impls_for(kind, self.with_softmax_limit, args.exclude):
                if impl in left_out and (only is None or kind in only):
                    progress(f"  leaving out {impl}: {left_out[impl]}")
                    for threads in args.threads:
                        self.record["skipped"].append(
                            {
                                "framework": kind,
                                "impl": impl,
                                "threads": threads,
                                "reason": left_out[impl],
                            }
                        )
        kinds = [
            k
            for k in args.frameworks
            if (only is None or k in only) and impls_for(k, self.with_softmax_limit, exclude)
        ]
        progress(
            "  starting workers: " + ", ".join(f"{k}/t{t}" for k in kinds for t in args.threads)
        )
        for kind in kinds:
            names = impls_for(kind, self.with_softmax_limit, exclude)
            for threads in args.threads:
                self.workers.append(
                    Worker(
                        kind,
                        threads,
                        self.shape,
                        args.seed,
                        names,
                        self.ctcc_root,
                        self.workload.kind,
                    )
                )
        ready = []
        for w in self.workers:
            try:
                msg = w.receive()
            except WorkerDied as exc:
                msg = {"status": "error", "reason": str(exc)}
            if msg["status"] == "ready":
                self._ready(w, msg)
                ready.append(w)
            else:
                self._unavailable(w, msg)
        self.workers = ready
        self.record["worker_info"] = {
            w.label: {k: v for k, v in w.info.items() if k not in ("status", "impls")}
            for w in self.workers
        }

    def _ready(self, w: Worker, msg: dict[str, Any]) -> None:
        w.impls = msg["impls"]
        w.info = msg
        if w.kind == "ctcc":
            self.record["workspace_bytes"][str(w.threads)] = msg.get("workspace_bytes")
            self.record["workspace_bytes_loss_only"] = msg.get("workspace_bytes_loss_only")
            self.record["workspace_note"] = msg.get("workspace_note", "")
            self.record["fallback"][str(w.threads)] = msg.get("fallback")
        for impl, reason in msg.get("unavailable", {}).items():
            progress(f"  skipping {impl}/t{w.threads}: {error_line(reason)}")
            self.record["skipped"].append(
                {"framework": w.kind, "impl": impl, "threads": w.threads, "reason": reason}
            )

    def _unavailable(self, w: Worker, msg: dict[str, Any]) -> None:
        reason = msg.get("reason", "").strip()
        if w.kind == "ctcc":
            raise BenchError(f"the ctcc worker failed to start: {reason}")
        progress(f"  skipping {w.label}: {error_line(reason)}")
        self.record["skipped"].append({"framework": w.kind, "threads": w.threads, "reason": reason})
        w.close()

    def init_state(self) -> None:
        """(worker, impl) slots in a fixed order: frameworks, then threads."""
        self.slots = [(w, impl) for w in self.workers for impl in w.impls]
        for w, impl in self.slots:
            self.state[(impl, w.threads)] = {
                "impl": impl,
                "framework": w.kind,
                "threads": w.threads,
                "description": IMPLEMENTATIONS[impl].description,
                "times_s": [],
                "cpu_times_s": [],
                "notes": [],
                "active": True,
                "check_call_s": None,
                "warmup_s": None,
                "calls_per_sample": 1,
                "warm_calls_per_sample": 0,
            }

    def ask(self, w: Worker, impl: str, **msg: Any) -> dict[str, Any]:
        """A request whose failure is fatal for ctcc (the reference) and only
        puts the implementation out of the race otherwise."""
        try:
            reply = w.request(impl=impl, **msg)
        except WorkerDied as exc:
            if w.kind == "ctcc":
                raise
            reply = {"ok": False, "error": str(exc), "note": str(exc).splitlines()[0]}
        if reply["ok"]:
            return reply
        if w.kind == "ctcc":
            raise BenchError(f"{impl} failed on {self.name}:\n{reply['error']}")
        progress(f"  {impl} threads={w.threads} FAILED:\n{reply['error']}")
        for other in w.impls if w.proc.poll() is not None else [impl]:
            st = self.state[(other, w.threads)]
            if st["active"]:
                st["active"] = False
                st["notes"].append("failed: " + reply.get("note", error_line(reply["error"])))
        return reply

    def check(self) -> None:
        """The agreement check (also the first warm-up call of each)."""
        check_dir = tempfile.mkdtemp(prefix="ctcc-bench-")
        try:
            ref_worker = next(w for w in self.workers if w.kind == "ctcc")
            progress(f"  float64 reference: ctcc threads={ref_worker.threads}")
            self.ask(ref_worker, REFERENCE, cmd="check", dir=check_dir)
            done = [run for w, impl in self.slots if (run := self._check_call(w, impl, check_dir))]
            progress(f"  comparing losses and gradients of {len(done)} runs")
            reference = f"{REFERENCE}-t{ref_worker.threads}"
            report = check_agreement(check_dir, reference, done, self.shape[0], tolerances())
            self.record["check"] = report
        finally:
            shutil.rmtree(check_dir, ignore_errors=True)
        fallbacks = {json.dumps(f, sort_keys=True) for f in self.record["fallback"].values()}
        if len(fallbacks) > 1:
            report["ok"] = False
            report["problems"].append(
                "the samples that fell back to the log-space kernel differ between thread "
                f"counts: {self.record['fallback']}"
            )
        if not report["ok"]:
            raise Mismatch("\n".join(report["problems"]))
        self._print_fallback()
        for label, entry in report["runs"].items():
            grad = (
                f", gradient {entry['grad_abs_vs_f64']:.2g} "
                f"({entry['grad_tolerance_used']:.0%} of tolerance)"
                if "grad_abs_vs_f64" in entry
                else ""
            )
            progress(
                f"    {label:<22} vs float64: loss {entry['loss_rel_vs_f64']:.2g} (relative){grad}"
            )

    def _print_fallback(self) -> None:
        fallback = next(iter(self.record["fallback"].values()), None)
        if not fallback:
            return
        if fallback.get("fell_back") is None:
            progress(f"  kernels: {fallback.get('note')}")
            return
        progress(
            f"  fell back to the log-space kernel: {fallback['fell_back']} of "
            f"{fallback['samples']} samples with the gradient, "
            f"{fallback['fell_back_loss_only']} loss only"
        )

    def _check_call(self, w: Worker, impl: str, check_dir: str) -> tuple[str, int, bool] | None:
        """One implementation's check call; the run for the agreement check."""
        st = self.state[(impl, w.threads)]
        if not st["active"]:
            return None
        slow = [
            (o["threads"], o["check_call_s"])
            for o in self.state.values()
            if o["impl"] == impl and (o["check_call_s"] or 0) > self.args.slow_limit
        ]
        if slow:
            # Far over the limit with another thread count: one call here
            # would cost minutes and say little more.
            st["active"] = False
            st["notes"].append(
                f"not run: its first call with {slow[0][0]} thread(s) took "
                f"{slow[0][1]:.3g} s > {self.args.slow_limit:g} s"
            )
            progress(f"  skipping {impl} threads={w.threads}: too slow")
            return None
        progress(f"  check call: {impl} threads={w.threads}")
        reply = self.ask(w, impl, cmd="check", dir=check_dir)
        if not reply["ok"]:
            return None
        st["check_call_s"] = reply["seconds"]
        return (impl, w.threads, reply["has_grad"]) if IMPLEMENTATIONS[impl].ctc else None

    def warm_up(self) -> None:
        """One more untimed call each, unless a call is already too slow."""
        limit = self.args.slow_limit
        for w, impl in self.slots:
            st = self.state[(impl, w.threads)]
            if not st["active"]:
                continue
            if st["check_call_s"] > limit:
                # Too slow to repeat: report the first call (it includes any
                # tracing, a small part of such a call) as the only sample.
                st["times_s"].append(st["check_call_s"])
                st["active"] = False
                st["notes"].append(
                    f"first call only ({st['check_call_s']:.3g} s > {limit:g} s; includes tracing)"
                )
                progress(
                    f"  {impl} threads={w.threads}: first call took "
                    f"{st['check_call_s']:.1f} s, not repeated"
                )
                continue
            progress(f"  warm-up: {impl} threads={w.threads}")
            reply = self.ask(w, impl, cmd="time")
            if not reply["ok"]:
                continue
            st["warmup_s"] = reply["seconds"]
            per_call = reply["seconds"]
            if per_call < MIN_SAMPLE_S:
                # One call can include a cold start (a thread pool woken,
                # memory touched the first time), several times a call's
                # usual time, which would leave each sample a few calls,
                # each paying the wake-up again: calibrate on about
                # MIN_SAMPLE_S of calls back to back as well.
                calls = _calls_for(per_call)
                again = self.ask(w, impl, cmd="time", calls=calls)
                if again["ok"]:
                    per_call = min(per_call, again["seconds"])
                st["calls_per_sample"] = _calls_for(per_call)
            st["warm_calls_per_sample"] = 1 if per_call < WARM_LIMIT_S else 0

    def timed_round(self, r: int) -> None:
        """Round r: one timed sample each, the order rotated by r."""
        repeats = self.args.repeats
        shift = r % len(self.slots) if self.slots else 0
        parts = []
        for w, impl in self.slots[shift:] + self.slots[:shift]:
            st = self.state[(impl, w.threads)]
            if not st["active"]:
                continue
            last = st["times_s"][-1] if st["times_s"] else (st["warmup_s"] or st["check_call_s"])
            if last and last > 2.0:
                progress(
                    f"  round {r + 1}/{repeats}: running {impl} threads={w.threads} "
                    f"(~{last:.0f} s per call)"
                )
            reply = self.ask(
                w,
                impl,
                cmd="time",
                calls=st["calls_per_sample"],
                warm=st["warm_calls_per_sample"],
            )
            if not reply["ok"]:
                continue
            seconds = reply["seconds"]
            st["times_s"].append(seconds)
            st["cpu_times_s"].append(reply.get("cpu_seconds"))
            parts.append(f"{impl}/t{w.threads} {seconds * 1e3:.1f}")
            if seconds > self.args.slow_limit and r + 1 < repeats:
                st["active"] = False
                st["notes"].append(
                    f"stopped after {len(st['times_s'])} timed call(s): "
                    f"{seconds:.1f} s per call > {self.args.slow_limit:g} s"
                )
        progress(f"  round {r + 1}/{repeats} (ms): " + ", ".join(parts))

    # ------------------------------------------------------------- results

    def statistics(self, cells: int) -> None:
        """Median / min / max per implementation, the ratios to ctcc."""
        results = [_row(st, cells) for st in self.state.values()]
        by_key = {(r["impl"], r["threads"]): r for r in results}
        for row in results:
            ref = by_key.get(("ctcc", row["threads"]))
            ok = ref and ref["median_ms"] and row["median_ms"]
            row["ratio_vs_ctcc"] = row["median_ms"] / ref["median_ms"] if ok else None
        self.record["results"] = results
        self.record["summary"] = summary_rows(self.record)
        self.record["adapters"] = adapter_rows(self.record)


def _row(st: dict[str, Any], cells: int) -> dict[str, Any]:
    """One implementation's result row from its measurement state."""
    row = {k: v for k, v in st.items() if k not in ("times_s", "cpu_times_s", "active", "notes")}
    times = np.array(st["times_s"])
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
    # CPU time of the worker process per call (all its threads): on one
    # thread, what the call cost without the time other processes took.
    cpu = [t for t in st["cpu_times_s"] if t is not None]
    row["cpu_times_ms"] = [round(t * 1e3, 4) for t in cpu]
    row["cpu_median_ms"] = float(np.median(cpu)) * 1e3 if cpu else None
    for key in ("check_call_s", "warmup_s"):
        value = row.pop(key)
        row[key.replace("_s", "_ms")] = None if value is None else value * 1e3
    row["note"] = "; ".join(st["notes"])
    return row


def run_workload(
    workload: Workload,
    args: argparse.Namespace,
    with_softmax_limit: bool,
    ctcc_root: str,
    record: dict[str, Any],
) -> None:
    """Checks and times every implementation on one workload; fills record."""
    WorkloadRun(workload, args, with_softmax_limit, ctcc_root, record).run()
