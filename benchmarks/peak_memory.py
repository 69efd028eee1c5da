"""Run a Singer plugin's CLI in a child process that records its own peak memory at exit.

VmHWM, not ru_maxrss: Linux carries ru_maxrss across exec, so it would report the size of the
forking benchmark process, which holds the emulators' data.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

_WRAPPER = """
import atexit, importlib, os, sys
def record_peak():
    with open("/proc/self/status") as status:
        peak = next(line.split()[1] for line in status if line.startswith("VmHWM"))
    with open(os.environ["PEAK_MEMORY_FILE"], "w") as out:
        out.write(peak)
atexit.register(record_peak)
module, name = sys.argv.pop(1), sys.argv.pop(1)
sys.argv[0] = name
getattr(importlib.import_module(module), name).cli()
"""


def run_with_peak_memory(
    module: str, plugin_class: str, args: list[str], peak_file: Path, **popen: object
) -> tuple[subprocess.CompletedProcess, float]:
    """Run ``<plugin_class>.cli()`` from ``module`` with ``args``; return it and its peak MiB."""
    process = subprocess.run(
        [sys.executable, "-c", _WRAPPER, module, plugin_class, *args],
        env={**os.environ, "PEAK_MEMORY_FILE": str(peak_file)},
        check=False,
        **popen,  # type: ignore[arg-type]
    )
    peak = int(peak_file.read_text()) / 1024 if process.returncode == 0 else float("nan")
    return process, peak
