"""What this CPU can do at most, from /proc/cpuinfo: pure functions of its text, so that any
machine's figures can be worked out (and tested) from its flags.

Peak multiply-adds per second = physical cores × frequency × multiply-adds per cycle per core:

- fp32: FMA units × vector lanes. Two FMA units per core (every x86 server core since Haswell and
  Zen 2); AVX-512 counts 16 lanes where the core executes it at full width, 8 on AMD before Zen 5
  (Zen 4 splits each 512-bit instruction in two 256-bit halves).
- INT8: VNNI (vpdpbusd) does 4 u8×s8 products per 32-bit lane where an FMA does one: 4× fp32.
  Without VNNI the same takes vpmaddubsw + vpmaddwd on the same ports: 2× fp32. AMX (amx_int8):
  1,024 per cycle per core.
- BF16: avx512_bf16 (vdpbf16ps, 2 per lane) 2× fp32; AMX (amx_bf16) 512 per cycle per core.

The frequency is the highest the system states: cpufreq's maximum, else the "@ 2.60GHz" in the
model name, else "cpu MHz" (under a hypervisor often the nominal clock, below any boost): a peak
is an estimate, said with its inputs.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

CPUINFO = Path("/proc/cpuinfo")
CPUFREQ_MAX = Path("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq")     # kHz
FMA_UNITS = 2


@dataclass(frozen=True, kw_only=True)
class CpuInfo:
    model: str
    vendor: str                    # "AuthenticAMD", "GenuineIntel", ...
    family: int
    cores: int                     # physical cores this process may use
    ghz: float | None
    ghz_source: str
    flags: frozenset[str]


@dataclass(frozen=True, kw_only=True)
class Peak:
    fp32: float | None             # G multiply-adds/s
    int8: float | None
    bf16: float | None
    vector_bits: int
    fma_units: int
    int8_via: str                  # "AMX", "VNNI", "no VNNI (2× fp32)"

    def for_precision(self, precision: str) -> float | None:
        """The peak a backend's arithmetic runs against (fp16 on a CPU: fp32's, what it computes in)."""
        return {"int8": self.int8, "bf16": self.bf16}.get(precision, self.fp32)


def parse_cpuinfo(text: str, usable_cpus: int | None = None, max_khz: int | None = None) -> CpuInfo:
    """/proc/cpuinfo's text (and the logical CPUs this process may use, cpufreq's maximum) -> CpuInfo."""
    first = {}
    logical = 0
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "processor":
            logical += 1
        if key and key not in first:
            first[key] = value.strip()
    model = first.get("model name", "unknown CPU")
    siblings, per_socket = int(first.get("siblings", 0) or 0), int(first.get("cpu cores", 0) or 0)
    threads_per_core = max(1, siblings // per_socket) if siblings and per_socket else 1
    cores = max(1, (usable_cpus or logical or 1) // threads_per_core)
    ghz, source = _frequency(model, first.get("cpu MHz"), max_khz)
    return CpuInfo(model=model, vendor=first.get("vendor_id", "?"), family=int(first.get("cpu family", 0) or 0),
                   cores=cores, ghz=ghz, ghz_source=source, flags=frozenset(first.get("flags", "").split()))


def _frequency(model: str, mhz: str | None, max_khz: int | None) -> tuple[float | None, str]:
    if max_khz:
        return max_khz / 1e6, "cpufreq maximum"
    stated = re.search(r"@\s*([\d.]+)\s*GHz", model)
    if stated:
        return float(stated.group(1)), "model name"
    try:
        return float(mhz) / 1000, "cpuinfo 'cpu MHz' (boost may be higher)"
    except (TypeError, ValueError):
        return None, "unknown"


def peak(cpu: CpuInfo) -> Peak:
    f = cpu.flags
    full_width_512 = "avx512f" in f and not (cpu.vendor == "AuthenticAMD" and cpu.family < 26)
    bits = 512 if full_width_512 else 256 if "avx2" in f or "avx" in f else 128
    fma = FMA_UNITS if "fma" in f or "avx512f" in f else 1
    fp32_per_cycle = fma * bits // 32
    vnni = "avx512_vnni" in f or "avx_vnni" in f
    if "amx_int8" in f:
        int8_per_cycle, via = 1024, "AMX"
    else:
        int8_per_cycle, via = fp32_per_cycle * (4 if vnni else 2), "VNNI" if vnni else "no VNNI (2× fp32)"
    bf16_per_cycle = 512 if "amx_bf16" in f else 2 * fp32_per_cycle if "avx512_bf16" in f else None

    def g(per_cycle):
        return round(cpu.cores * cpu.ghz * per_cycle, 1) if per_cycle and cpu.ghz else None
    return Peak(fp32=g(fp32_per_cycle), int8=g(int8_per_cycle), bf16=g(bf16_per_cycle), vector_bits=bits,
                fma_units=fma, int8_via=via)


def kind(flags: frozenset[str]) -> str:
    """The kind of CPU that decides which backend is fastest: its widest arithmetic."""
    if "amx_int8" in flags:
        return "amx"
    if "avx512f" in flags:
        return "avx512-vnni" if "avx512_vnni" in flags else "avx512"
    if "avx2" in flags:
        return "avx2-vnni" if "avx_vnni" in flags else "avx2"
    return "older"


def this_cpu() -> CpuInfo:
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    try:
        text = CPUINFO.read_text()
    except OSError:                                   # not Linux: what the platform says
        import platform
        return CpuInfo(model=platform.processor() or platform.machine(), vendor="?", family=0, cores=usable or 1,
                       ghz=None, ghz_source="unknown", flags=frozenset())
    try:
        max_khz = int(CPUFREQ_MAX.read_text())
    except (OSError, ValueError):
        max_khz = None
    return parse_cpuinfo(text, usable, max_khz)


def describe(cpu: CpuInfo, p: Peak) -> dict:
    """For the bench's JSON: the peak and every input it was worked out from."""
    features = sorted(cpu.flags & {"avx2", "fma", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16",
                                   "amx_int8", "amx_bf16"})
    return {"cpu": cpu.model, "kind": kind(cpu.flags), "physical_cores": cpu.cores, "ghz": cpu.ghz,
            "ghz_source": cpu.ghz_source, "vector_bits": p.vector_bits, "fma_units": p.fma_units,
            "features": features, "int8_via": p.int8_via,
            "peak_g_macs_per_s": {"fp32": p.fp32, "int8": p.int8, "bf16": p.bf16}}
