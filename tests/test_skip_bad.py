"""--skip-bad is one option with one report in irv2-eval, irv2-features and irv2-train: without
it the first unreadable image stops the run in one line that names it and points to the option
(and nothing is written); with it each unreadable image is named and the run goes on."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
from cli_invoke import invoke, invoke_streams
from PIL import Image

from evaluate.cli import main as eval_main
from evaluate.pretrained.features_cli import main as features_main
from evaluate.train.cli import main as train_main

HINT = "(or pass --skip-bad to leave unreadable images out)"


def image(path: Path, seed: int, size: int = 40) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)
    return path


def broken(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 20)  # a PNG signature, then nothing
    return path


@pytest.mark.parametrize("command", [eval_main, features_main, train_main])
def test_the_same_option_everywhere(command):
    code, text = invoke(command, "--help")
    assert code == 0 and "--skip-bad" in text and "instead of stopping at the first" in text


def test_features_leave_the_row_nan_and_list_the_image(tmp_path, bundled):
    data = tmp_path / "flat"
    image(data / "a.png", 0)
    bad = broken(data / "b.png")
    image(data / "c.png", 1)
    out = tmp_path / "f.h5"
    common = ["--data", data, "--weights", bundled / "irv2_tiny.t7", "-o", out, "--workers", 0]
    code, _, err = invoke_streams(features_main, *common, "--batch-size", 2, "-q")
    print(err)
    assert code == 2 and HINT in err and str(bad) in err and len(err.splitlines()) == 1
    assert not out.exists()

    code, _, err = invoke_streams(features_main, *common, "--batch-size", 2, "--skip-bad", "-q")
    print(err)
    assert code == 0, err
    assert err.splitlines()[0] == "skipped 1 unreadable image(s); their feature rows are NaN:"
    assert str(bad) in err.splitlines()[1]
    with h5py.File(out) as f:
        features = f["features"][()]
        assert [p.decode() for p in f["skipped_paths"]] == [str(bad)]
        assert f.attrs["n_skipped"] == 1
    assert np.isnan(features[1]).all() and np.isfinite(features[[0, 2]]).all()


def small_loop(tmp_path: Path, paths: list[Path], skip_bad: bool):
    """TrainLoop over `paths` (labels 0, 1, 0, ...) with a two-layer network on 8x8 inputs: the
    loop's handling of unreadable images, without the cost of an Inception-ResNet-v2 step."""
    import torch

    from evaluate.data.imagedecode import decode_image
    from evaluate.runtime.distributed import DistInfo
    from evaluate.train.loader import SeededSamples, make_loader
    from evaluate.train.log import TrainLog
    from evaluate.train.loop import LoopConfig, LoopState, TrainLoop
    from evaluate.train.trainer import TrainConfig, Trainer

    def transform(path: Path, generator: torch.Generator) -> torch.Tensor:
        pixels = torch.from_numpy(decode_image(path)[:8, :8]).permute(2, 0, 1)
        return pixels.float() / 255

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 8 * 8, 2))
    labels = [i % 2 for i in range(len(paths))]
    cfg = LoopConfig(epochs=1, batch_size=len(paths), workers=0, val_every=0)
    loader = make_loader(SeededSamples(paths, labels, transform, 0), cfg, DistInfo(), pin=False)
    trainer = Trainer(net, TrainConfig(iters_per_epoch=1))
    log = TrainLog(tmp_path, enabled=True, tty=False)
    loop = TrainLoop(trainer, loader, cfg, LoopState(), DistInfo(), log, None, skip_bad=skip_bad)
    return loop, log


def test_training_steps_on_the_readable_images_of_a_batch(tmp_path):
    from converter.errors import UserError

    paths = [image(tmp_path / "a.png", 0), broken(tmp_path / "b.png"), image(tmp_path / "c.png", 1)]
    loop, log = small_loop(tmp_path, paths, skip_bad=False)
    with pytest.raises(UserError) as e:
        loop.run()
    print(e.value)
    assert HINT in str(e.value) and "b.png" in str(e.value) and loop.trainer.iteration == 0

    loop, log = small_loop(tmp_path, paths, skip_bad=True)
    loop.run()
    log.close()
    text = (tmp_path / "train.log").read_text()
    print(text)
    assert loop.trainer.iteration == 1 and loop.trainer.last_output.shape == (2, 2)
    assert f"=> --skip-bad: left out cannot read image {paths[1]}" in text
    assert "skipped 1 unreadable image(s); this run trained without them:" in text


def test_irv2_train_takes_the_option_and_refuses_a_batch_with_nothing_readable(tmp_path, bundled):
    data = tmp_path / "data"
    bad = [broken(data / "train" / c / "0.png") for c in ("cat", "dog")]
    common = [
        "--data", data, "--weights", bundled / "irv2_tiny.t7", "--num-classes", 2,
        "--reset-classifier", "--device", "cpu", "--workers", 0, "--batch-size", 2,
        "--epochs", 1, "--no-val",
    ]  # fmt: skip
    code, _, err = invoke_streams(train_main, *common, "--save", tmp_path / "stopped")
    print(err)
    assert code == 2 and HINT in err and ("0.png" in err)

    run = tmp_path / "run"
    code, _, err = invoke_streams(train_main, *common, "--save", run, "--skip-bad")
    print(err)
    assert code == 2 and "every image of batch 1 of epoch 1 is unreadable" in err
    log = (run / "train.log").read_text()
    assert all(f"=> --skip-bad: left out cannot read image {p}" in log for p in bad)
