"""One line that says which machine measured something: CPU model, cores, GPU, Python.

Runs record it as the tag ``lnet.machine`` and benchmarks print it, so that a number on
a results page names the machine it came from.
"""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux), else ``platform``'s answer."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("model name", "Model", "Hardware") and value.strip():
                return " ".join(value.split())
    return platform.processor() or platform.machine() or "unknown CPU"


def usable_cores() -> int:
    """Cores this process may run on (its affinity mask where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def gpu_name() -> str | None:
    """The first CUDA device's name when torch is already imported and sees one, else None.

    torch is not imported here: a process that has not loaded it uses no GPU.
    """
    torch = sys.modules.get("torch")
    if torch is None or not torch.cuda.is_available():
        return None
    return str(torch.cuda.get_device_name(0))


def describe_machine() -> str:
    """E.g. ``"AMD EPYC 7B13, 2 cores, no GPU, Linux x86_64, Python 3.11.7"``."""
    gpu = gpu_name()
    return (
        f"{cpu_model()}, {usable_cores()} cores, {gpu or 'no GPU'}, "
        f"{platform.system()} {platform.machine()}, Python {platform.python_version()}"
    )
