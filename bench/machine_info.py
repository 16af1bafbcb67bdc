"""What every benchmark prints and records about the machine it ran on."""

from __future__ import annotations

import os
import platform
import resource
import sqlite3
import sys
from pathlib import Path
from typing import Any

import psutil


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine(**extra: Any) -> dict[str, Any]:
    """CPU, cores, clock, memory, Python, OS, SQLite, and the load average at the start: other work
    on the machine skews wall-clock figures, so every result carries it."""
    freq = psutil.cpu_freq()
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "cpu_mhz": round(freq.max or freq.current) if freq else None,
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "sqlite": sqlite3.sqlite_version,
        "load_avg_1m_at_start": round(os.getloadavg()[0], 2),
        **extra,
    }


def peak_rss_mb() -> float:
    """This process's own peak RSS (VmHWM). Not ru_maxrss: Linux carries that across fork + exec, so a
    child started from a parent holding the simulated orders would report the parent's size."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # not Linux
