"""scripts/gpu_check.py, the one command a lent GPU runs, is known to work before a GPU is
there: on the CPU with --small it runs every check it can, prints the one table and exits 0
(a FAIL row would make it exit 1)."""

from __future__ import annotations

from scripts_loader import load_script


def test_gpu_check_runs_on_the_cpu_and_prints_one_table(capsys):
    gpu_check = load_script("gpu_check")
    status = gpu_check.main(["--device", "cpu", "--small"])
    out = capsys.readouterr().out
    print(out)
    assert status == 0
    table = out[out.index("check ") :].splitlines()
    rows = {line.split("  ")[0]: line for line in table[2:]}
    assert any(
        k.startswith("IRv2 irv2_tiny.t7 cpu vs CPU") and "PASS" in v for k, v in rows.items()
    )
    assert any(k.startswith("nngraph gModule") and "PASS" in v for k, v in rows.items())
    for check in ("eval fp32", "eval AMP bf16", "eval AMP fp16", "eval bf16 + channels_last",
                  "eval with JPEG decoding", "train fp32"):  # fmt: skip
        row = next(v for k, v in rows.items() if k.startswith(check))
        assert "SKIP" not in row and "FAIL" not in row, row
    assert "SKIP (CUDA only)" in rows["train AMP fp16 (loss scaling)"]
    assert not any("FAIL" in v for v in rows.values())
