"""The benchmarks' BLAS report: reading the CPU's AVX-512 flags."""

import blas_kernels

ZEN5 = """processor\t: 0
vendor_id\t: AuthenticAMD
cpu family\t: 26
flags\t\t: fpu sse2 avx avx2 fma avx512f avx512dq avx512cd avx512bw avx512vl avx512_bf16
"""


def test_avx512_cpu_is_recognised():
    assert blas_kernels.cpu_has_avx512(ZEN5)


def test_cpu_missing_one_avx512_flag_is_not():
    assert not blas_kernels.cpu_has_avx512(ZEN5.replace(" avx512bw", ""))
    assert not blas_kernels.cpu_has_avx512("flags\t: fpu sse2 avx avx2 fma\n")


def test_text_without_flags_line():
    assert not blas_kernels.cpu_has_avx512("processor\t: 0\nvendor_id\t: AuthenticAMD\n")


def test_report_names_the_blas():
    text = blas_kernels.report()
    assert text.startswith("numpy BLAS: ")
    kernel = blas_kernels.openblas_kernel()
    if kernel is not None:
        assert kernel in text
