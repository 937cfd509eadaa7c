"""``python -m ctcc``, the demonstration the README's demo command runs:
it exits 0 only when its own checks agree (published egg values, posterior
rows summing to 1, beam score equal to -ctc_loss)."""

import json
import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_demo_runs_and_its_checks_agree(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "ctcc", "--repeats", "1", "--shape", "20", "2", "5", "3"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "largest gradient difference" in proc.stdout and "agrees" in proc.stdout
    assert "forced alignment" in proc.stdout and "greedy decoding" in proc.stdout
    assert "-ctc_loss of its labelling" in proc.stdout and ": yes" in proc.stdout


def _run(args, cwd, timeout=240):
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, timeout=timeout, cwd=cwd
    )


def test_bench_writes_its_results_where_help_says(tmp_path):
    """``python -m ctcc bench --help`` names the default results file, and a
    run without --json writes exactly that file (and nothing else)."""
    help_text = _run(["-m", "ctcc", "bench", "--help"], tmp_path).stdout
    flat = " ".join(help_text.split())
    m = re.search(r"--json PATH .*?\(default: ([^)]*)\)", flat)
    assert m, help_text
    run = tmp_path / "run"
    run.mkdir()
    proc = _run(
        ["-m", "ctcc", "bench", "--frameworks", "ctcc", "--custom", "8", "2", "4", "2"]
        + ["--threads", "1", "--repeats", "1"],
        run,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    written = sorted(p.relative_to(run).as_posix() for p in run.rglob("*") if p.is_file())
    assert len(written) == 1, written
    assert m.group(1).startswith(written[0]), (m.group(1), written)
    assert json.loads((run / written[0]).read_text())["status"] == "ok"


def test_bench_script_in_a_checkout_writes_where_its_help_says(tmp_path):
    """bench/ctcc_bench.py (the checkout's entry point) documents its own
    default, bench/results/latest.json, in --help."""
    script = os.path.join(ROOT, "bench", "ctcc_bench.py")
    flat = " ".join(_run([script, "--help"], tmp_path).stdout.split())
    m = re.search(r"--json PATH .*?\(default: ([^)]*)\)", flat)
    assert m and m.group(1).replace(" ", "").endswith(
        os.path.join("bench", "results", "latest.json")
    ), flat


def test_spiky_quick_names_no_file_it_deletes(tmp_path):
    """examples/spiky.py --quick draws its plots but keeps no file unless
    --out is given: every path it prints must exist after it exits."""
    pytest.importorskip("matplotlib")
    script = os.path.join(ROOT, "examples", "spiky.py")
    for extra in ([], ["--out", str(tmp_path / "figs")]):
        proc = _run([script, "--quick", *extra], tmp_path)
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
        named = re.findall(r"(\S+\.png)\b", proc.stdout)
        missing = [p for p in named if not os.path.isfile(os.path.join(tmp_path, p))]
        assert not missing, proc.stdout
        if extra:
            assert len(named) == 5 and all(p.startswith(extra[1]) for p in named), named
