"""``python -m ctcc``, the demonstration the README's demo command runs:
it exits 0 only when its own checks agree (published egg values, posterior
rows summing to 1, beam score equal to -ctc_loss)."""

import subprocess
import sys


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
