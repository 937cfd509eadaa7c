"""The command line: ``python -m ctcc bench [options]``, and the worker mode
(``--worker KIND``, internal) of the same entry point."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any

from ctcc._bench import machine, report
from ctcc._bench.agreement import GRAD_ATOL, LOSS_RTOL
from ctcc._bench.errors import BenchError, Mismatch
from ctcc._bench.measure import run_workload
from ctcc._bench.runners import FRAMEWORKS, IMPLEMENTATIONS
from ctcc._bench.worker import progress, worker_main
from ctcc._bench.workloads import (
    BATCH_KINDS,
    DEFAULT_WORKLOADS,
    OPT_IN_WORKLOADS,
    PEAKED_WORKLOADS,
    QUICK_PEAKED,
    QUICK_WORKLOAD,
    SEED,
    SOFTMAX_LIMIT_WORKLOADS,
    WORKLOADS,
    Workload,
    custom_workload_error,
)

DEFAULT_REPEATS = 7
QUICK_REPEATS = 2
DEFAULT_THREADS = (1, 2)
QUICK_THREADS = (1,)
DEFAULT_SLOW_LIMIT_S = 20.0


def default_json_path() -> str:
    """Where ``python -m ctcc bench`` writes its results without --json: a
    file in the current directory (bench/ctcc_bench.py, the checkout's entry
    point, passes its own default, bench/results/latest.json)."""
    return "ctcc_bench_results.json"


def _parser(default_json: str | None) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m ctcc bench",
        description="Time ctcc against the CTC losses of TensorFlow, PyTorch, optax (JAX) and "
        "Keras, and ctcc's adapters against them (loss + gradient with respect to the "
        "logits, float32, CPU). Each framework and thread count runs in its own worker "
        "process; rounds are interleaved.",
    )
    p.add_argument(
        "--workload",
        action="append",
        choices=list(WORKLOADS),
        metavar="NAME",
        help="a workload to run (repeatable; default all but "
        + ", ".join(OPT_IN_WORKLOADS)
        + "): "
        + ", ".join(f"{k} {v}" for k, v in WORKLOADS.items())
        + " as (T, N, C, L); "
        + ", ".join(PEAKED_WORKLOADS)
        + " have peaked outputs (a trained model's: one alignment at p >= 0.999 per "
        "frame), the others standard-normal logits",
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
        "--custom-peaked",
        nargs=4,
        type=int,
        action="append",
        metavar=("T", "N", "C", "L"),
        help="an extra workload with peaked outputs (repeatable)",
    )
    p.add_argument(
        "--threads",
        nargs="+",
        type=int,
        default=None,
        help="thread counts (default: 1 2; 1 with --quick)",
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
        help=f"CI smoke test: {QUICK_REPEATS} repeats, one thread and only {QUICK_WORKLOAD} "
        f"(and {QUICK_PEAKED} on ctcc alone, for the fallback report) unless "
        "--workload/--custom/--repeats/--threads say otherwise",
    )
    p.add_argument(
        "--frameworks",
        nargs="+",
        choices=FRAMEWORKS,
        default=list(FRAMEWORKS),
        help="frameworks to run (default: all; ctcc is always run, it is the reference): "
        + ", ".join(FRAMEWORKS),
    )
    others = [i for i in IMPLEMENTATIONS if i != "ctcc"]
    p.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="IMPL",
        choices=others,
        help="leave out an implementation (repeatable): " + ", ".join(others),
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
    p.add_argument("--worker-batch", choices=BATCH_KINDS, help=argparse.SUPPRESS)
    p.add_argument("--worker-impls", help=argparse.SUPPRESS)
    return p


def parse_args(argv: Sequence[str] | None, default_json: str | None = None) -> argparse.Namespace:
    p = _parser(default_json)
    args = p.parse_args(argv)
    args.default_json = default_json or default_json_path()
    if args.worker:
        return args

    if args.repeats is None:
        args.repeats = QUICK_REPEATS if args.quick else DEFAULT_REPEATS
    if args.repeats < 1:
        p.error("--repeats must be at least 1")
    default_threads = QUICK_THREADS if args.quick else DEFAULT_THREADS
    args.threads = list(dict.fromkeys(args.threads or default_threads))
    if any(t < 1 for t in args.threads):
        p.error("--threads: thread counts must be at least 1")
    if "ctcc" not in args.frameworks:
        args.frameworks = ["ctcc"] + list(args.frameworks)
    args.frameworks = [f for f in FRAMEWORKS if f in args.frameworks]
    workloads = [Workload.named(name) for name in dict.fromkeys(args.workload or [])]
    for kind, option in (("random", "custom"), ("peaked", "custom_peaked")):
        for T, N, C, L in getattr(args, option) or []:
            flag = "--" + option.replace("_", "-")
            error = custom_workload_error(T, N, C, L, args.seed)
            if error:
                p.error(f"{flag} {T} {N} {C} {L}: {error}")
            prefix = "custom-" if kind == "random" else "custom-peaked-"
            workloads.append(Workload(f"{prefix}{T}x{N}x{C}x{L}", (T, N, C, L), kind))
    if not workloads and args.quick:
        workloads = [Workload.named(QUICK_WORKLOAD), Workload.named(QUICK_PEAKED, ("ctcc",))]
    elif not workloads:
        workloads = [Workload.named(n) for n in DEFAULT_WORKLOADS]
    args.workload_list = workloads
    if args.slow_limit <= 0:
        p.error("--slow-limit must be positive")
    return args


def _config(args: argparse.Namespace, argv: Sequence[str] | None) -> dict[str, Any]:
    return {
        "argv": list(sys.argv[1:] if argv is None else argv),
        "workloads": {w.name: list(w.shape) for w in args.workload_list},
        "batch_kinds": {w.name: w.kind for w in args.workload_list},
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
        "implementations": {k: v.description for k, v in IMPLEMENTATIONS.items()},
        "tolerances": {
            k: {
                "loss_rtol": v.tolerance.loss_rtol,
                "loss_f32_frames": v.tolerance.loss_f32_frames,
                "grad_atol": v.tolerance.grad_atol,
            }
            for k, v in IMPLEMENTATIONS.items()
            if v.ctc
        },
    }


def _run_all(args: argparse.Namespace, ctcc_root: str, result: dict[str, Any]) -> int:
    """Runs every workload into ``result``; returns the exit status."""
    try:
        for workload in args.workload_list:
            record: dict[str, Any] = {}
            result["workloads"].append(record)
            limit = args.softmax_limit or workload.name in SOFTMAX_LIMIT_WORKLOADS
            run_workload(workload, args, limit, ctcc_root, record)
        result["status"] = "ok"
        return 0
    except Mismatch as exc:
        bar = "!" * 78
        print(
            f"\n{bar}\nctcc_bench: IMPLEMENTATIONS DISAGREE on workload "
            f"{result['workloads'][-1].get('name')} -- no timings are reported.\n{exc}\n{bar}",
            file=sys.stderr,
        )
        result.update(status="mismatch", error=str(exc))
        return 1
    except BenchError as exc:
        print(f"\nctcc_bench: ERROR: {exc}", file=sys.stderr)
        result.update(status="error", error=str(exc))
        return 1
    except KeyboardInterrupt:
        print("\nctcc_bench: interrupted", file=sys.stderr)
        result["status"] = "interrupted"
        return 130


def _warn_if_rebuilt(result: dict[str, Any]) -> None:
    cores = {
        info.get("core_sha256")
        for wl in result["workloads"]
        for label, info in wl.get("worker_info", {}).items()
        if label.startswith("ctcc/")
    }
    if len(cores) > 1:
        warning = (
            "the compiled ctcc core changed during the run (rebuilt?): workloads used "
            f"different builds {sorted(map(str, cores))}; compare them with care"
        )
        result.setdefault("warnings", []).append(warning)
        print(f"\nctcc_bench: WARNING: {warning}", file=sys.stderr)


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
            args.worker_batch or "random",
        )

    result: dict[str, Any] = {"schema": 1, "status": "running", "machine": machine.machine_info()}
    cpus = min(max(args.threads), result["machine"]["usable_cpus"] or 1)
    result["machine"]["parallel_capacity_start"] = machine.parallel_capacity(cpus)
    import ctcc

    ctcc_root = os.path.dirname(os.path.dirname(os.path.abspath(ctcc.__file__)))
    result["machine"]["versions"]["ctcc"] = ctcc.__version__
    result["machine"]["ctcc_openmp"] = bool(ctcc.openmp_enabled())
    result["machine"]["ctcc_git"] = machine.git_describe(ctcc_root)
    result["config"] = _config(args, argv)
    result["workloads"] = []
    json_path = None if args.no_json else (args.json or args.default_json)
    progress(
        f"ctcc benchmark: {len(args.workload_list)} workload(s), threads "
        f"{args.threads}, {args.repeats} repeat(s), frameworks {', '.join(args.frameworks)}"
    )
    status = _run_all(args, ctcc_root, result)
    result["machine"]["date_end"] = machine.now()
    result["machine"]["parallel_capacity_end"] = machine.parallel_capacity(cpus)
    load = machine.load_average()
    if load is not None:
        result["machine"]["load_average_end"] = load
    _warn_if_rebuilt(result)
    if json_path:
        report.write_json(json_path, result)
        progress(f"\nresults written to {json_path}")
    if status == 0:
        report.print_report(result)
    return status
