"""Threads over models of the CPU kernel (``fpe_train.engine.cpu``): one count per process, kept here.

The kernel has no parallel loops of its own: ``cpu.run_batch`` runs its shares of models on a thread pool of
:func:`kernel_threads` threads. The count used to live in numba (``numba.set_num_threads``); kept here, setting
it (the executors' ``cap_threads``) imports nothing, so a sweep on the prebuilt kernel (``fpe_train.engine.aot``)
runs without numba in the process. The default is numba's: ``NUMBA_NUM_THREADS`` where set, else the CPUs this
process may run on.

>>> set_kernel_threads(3); kernel_threads()
3
>>> set_kernel_threads(None); kernel_threads() == default_threads()
True
"""

from __future__ import annotations

import os

_count: int | None = None  # None: the default


def default_threads() -> int:
    """``NUMBA_NUM_THREADS`` where set, else the CPUs this process may run on (numba's own default); at least 1."""
    env = os.environ.get("NUMBA_NUM_THREADS", "").strip()
    if env.isdigit():
        return max(1, int(env))
    mine = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else range(os.cpu_count() or 1)
    return max(1, len(mine))


def kernel_threads() -> int:
    """Threads over models for the next batch on the kernel."""
    return _count if _count is not None else default_threads()


def set_kernel_threads(n: int | None) -> None:
    """Set the count (at least 1; None: back to the default)."""
    global _count
    _count = None if n is None else max(1, int(n))
