"""The Keras dtype policy a run trains under: mixed precision where the hardware runs it natively.

``mixed_precision`` in the config: ``off`` (float32), ``float16``, ``bfloat16``,
``on`` (the mixed policy the hardware suits: float16 on a GPU, bfloat16 on a CPU)
or ``auto`` (``on`` where it is native, float32 elsewhere).

>>> policy_name("auto", gpus=1, cpu_bf16=False)
'mixed_float16'
"""

from __future__ import annotations

from pathlib import Path

# CPU flags (Linux /proc/cpuinfo) of native bfloat16 arithmetic: AVX512-BF16 dot products, AMX tiles.
CPU_BF16_FLAGS = ("avx512_bf16", "amx_bf16")


def cpu_supports_bfloat16(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """True when the CPU reports native bfloat16 instructions (False when it cannot be told)."""
    try:
        text = cpuinfo.read_text(errors="ignore")
    except OSError:
        return False
    flags = {flag for line in text.splitlines() if line.startswith("flags") for flag in line.split(":", 1)[-1].split()}
    return any(flag in flags for flag in CPU_BF16_FLAGS)


def policy_name(choice: str, *, gpus: int, cpu_bf16: bool) -> str:
    """The Keras policy for ``choice`` on this hardware (``gpus`` visible GPUs, native CPU bfloat16 or not)."""
    if choice == "off":
        return "float32"
    if choice == "float16":
        return "mixed_float16"
    if choice == "bfloat16":
        return "mixed_bfloat16"
    if choice == "on":
        return "mixed_float16" if gpus else "mixed_bfloat16"
    return "mixed_float16" if gpus else "float32"
