"""irv2-classify: the top-k classes of image files, with probabilities and names, as
fb.resnet.torch's pretrained/classify.lua prints them (plus each class's WNID).

\b
    irv2-classify photo.jpg more/*.jpg --weights irv2.pt           # a converted IRv2
    irv2-classify photo.jpg --weights resnet-50.t7 --topk 10       # a generic fb.resnet.torch model
    irv2-classify *.jpg --weights irv2.pt --json preds.json --csv preds.csv   # '-' = stdout
    irv2-classify photos/ --weights irv2.pt                        # every image under a folder

The preprocessing is the model's own (--preset): irv2 (Scale 328, CenterCrop 299) for the
Inception-ResNet-v2, fbresnet (Scale 256, CenterCrop 224, classify.lua's) for a generic model.
An unreadable image gets one line on stderr, the others are still classified, and the exit
status is then 1.

torch is imported only when classifying, so --help answers at once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from converter.command import command, quiet_option
from converter.errors import exit_on_user_error
from evaluate.data.options import PRETRAINED_WEIGHTS, model_input_options
from evaluate.runtime.devices import device_options


@command(help=__doc__.rsplit("\n\n", 1)[0])
@click.argument("files", nargs=-1, required=True)  # image files and folders of them
@model_input_options(PRETRAINED_WEIGHTS, preset=True)
@click.option(
    "--topk", type=click.IntRange(min=1), default=5, help="Classes per image  [default: 5]"
)
@click.option(
    "--json", "json_path", metavar="FILE", help="Write the results as JSON ('-': stdout)."
)
@click.option("--csv", "csv_path", metavar="FILE", help="Write the results as CSV ('-': stdout).")
@click.option("--force", is_flag=True, help="Overwrite existing --json/--csv files.")
@device_options
@quiet_option("No line on stderr about the model and preset.")
@exit_on_user_error
def main(
    files: tuple[str, ...],
    weights: Path,
    json_path: str | None,
    csv_path: str | None,
    force: bool,
    quiet: bool,
    **options: Any,
) -> None:
    outputs = {"--json": json_path, "--csv": csv_path}
    _check_outputs(outputs, force)
    results, preprocess = _classify(
        files, weights, quiet, json_path=json_path, csv_path=csv_path, **options
    )
    for option, path in outputs.items():
        if path is not None:
            _write(path, _render(option, results, preprocess), force)
    bad = [r for r in results if r.error is not None]
    if bad:
        click.echo(f"error: {len(bad)} of {len(results)} image(s) could not be read", err=True)
        raise SystemExit(1)


def _check_outputs(outputs: dict[str, str | None], force: bool) -> None:
    """Refuse unwritable outputs before the model is loaded."""
    from converter.outputs.declared import Output, check_outputs

    formats = {"--json": ("json",), "--csv": ("csv",)}
    check_outputs([Output(o, path, formats[o], stdout=True) for o, path in outputs.items()], force)


def _classify(
    files: tuple[str, ...],
    weights: Path,
    quiet: bool,
    topk: int,
    preset: str | None,
    preprocess: str,
    batch_size: int,
    workers: int | None,
    device: str,
    amp: bool,
    amp_dtype: str,
    channels_last: bool,
    json_path: str | None = None,
    csv_path: str | None = None,
) -> tuple[list[Any], dict[str, Any]]:
    """Every file's result, printed as classify.lua does as they come (unless stdout holds the
    JSON or CSV); unreadable files are named on stderr."""
    from evaluate.data.imagelist import expand_folders
    from evaluate.pretrained import formats, presets
    from evaluate.pretrained.classify import classify
    from evaluate.pretrained.model import load_pretrained
    from evaluate.runtime.devices import resolve_amp_dtype, resolve_device

    files, notes = expand_folders(files)  # a folder stands for the images under it
    torch_device = resolve_device(device)
    dtype = resolve_amp_dtype(amp, amp_dtype, torch_device)
    model = load_pretrained(weights)
    chosen = presets.get(preset) if preset else model.preset
    model.check_preset(chosen)
    if not quiet:
        click.echo(f"model: {model.description}", err=True)
        click.echo(f"preprocessing: {chosen.describe(preprocess)}", err=True)
    for note in notes:  # said even under -q: nothing is left out silently
        click.echo(f"note: {note}", err=True)
    print_lines = "-" not in (json_path, csv_path)
    results = []
    for result in classify(
        model, files, chosen, mode=preprocess, topk=topk, batch_size=batch_size,
        workers=workers, device=torch_device, channels_last=channels_last, amp_dtype=dtype,
    ):  # fmt: skip
        results.append(result)
        if result.error is not None:
            click.echo(f"error: {result.error}", err=True)
        elif print_lines:
            click.echo("\n".join(formats.lua_lines(result)))
    record = chosen.record(preprocess) | {"description": chosen.describe(preprocess)}
    return results, record


def _render(option: str, results: list[Any], preprocess: dict[str, Any]) -> str:
    from evaluate.pretrained import formats

    if option == "--json":
        return formats.json_text(results, preprocess)
    return formats.csv_text(results, preprocess["description"])


def _write(path: str, text: str, force: bool) -> None:
    if path == "-":
        click.echo(text, nl=False)
        return
    from converter.outputs.atomic import atomic_path

    with atomic_path(Path(path), force) as tmp:
        tmp.write_text(text)


if __name__ == "__main__":  # python -m evaluate.pretrained.classify_cli
    main()
