"""The CPU's peak multiply-adds per second, worked out from /proc/cpuinfo texts made here."""
from __future__ import annotations

import pytest

from stylecam.backends import cpu


def cpuinfo(model: str, flags: str, vendor: str = "GenuineIntel", family: int = 6, logical: int = 2,
            siblings: int | None = None, cores: int | None = None, mhz: float = 2445.404) -> str:
    block = (f"vendor_id\t: {vendor}\ncpu family\t: {family}\nmodel name\t: {model}\ncpu MHz\t\t: {mhz}\n"
             f"siblings\t: {siblings or logical}\ncpu cores\t: {cores or logical}\nflags\t\t: {flags}\n\n")
    return "".join(f"processor\t: {i}\n" + block for i in range(logical))


AVX2 = "fpu sse sse2 avx fma avx2 f16c"
ZEN3 = cpuinfo("AMD EPYC", AVX2, vendor="AuthenticAMD", family=25)                     # this project's CI kind
XEON = cpuinfo("Intel(R) Xeon(R) CPU @ 2.60GHz", AVX2 + " avx512f avx512bw avx512_vnni", mhz=2600.0)
ZEN4 = cpuinfo("AMD EPYC 9R14", AVX2 + " avx512f avx512_vnni avx512_bf16 avx_vnni", vendor="AuthenticAMD", family=25)
SPR = cpuinfo("Intel(R) Xeon(R) Platinum 8488C", AVX2 + " avx512f avx512_vnni avx512_bf16 amx_bf16 amx_int8 amx_tile",
              logical=4, siblings=4, cores=2, mhz=2400.0)


def test_avx2_without_vnni_two_cores():
    info = cpu.parse_cpuinfo(ZEN3)
    p = cpu.peak(info)
    assert (info.cores, info.vendor, info.family) == (2, "AuthenticAMD", 25)
    assert info.ghz == pytest.approx(2.445404) and "cpu MHz" in info.ghz_source
    assert (p.vector_bits, p.fma_units) == (256, 2)
    assert p.fp32 == pytest.approx(2 * 2.445404 * 16, abs=0.1)             # 2 FMA × 8 lanes per cycle
    assert p.int8 == pytest.approx(2 * p.fp32, abs=0.2) and p.int8_via.startswith("no VNNI")
    assert p.bf16 is None and cpu.kind(info.flags) == "avx2"


def test_xeon_with_avx512_vnni_takes_the_clock_from_its_name():
    info = cpu.parse_cpuinfo(XEON)
    p = cpu.peak(info)
    assert info.ghz == 2.6 and info.ghz_source == "model name"
    assert p.vector_bits == 512 and p.fp32 == pytest.approx(2 * 2.6 * 32)           # 166.4 G
    assert p.int8 == pytest.approx(4 * p.fp32) and p.int8_via == "VNNI"
    assert cpu.kind(info.flags) == "avx512-vnni"


def test_zen4_runs_avx512_at_256_bits_and_has_bf16():
    p = cpu.peak(cpu.parse_cpuinfo(ZEN4))
    assert p.vector_bits == 256 and p.fp32 == pytest.approx(2 * 2.445404 * 16, abs=0.1)
    assert p.bf16 == pytest.approx(2 * p.fp32, abs=0.2) and p.int8 == pytest.approx(4 * p.fp32, abs=0.3)


def test_amx_and_hyperthreads_count_physical_cores():
    info = cpu.parse_cpuinfo(SPR)
    p = cpu.peak(info)
    assert info.cores == 2                                  # 4 logical CPUs, 2 per core
    assert p.int8 == pytest.approx(2 * 2.4 * 1024) and p.bf16 == pytest.approx(2 * 2.4 * 512)
    assert p.int8_via == "AMX" and cpu.kind(info.flags) == "amx"


def test_cpufreq_maximum_wins_and_affinity_limits_cores():
    info = cpu.parse_cpuinfo(SPR, usable_cpus=2, max_khz=3_800_000)
    assert (info.ghz, info.ghz_source, info.cores) == (3.8, "cpufreq maximum", 1)


def test_unknown_clock_gives_no_peak_rather_than_a_guess():
    text = cpuinfo("Some CPU", AVX2).replace("cpu MHz\t\t: 2445.404\n", "")
    p = cpu.peak(cpu.parse_cpuinfo(text))
    assert (p.fp32, p.int8) == (None, None)
    assert cpu.describe(cpu.parse_cpuinfo(text), p)["ghz_source"] == "unknown"


def test_this_machine_reads():
    info = cpu.this_cpu()
    assert info.cores >= 1 and cpu.describe(info, cpu.peak(info))["kind"] in (
        "amx", "avx512-vnni", "avx512", "avx2-vnni", "avx2", "older")
