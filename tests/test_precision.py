"""Which dtype policy each ``mixed_precision`` choice gives on each kind of hardware."""

from __future__ import annotations

import pytest

from kaggle_kit.training.precision import cpu_supports_bfloat16, policy_name


@pytest.mark.parametrize(
    "choice, gpus, cpu_bf16, expected",
    [
        ("off", 1, True, "float32"),
        ("float16", 0, False, "mixed_float16"),
        ("bfloat16", 0, False, "mixed_bfloat16"),
        ("on", 2, True, "mixed_float16"),
        ("on", 0, False, "mixed_bfloat16"),
        ("auto", 1, False, "mixed_float16"),
        ("auto", 0, False, "float32"),
    ],
)
def test_policy_for_each_choice_and_hardware(choice, gpus, cpu_bf16, expected):
    assert policy_name(choice, gpus=gpus, cpu_bf16=cpu_bf16) == expected


def test_bfloat16_support_is_read_from_the_cpu_flags(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx512f avx512_bf16 amx_tile\n\nprocessor\t: 1\n")
    assert cpu_supports_bfloat16(cpuinfo)
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f\n")
    assert not cpu_supports_bfloat16(cpuinfo)
    assert not cpu_supports_bfloat16(tmp_path / "missing")  # no /proc (macOS, Windows): assume not
