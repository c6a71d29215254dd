"""Which BLAS kernels numpy runs on, for the benchmark scripts' reports.

The matrix form of ``network.py`` and ``network2.py`` spends most of an
epoch in two matrix products per mini-batch, so its speed-up over the
per-example loop depends on the kernels numpy's OpenBLAS uses.  OpenBLAS
picks them for the CPU when numpy is imported, unless the environment
variable ``OPENBLAS_CORETYPE`` names a kernel family (``OPENBLAS_L2_SIZE``
goes with it).  Some machines set both, for the sake of older OpenBLAS
builds; on an AVX-512 CPU, ``OPENBLAS_CORETYPE=Haswell`` holds numpy to its
AVX2 kernels, which on the 2-core AMD machine this project is developed on
makes the mini-batch products 2-3x slower than the AVX-512 ("SkylakeX")
kernels OpenBLAS chooses by itself.  The benchmarks print what is in use,
so their figures can be read for what they are, and say when a setting
holds numpy back.

Only for the benchmark scripts; the network modules never touch the
environment.
"""

from __future__ import annotations

import os
from pathlib import Path

# The flags OpenBLAS's SkylakeX kernels need.
AVX512_FLAGS = ("avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl")
# OpenBLAS kernel families that use AVX-512.
AVX512_KERNELS = ("skylakex", "cooperlake", "sapphirerapids")


def cpu_has_avx512(cpuinfo: str) -> bool:
    """Whether the first processor listed in a /proc/cpuinfo text has every
    AVX-512 flag the SkylakeX kernels need."""
    for line in cpuinfo.splitlines():
        if line.startswith("flags"):
            flags = set(line.partition(":")[2].split())
            return all(flag in flags for flag in AVX512_FLAGS)
    return False


def openblas_kernel() -> str | None:
    """The kernel family numpy's OpenBLAS chose ("Haswell", "SkylakeX",
    ...), or None where that cannot be told (threadpoolctl missing, or a
    BLAS other than OpenBLAS)."""
    try:
        import threadpoolctl
    except ImportError:
        return None
    import numpy  # noqa: F401  (loads numpy's BLAS so that it is listed)
    for library in threadpoolctl.threadpool_info():
        if library.get("internal_api") == "openblas" and "numpy" in library.get(
                "filepath", ""):
            return library.get("architecture")
    return None


def report() -> str:
    """One or two lines on the BLAS kernels in use, with a hint when a
    setting holds OpenBLAS to kernels slower than the CPU could run."""
    kernel = openblas_kernel()
    override = os.environ.get("OPENBLAS_CORETYPE")
    text = (f"numpy BLAS: OpenBLAS, {kernel} kernels"
            if kernel else "numpy BLAS: not OpenBLAS, or threadpoolctl missing")
    if not override:
        return text
    text += f" (set by OPENBLAS_CORETYPE={override})"
    if not kernel or kernel.lower() in AVX512_KERNELS:
        return text
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
    except OSError:
        return text
    if cpu_has_avx512(cpuinfo):
        text += ("\n  this CPU has AVX-512, which those kernels leave unused: "
                 "to time numpy's own choice, run the command with "
                 "OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset, e.g. "
                 "env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python ...")
    return text
