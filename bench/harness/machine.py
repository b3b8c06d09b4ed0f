"""Where the numbers come from: the machine's slug, device clocks and peak memory.

Peak memory on CPU is the resident set's high-water mark (``VmHWM`` in ``/proc/self/status``, else
``getrusage``'s ``ru_maxrss``). On Linux writing ``5`` to ``/proc/self/clear_refs`` resets that mark, so
each phase of one process gets its own peak; where the reset is refused the peak is the process's so
far, and :func:`reset_peak_memory` says so by returning False. On CUDA it is
``torch.cuda.max_memory_allocated`` since :func:`reset_peak_memory`.
"""

from __future__ import annotations

import os
import platform
import re
import resource
import sys
import time
from pathlib import Path

import torch


def cpu_model() -> str:
    """The CPU's marketing name (``/proc/cpuinfo``'s ``model name``), else ``platform.processor()``."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "cpu"


def available_cores() -> int:
    """Cores this process may run on (its affinity mask, which containers narrow), not the host's."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def slug(text: str, limit: int = 48) -> str:
    """``text`` as a file-name piece: lower case, runs of anything but letters and digits as one ``-``;
    the registered-trademark and frequency noise of CPU names (``(R)``, ``CPU``, ``@ 2.20GHz``) dropped."""
    text = re.sub(r"\((?:r|tm)\)|\bcpu\b|@\s*[\d.]+\s*[gm]hz|\bprocessor\b", " ", text.lower())
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-")[:limit].strip("-") or "machine"


def machine_slug(device: torch.device, cpu: str | None = None, cores: int | None = None,
                 gpu: str | None = None) -> str:
    """A short name for the results file: the CUDA device's name on a GPU (``nvidia-h100-80gb-hbm3``),
    else the CPU model and the cores available (``intel-xeon-platinum-8375c-2c``). The arguments stand
    in for the machine's own values (tests)."""
    if device.type == "cuda":
        return slug(gpu if gpu is not None else torch.cuda.get_device_name(device))
    cores = available_cores() if cores is None else cores
    return f"{slug(cpu if cpu is not None else cpu_model(), limit=40)}-{cores}c"


def describe_machine(device: torch.device, threads: int) -> dict[str, object]:
    """What the JSON records about where it ran."""
    info: dict[str, object] = {
        "cpu": cpu_model(), "cores_available": available_cores(), "threads": threads,
        "device": str(device), "python": platform.python_version(), "torch": torch.__version__,
        "platform": platform.platform(), "argv": sys.argv,
    }
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


def synchronize(device: torch.device) -> None:
    """Wait for the device's queued work, so a clock read after it counts that work."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def clock(device: torch.device) -> float:
    """``time.perf_counter()`` after the device's queued work has finished."""
    synchronize(device)
    return time.perf_counter()


def reset_peak_memory(device: torch.device) -> bool:
    """Start a new peak for the next phase; False where the CPU mark cannot be reset (the peak read
    afterwards is then the process's so far)."""
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        return True
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def peak_memory_mib(device: torch.device) -> float:
    """Peak memory in MiB since :func:`reset_peak_memory` (see the module docstring)."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return peak_rss_mib()


def peak_rss_mib() -> float:
    """This process's peak resident set in MiB: ``VmHWM``, else getrusage's ``ru_maxrss``. (psutil
    reports a peak only on Windows, so it adds nothing here.)"""
    return _vmhwm_mib()


def _vmhwm_mib() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    # ru_maxrss is kB on Linux, bytes on macOS.
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024


def current_rss_mib() -> float:
    """The resident set now (``VmRSS``), 0.0 where /proc is missing."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0
