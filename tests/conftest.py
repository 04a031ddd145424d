"""Shared fixtures."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory):
    """``towntype demo`` run once per session as a user runs it: (output folder, stdout)."""
    out = tmp_path_factory.mktemp("demo") / "out"
    proc = subprocess.run([sys.executable, "-m", "classify.cli", "demo", "--out", str(out),
                           "--draws", "100"], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    return out, proc.stdout
