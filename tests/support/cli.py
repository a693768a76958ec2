"""The ``vnportals`` command as a user runs it: the installed script, in a subprocess."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

VNPORTALS = str(Path(sys.executable).parent / "vnportals")


def run_cli(*args: str, timeout: float = 600, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``vnportals ARGS`` to its end; its exit status and output."""
    return subprocess.run([VNPORTALS, *args], capture_output=True, text=True, timeout=timeout, check=False, cwd=cwd)
