"""Which device and which autocast dtype an evaluation (or training) runs with.

`--device auto|cpu|cuda|cuda:N` and `--amp --amp-dtype bf16|fp16` are resolved here once, with a
clear message for every impossible request, so the loops never meet an unusable device.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from converter.errors import UserError

if TYPE_CHECKING:
    import torch

AMP_DTYPES = ("bf16", "fp16")


def device_options(command: Callable) -> Callable:
    """--device, --amp, --amp-dtype and --channels-last, spelled the same for every command."""
    import click

    options = [
        click.option(
            "--device",
            default="auto",
            show_default=True,
            help="auto (CUDA when present), cpu, cuda or cuda:N.",
        ),
        click.option(
            "--amp",
            is_flag=True,
            help="Mixed precision (autocast): faster on CUDA (and on CPUs with bf16 units), "
            "slightly off float32; a CPU uses bf16.",
        ),
        click.option(
            "--amp-dtype",
            type=click.Choice(AMP_DTYPES),
            default="bf16",
            show_default=True,
            help="Autocast dtype; fp16 (CUDA only) adds loss scaling in training.",
        ),
        click.option(
            "--channels-last",
            is_flag=True,
            help="channels-last memory format: faster convolutions on CUDA; accepted on CPU "
            "too (same results, rarely faster there).",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def resolve_device(spec: str, local_rank: int | None = None) -> torch.device:
    """The torch.device for `spec`; under torchrun (`local_rank` given) CUDA means cuda:LOCAL_RANK.

    Each torchrun process must own one GPU, so a pinned `cuda:N` is refused there: eight ranks on
    one card would run, slowly, and look like a working scale-out.
    """
    import torch

    spec = spec.strip().lower()
    if spec == "cpu":
        return torch.device("cpu")
    if spec == "auto":
        if not torch.cuda.is_available():
            return torch.device("cpu")
        spec = "cuda"
    if spec != "cuda" and not spec.startswith("cuda:"):
        raise UserError(f"--device {spec!r}: expected auto, cpu, cuda or cuda:N")
    if not torch.cuda.is_available():
        raise UserError(f"--device {spec}: no CUDA device is available here; use --device cpu")
    count = torch.cuda.device_count()
    if spec == "cuda":
        index = local_rank or 0
        if index >= count:
            raise UserError(
                f"local rank {index} needs cuda:{index} but only {count} CUDA device(s) exist; "
                "start at most that many processes per node"
            )
        return torch.device("cuda", index)
    if local_rank is not None:
        raise UserError(
            f"--device {spec} pins one GPU for every torchrun process; use --device cuda or auto "
            "(each process then takes cuda:LOCAL_RANK)"
        )
    try:
        index = int(spec.split(":", 1)[1])
    except ValueError:
        raise UserError(f"--device {spec!r}: N in cuda:N must be an integer") from None
    if not 0 <= index < count:
        raise UserError(f"--device {spec}: only cuda:0..cuda:{count - 1} exist here")
    return torch.device("cuda", index)


def resolve_amp_dtype(amp: bool, dtype_name: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype, or None for full float32 (the default: the authors' numbers are fp32).

    On CPU --amp is bfloat16 autocast (which CPUs with AVX512-BF16/AMX run fast; elsewhere it
    only moves the numbers away from float32); float16 autocast and its loss scaling are
    CUDA's.
    """
    import torch

    if not amp:
        return None
    if dtype_name not in AMP_DTYPES:
        raise UserError(f"--amp-dtype {dtype_name!r}: expected one of {', '.join(AMP_DTYPES)}")
    if device.type != "cuda":
        if dtype_name == "bf16":
            return torch.bfloat16
        raise UserError(
            f"--amp-dtype {dtype_name} needs a CUDA device (running on {device}); on a CPU "
            "--amp uses bf16: leave --amp-dtype out"
        )
    if dtype_name == "bf16":
        if not torch.cuda.is_bf16_supported():
            raise UserError(
                f"{torch.cuda.get_device_name(device)} has no bfloat16 support; "
                "use --amp-dtype fp16"
            )
        return torch.bfloat16
    return torch.float16
