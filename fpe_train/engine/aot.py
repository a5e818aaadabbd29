"""The CPU kernel compiled ahead of time: ``fpe_train.engine.kernel``'s three entry points in one extension module.

Why: a short sweep is mostly process start. numba's first use in a process (importing numba, its target's
registries of implementations, loading the cached kernels) took about 0.4 s of a 1 s nine-config sweep. numba's
``pycc`` compiles the same Python functions through the same LLVM into an ordinary extension module with numba's
runtime (its allocator, its BLAS bridge) compiled in: importing it costs a few milliseconds and no numba.

What: ``_kernel_aot`` (beside this file) exports ``permutations``, ``train_epoch`` and ``correct`` with the
signatures of :data:`SIGNATURES` (those ``cpu.py`` calls them with), compiled for this machine's CPU with the
features the JIT uses (:func:`build`), so the machine code, and so every number, is the JIT's. A stamp beside it
(``_kernel_aot.json``) says what it was built from: the kernel's source (``kernel.py``, ``keys.py``, this file),
the CPU (its model and flags in ``/proc/cpuinfo``), numba and llvmlite (the JIT it must equal), numpy and the
interpreter. :func:`load` returns the module only where the stamp matches here and now; anything else (never
built, source edited since, another CPU or numba, no ``/proc/cpuinfo``, or ``FPE_KERNEL_JIT=1`` in the
environment) returns None, and ``cpu.py`` uses numba's JIT (``kernel.py``, cached per machine): slower to start,
the same numbers (``tests/fpe_train/engine/test_aot.py`` compares the two).

The extension's functions hold the GIL, so ``cpu.py`` uses them on one thread only; threads over models go
through numba's dispatch (``nogil``). Built by ``python -m fpe_train.engine.aot`` (``scripts/setup.sh`` runs it;
about 10 s; needs a C compiler) into the package folder, like numba's own cache. ``numba.pycc`` is pending
deprecation in numba (since 0.57, still shipped in 0.68): where a numba lacks it, the build fails, nothing is
stamped, and the JIT serves.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import shutil
import sys
import sysconfig
import tempfile
import warnings
from importlib import metadata
from types import ModuleType

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
NAME = "_kernel_aot"
STAMP = os.path.join(HERE, NAME + ".json")
_I, _F, _D = "int64[::1]", "float32[::1]", "float64[::1]"
SIGNATURES = {  # as cpu.py calls them: C-contiguous arrays, Python ints as int64
    "permutations": "void(uint64[::1], int64, int64[:, ::1])",
    "train_epoch": f"void({_I}, {_I}, {_F}, {_F}, {_F}, {_F}, {_I}, {_I}, {_I}, {_I}, {_I}, {_I}, int64, "
    f"{_F}, {_I}, {_F}, int64, int64[:, ::1], int64, {_D}, {_D}, {_D}, {_D})",
    "correct": f"void({_I}, {_F}, {_I}, {_I}, {_I}, {_I}, int64, {_F}, {_I}, {_F}, int64, {_I})",
}
_SOURCES = ("kernel.py", "keys.py", "aot.py")
JIT_ENV = "FPE_KERNEL_JIT"  # =1: numba's JIT even where the extension matches (a comparison, a suspicion)
_loaded: dict[str, ModuleType | None] = {}


def _cpu() -> str | None:
    """This CPU's model name and flags (``/proc/cpuinfo``), hashed; None where there is no ``/proc/cpuinfo``."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            lines = f.read().split("\n\n")[0].splitlines()
    except OSError:
        return None
    keep = [line for line in lines if line.split(":")[0].strip() in ("vendor_id", "model name", "flags", "Features")]
    return hashlib.sha256("\n".join(keep).encode()).hexdigest()[:16]


def stamp() -> dict | None:
    """What a usable extension was built from, here and now (None: no CPU to check against, or no numba)."""
    cpu = _cpu()
    if cpu is None:
        return None
    h = hashlib.sha256()
    for name in _SOURCES:
        with open(os.path.join(HERE, name), "rb") as f:
            h.update(f.read())
    try:  # the compiler of the JIT it must match (its version read without importing it)
        numba = f"{metadata.version('numba')} {metadata.version('llvmlite')}"
    except metadata.PackageNotFoundError:
        return None
    return {
        "source": h.hexdigest()[:16],
        "cpu": cpu,
        "numba": numba,
        "numpy": np.__version__,
        "python": sys.implementation.cache_tag,
    }


def load() -> ModuleType | None:
    """The built extension if its stamp matches this source, CPU, numba, numpy and interpreter (and
    ``FPE_KERNEL_JIT`` is not 1); else None."""
    if "module" not in _loaded:
        _loaded["module"] = _load()
    return _loaded["module"]


def _load() -> ModuleType | None:
    if os.environ.get(JIT_ENV, "") == "1":
        return None
    try:
        with open(STAMP, encoding="utf-8") as f:
            built = json.load(f)
    except (OSError, ValueError):
        return None
    if built != stamp():
        return None
    try:
        return importlib.import_module(f"fpe_train.engine.{NAME}")
    except ImportError:
        return None


def build() -> str:
    """Compile the extension into the package folder (then its stamp); returns the extension's path."""
    from numba.core import codegen  # keeps numba out of the processes that only load the extension

    with warnings.catch_warnings():  # pending deprecation (see above)
        warnings.simplefilter("ignore")
        from numba.pycc import CC

    from fpe_train.engine import kernel  # keeps numba out (as above)

    now = stamp()
    if now is None:
        raise RuntimeError("no /proc/cpuinfo: the extension could not be matched to a CPU; the JIT serves")
    # the JIT's features (LLVM's host features), not the CPU model's defaults, so that the code is the JIT's
    codegen.AOTCPUCodegen._customize_tm_features = codegen.CPUCodegen._get_host_cpu_features
    with tempfile.TemporaryDirectory() as tmp:
        cc = CC(NAME)
        cc.output_dir, cc.target_cpu, cc.verbose = tmp, "host", False
        for fn, sig in SIGNATURES.items():
            cc.export(fn, sig)(getattr(kernel, fn).py_func)
        cc.compile()
        target = os.path.join(HERE, NAME + sysconfig.get_config_var("EXT_SUFFIX"))
        if os.path.exists(STAMP):
            os.unlink(STAMP)  # no stamp while the file changes: a process starting now uses the JIT
        shutil.move(os.path.join(tmp, os.path.basename(cc.output_file)), target + ".tmp")
        os.replace(target + ".tmp", target)
    with open(STAMP + ".tmp", "w", encoding="utf-8") as f:
        json.dump(now, f)
    os.replace(STAMP + ".tmp", STAMP)
    _loaded.clear()
    return target


if __name__ == "__main__":
    print(build())
