"""The report: summary rows, Markdown tables, the machine line, JSON."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any

from ctcc._bench.errors import error_line
from ctcc._bench.runners import GROUPS, IMPLEMENTATIONS, KIND_OF

# ------------------------------------------------------------ formatting


def _fmt(value: float | None, digits: int = 2) -> str:
    if value is None:
        return "-"
    if value >= 1000:
        return f"{value:,.0f}"
    if value >= 100:
        return f"{value:.1f}"
    return f"{value:.{digits}f}"


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _bytes(n: int | None) -> str:
    if n is None:
        return "-"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return "-"


def markdown(header: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[bool]) -> str:
    """A Markdown table with aligned columns (``right``: right-aligned)."""
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)
    ]

    def line(cells: Sequence[str]) -> str:
        padded = (c.rjust(w) if a else c.ljust(w) for c, w, a in zip(cells, widths, right))
        return "| " + " | ".join(padded) + " |"

    sep = (
        "|"
        + "|".join(("-" * (w + 1) + ":") if a else ("-" * (w + 2)) for w, a in zip(widths, right))
        + "|"
    )
    return "\n".join([line(header), sep] + [line(r) for r in rows])


def _fallback(r: dict[str, Any]) -> str:
    """The samples computed by the log-space fallback: "k / k' of N"."""
    n = r.get("samples")
    if n is None:
        return "-"
    if r.get("fell_back") is None:
        return "n/a"
    return f"{r['fell_back']} / {r['fell_back_loss_only']} of {n}"


def _ratio_of(a: float | None, b: float | None) -> float | None:
    return a / b if a and b else None


# --------------------------------------------------- rows of one workload


def _medians(record: dict[str, Any]) -> dict[tuple[str, int], float | None]:
    return {(r["impl"], r["threads"]): r["median_ms"] for r in record.get("results", [])}


def _threads(record: dict[str, Any]) -> list[int]:
    return sorted({r["threads"] for r in record.get("results", [])})


def summary_rows(record: dict[str, Any]) -> list[dict[str, Any]]:
    """Per thread count of one workload: ctcc, the fastest implementation of
    each group (TensorFlow's paths, PyTorch, optax) and the ratios other /
    ctcc. A group of several paths gets ``{group}_best_ms``,
    ``{group}_best_path``, one of a single path ``{group}_ms``; both get
    ``{group}_over_ctcc``."""
    med = _medians(record)
    rows = []
    for threads in _threads(record):
        ctcc_ms = med.get(("ctcc", threads))
        loss_only_ms = med.get(("ctcc-loss-only", threads))
        row: dict[str, Any] = {
            "workload": record["name"],
            "threads": threads,
            "ctcc_ms": ctcc_ms,
            "ctcc_ns_per_cell": _per_cell(ctcc_ms, record),
            "ctcc_loss_only_ms": loss_only_ms,
            "ctcc_loss_only_ns_per_cell": _per_cell(loss_only_ms, record),
            "ctcc_log_loss_only_ms": med.get(("ctcc-log-loss-only", threads)),
        }
        for group, (_, several) in GROUPS.items():
            found = [
                (med[(name, threads)], name)
                for name, spec in IMPLEMENTATIONS.items()
                if spec.group == group and med.get((name, threads)) is not None
            ]
            best_ms, best = min(found) if found else (None, None)
            if several:
                row.update({f"{group}_best_ms": best_ms, f"{group}_best_path": best})
            else:
                row[f"{group}_ms"] = best_ms
            row[f"{group}_over_ctcc"] = _ratio_of(best_ms, ctcc_ms)
        row["ctcc_log_loss_only_over_ctcc_loss_only"] = _ratio_of(
            row["ctcc_log_loss_only_ms"], loss_only_ms
        )
        fallback = record.get("fallback", {}).get(str(threads)) or {}
        row.update(
            numpy_softmax_ms=med.get(("numpy-softmax", threads)),
            workspace_bytes=record.get("workspace_bytes", {}).get(str(threads)),
            workspace_bytes_loss_only=record.get("workspace_bytes_loss_only"),
            samples=fallback.get("samples"),
            fell_back=fallback.get("fell_back"),
            fallback_fraction=fallback.get("fraction"),
            fell_back_loss_only=fallback.get("fell_back_loss_only"),
            fallback_fraction_loss_only=fallback.get("fraction_loss_only"),
        )
        rows.append(row)
    return rows


def _per_cell(ms: float | None, record: dict[str, Any]) -> float | None:
    """Nanoseconds per DP cell of the workload."""
    cells = record.get("cells")
    return ms * 1e6 / cells if ms is not None and cells else None


def adapter_rows(record: dict[str, Any]) -> list[dict[str, Any]]:
    """Per thread count of one workload: each ctcc adapter against the
    framework implementation it replaces (``speedup`` = framework / adapter)
    and against ctcc called directly (``over_ctcc`` = adapter / ctcc)."""
    med = _medians(record)
    rows = []
    for threads in _threads(record):
        for name, spec in IMPLEMENTATIONS.items():
            if spec.baseline is None or (name, threads) not in med:
                continue
            adapter_ms = med[(name, threads)]
            baseline_ms = med.get((spec.baseline, threads))
            rows.append(
                {
                    "workload": record["name"],
                    "threads": threads,
                    "framework": KIND_OF[name],
                    "adapter": name,
                    "adapter_ms": adapter_ms,
                    "baseline": spec.baseline,
                    "baseline_ms": baseline_ms,
                    "speedup": _ratio_of(baseline_ms, adapter_ms),
                    "over_ctcc": _ratio_of(adapter_ms, med.get(("ctcc", threads))),
                }
            )
    return rows


# ---------------------------------------------------------------- tables


def _samples(row: dict[str, Any]) -> str:
    calls = row.get("calls_per_sample", 1)
    return f"{row['n']}x{calls}" if calls > 1 else str(row["n"])


def _impl_order(row: dict[str, Any]) -> int:
    names = list(IMPLEMENTATIONS)
    return names.index(row["impl"]) if row["impl"] in names else len(names)


def results_table(report: dict[str, Any]) -> str:
    header = [
        "workload",
        "threads",
        "implementation",
        "median ms",
        "min ms",
        "max ms",
        "ns/cell",
        "x ctcc",
        "CPU ms",
        "n",
        "note",
    ]
    right = [False, True, False, True, True, True, True, True, True, True, False]
    rows = []
    for wl in report["workloads"]:
        for row in sorted(wl.get("results", []), key=lambda r: (r["threads"], _impl_order(r))):
            rows.append(
                [
                    wl["name"],
                    str(row["threads"]),
                    row["impl"],
                    _fmt(row["median_ms"]),
                    _fmt(row["min_ms"]),
                    _fmt(row["max_ms"]),
                    _fmt(row["ns_per_cell"]),
                    _ratio(row["ratio_vs_ctcc"]),
                    _fmt(row.get("cpu_median_ms")),
                    _samples(row),
                    row["note"],
                ]
            )
        for skip in wl.get("skipped", []):
            rows.append(
                [wl["name"], str(skip["threads"]), skip.get("impl", skip["framework"])]
                + ["-"] * 6
                + ["0", "skipped: " + error_line(skip["reason"])]
            )
    return markdown(header, rows, right)


def _groups_shown(report: dict[str, Any]) -> list[str]:
    """TensorFlow and PyTorch always (the columns of the first reports),
    the other groups when the run measured them."""
    measured = {
        spec.group
        for wl in report["workloads"]
        for r in wl.get("results", [])
        if (spec := IMPLEMENTATIONS.get(r["impl"])) and spec.group
    }
    return [g for g in GROUPS if g in ("tf", "torch") or g in measured]


def summary_table(report: dict[str, Any]) -> str:
    groups = _groups_shown(report)
    header = [
        "workload",
        "threads",
        "ctcc ms",
        "ctcc ns/cell",
        "ctcc loss-only ms",
        "loss-only ns/cell",
    ]
    for g in groups:
        label, several = GROUPS[g]
        header += [f"{label} best ms", f"{label} path"] if several else [f"{label} ms"]
    header += [f"{GROUPS[g][0]} / ctcc" for g in groups]
    right = [h != "workload" and not h.endswith(" path") for h in header]
    all_rows = [r for wl in report["workloads"] for r in wl.get("summary", [])]
    with_ws = any(r["workspace_bytes"] is not None for r in all_rows)
    with_fallback = any(r.get("samples") is not None for r in all_rows)
    if with_fallback:
        header.append("fell back (grad / loss only)")
        right.append(True)
    if with_ws:
        header.append("ctcc workspace (grad / loss only)")
        right.append(True)
    rows = []
    for wl in report["workloads"]:
        for r in wl.get("summary", []):
            row = [
                r["workload"],
                str(r["threads"]),
                _fmt(r["ctcc_ms"]),
                _fmt(r.get("ctcc_ns_per_cell")),
                _fmt(r["ctcc_loss_only_ms"]),
                _fmt(r.get("ctcc_loss_only_ns_per_cell")),
            ]
            for g in groups:
                if GROUPS[g][1]:
                    row += [_fmt(r.get(f"{g}_best_ms")), r.get(f"{g}_best_path") or "-"]
                else:
                    row.append(_fmt(r.get(f"{g}_ms")))
            row += [_ratio(r.get(f"{g}_over_ctcc")) for g in groups]
            if with_fallback:
                row.append(_fallback(r))
            if with_ws:
                row.append(
                    f"{_bytes(r['workspace_bytes'])} / {_bytes(r['workspace_bytes_loss_only'])}"
                )
            rows.append(row)
    return markdown(header, rows, right)


def adapters_table(report: dict[str, Any]) -> str:
    header = [
        "workload",
        "threads",
        "adapter",
        "ms",
        "replaces",
        "its ms",
        "speed-up",
        "x ctcc direct",
    ]
    right = [False, True, False, True, False, True, True, True]
    rows = [
        [
            r["workload"],
            str(r["threads"]),
            r["adapter"],
            _fmt(r["adapter_ms"]),
            r["baseline"],
            _fmt(r["baseline_ms"]),
            _ratio(r["speedup"]),
            _ratio(r["over_ctcc"]),
        ]
        for wl in report["workloads"]
        for r in wl.get("adapters", [])
    ]
    return markdown(header, rows, right)


def agreement_table(report: dict[str, Any]) -> str:
    header = ["workload", "run", "loss rel. error", "grad abs. error", "of grad tolerance"]
    right = [False, False, True, True, True]
    rows = []
    for wl in report["workloads"]:
        for label, e in wl.get("check", {}).get("runs", {}).items():
            has = "grad_abs_vs_f64" in e
            rows.append(
                [
                    wl["name"],
                    label,
                    f"{e['loss_rel_vs_f64']:.1e}",
                    f"{e['grad_abs_vs_f64']:.1e}" if has else "-",
                    f"{e['grad_tolerance_used']:.0%}" if has else "-",
                ]
            )
    return markdown(header, rows, right)


def machine_line(report: dict[str, Any]) -> str:
    m = report["machine"]
    v = m["versions"]
    load = m.get("load_average_start")
    vector = [f for f in m.get("cpu_flags", []) if f.startswith("avx")]
    others = ", ".join(
        f"{name} {v.get(name) or '-'}" for name in ("tensorflow", "torch", "jax", "optax", "keras")
    )
    probes = [
        (when, c)
        for when, c in (
            ("start", m.get("parallel_capacity_start")),
            ("end", m.get("parallel_capacity_end")),
        )
        if c
    ]
    capacity = [f"{c['total']:.2f} ({when})" for when, c in probes]
    return (
        f"{m['date']}, {m['cpu_model']}"
        + (f" ({' '.join(vector)})" if vector else "")
        + f", {m['usable_cpus']} usable CPU(s) of {m['cpu_count']}, {m['platform']}, "
        f"Python {m['python']}; numpy {v['numpy']}, ctcc {v['ctcc']} "
        f"(git {m.get('ctcc_git') or '-'}, OpenMP {'on' if m.get('ctcc_openmp') else 'off'}), "
        f"{others}"
        + (f"; load average at start {load[0]:.2f}" if load else "")
        + (
            f"; {probes[0][1]['cpus']} CPUs busy at once did "
            f"{' and '.join(capacity)} times one CPU's work"
            if capacity
            else ""
        )
    )


def print_report(report: dict[str, Any]) -> None:
    """The tables of a successful run, on stdout."""
    print(f"\nMachine: {machine_line(report)}\n")
    print(
        "Summary (median ms; ns/cell = median / (N T (2L + 1)); ratio = other / ctcc, how "
        "many times faster ctcc is; fell back = samples the log-space kernel computed):\n"
    )
    print(summary_table(report))
    if any(wl.get("adapters") for wl in report["workloads"]):
        print(
            "\nctcc's adapters in the place of their frameworks' losses (median ms; "
            "speed-up = framework / adapter; x ctcc direct = adapter / ctcc.ctc_loss):\n"
        )
        print(adapters_table(report))
    print("\nAll implementations (x ctcc = median / ctcc's median at the same thread count):\n")
    print(results_table(report))
    print("\nAgreement with ctcc in float64 (largest over samples; the check call of each run):\n")
    print(agreement_table(report))


def write_json(path: str, report: dict[str, Any]) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(report, fh, indent=1)
        fh.write("\n")
    os.replace(tmp, path)
