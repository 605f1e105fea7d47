"""irv2-train end to end on a tiny synthetic dataset: kill-and-resume, torchrun, bad input.

The network is the width/8 Torch7 fixture (tests/data/irv2_tiny.t7) with a 2-class classifier
and Dropout 0; images are 299x299 (IRv2's 8x8 average pool needs them). Runs use --workers 0
and one thread per process, so a few steps cost seconds.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from evaluate.logs.runs import Run
from evaluate.train.cli import main

REPO = Path(__file__).resolve().parent.parent
ENV = {
    **os.environ,
    "OMP_NUM_THREADS": "1",
    "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    """train/: 2 classes x 4 images, val/: 2 classes x 1 image, all 299x299 noise JPEGs."""
    root = tmp_path_factory.mktemp("data")
    rng = np.random.default_rng(0)
    for split, per_class in (("train", 4), ("val", 1)):
        for c, name in enumerate(("n00000001", "n00000002")):
            (root / split / name).mkdir(parents=True)
            for i in range(per_class):
                pixels = rng.integers(0, 256, (299, 299, 3), dtype=np.uint8) // (c + 1)
                Image.fromarray(pixels).save(root / split / name / f"img{i}.JPEG", quality=90)
    return root


@pytest.fixture(scope="module")
def weights(bundled, tmp_path_factory) -> Path:
    """The tiny fixture with a seeded 2-class classifier and Dropout 0 (identical on every
    rank and in every process), saved in t7convert's .pt form."""
    from converter.irv2.convert import convert_checkpoint
    from converter.irv2.model import InceptionResNetV2, IRV2Config
    from converter.outputs.mapped import save

    conversion = convert_checkpoint(bundled / "irv2_tiny.t7")
    torch.manual_seed(0)
    model = conversion.build_model()
    model.reset_classifier(2)
    config = IRV2Config(**{**model.cfg.to_dict(), "dropout": 0.0})
    rebuilt = InceptionResNetV2(config)
    rebuilt.load_state_dict(model.state_dict())
    path = tmp_path_factory.mktemp("w") / "tiny2.pt"
    save(
        rebuilt.state_dict(),
        {"arch": "inception_resnet_v2", "config": config.to_dict()},
        path,
        "pt",
    )
    return path


@pytest.fixture(scope="module")
def augment():
    """Training needs the authors' augmentation (evaluate/data/augment.py, written separately)."""
    return pytest.importorskip(
        "evaluate.data.augment", reason="evaluate/data/augment.py is not there yet"
    )


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "evaluate.train.cli", *args]


def common(dataset: Path, weights: Path) -> list[str]:
    return [
        "--data",
        str(dataset),
        "--weights",
        str(weights),
        "--device",
        "cpu",
        "--workers",
        "0",
        "--batch-size",
        "2",
        "--epochs",
        "2",
        "--no-val",
    ]


def final_state(run: Path) -> dict:
    return torch.load(run / "checkpoint.pt", weights_only=True)


def test_kill_and_resume_gives_the_uninterrupted_parameters(augment, dataset, weights, tmp_path):
    """SIGKILL mid-run, then --resume: the same parameters, momentum and position, bit for bit."""
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    subprocess.run(
        cli(*common(dataset, weights), "--save", str(straight)), env=ENV, check=True, timeout=300
    )
    proc = subprocess.Popen(
        cli(*common(dataset, weights), "--save", str(killed), "--save-every", "1"),
        env=ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.time() + 240
    try:  # kill once a checkpoint after step 3 (inside epoch 1/2 boundary region) is on disk
        while time.time() < deadline:
            log = killed / "train.jsonl"
            steps = log.read_text().count('"type": "train"') if log.exists() else 0
            if steps >= 3 or proc.poll() is not None:
                break
            time.sleep(0.05)
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    interrupted = final_state(killed)["meta"]
    print(f"\nkilled after epoch {interrupted['epoch']} iteration {interrupted['batches_done']}")
    assert (interrupted["epoch"], interrupted["batches_done"]) != (2, 0)  # really mid-run
    resume = cli("--data", str(dataset), "--resume", str(killed), "--device", "cpu")
    subprocess.run(resume, env=ENV, check=True, timeout=300)
    a, b = final_state(straight), final_state(killed)
    assert a["trainer"]["epoch"] == b["trainer"]["epoch"] == 2
    assert a["trainer"]["iteration"] == b["trainer"]["iteration"] == 4
    assert a["trainer"]["eval_counter"] == b["trainer"]["eval_counter"] == 8
    worst = max(
        (a["state_dict"][k].double() - b["state_dict"][k].double()).abs().max().item()
        for k in a["state_dict"]
    )
    print(f"max |param/buffer difference| after resume: {worst:g}")
    for key in a["state_dict"]:
        assert torch.equal(a["state_dict"][key], b["state_dict"][key]), key
    ma, mb = a["trainer"]["optimizer"]["state"], b["trainer"]["optimizer"]["state"]
    assert all(torch.equal(ma[i]["momentum_buffer"], mb[i]["momentum_buffer"]) for i in ma)
    text = (killed / "train.log").read_text()
    assert "=> Resuming epoch #" in text and " | Epoch: [2][4/4]" in text
    _logs_agree_after_resume(straight, killed)


def _logs_agree_after_resume(straight: Path, killed: Path) -> None:
    """The killed run's log repeats the iterations after its last checkpoint; read by the log
    tools it gives the uninterrupted run's per-epoch numbers, which are the trainer's own."""
    from evaluate.logs.runs import Run

    runs = [Run.from_files([d / "train.log"]) for d in (straight, killed)]
    print(f"restarts in the killed run's log: {runs[1].restarts}")
    epochs = [
        json.loads(line)
        for line in (killed / "train.jsonl").read_text().splitlines()
        if '"type": "epoch"' in line
    ]
    assert [r["epoch"] for r in epochs] == runs[1].epochs() == [1, 2]
    for record in epochs:
        e = record["epoch"]
        want, got = runs[0].train_means(e), runs[1].train_means(e)
        print(f"epoch {e}: log mean loss {got['loss']:.5f}, trainer's {record['train_loss']:.5f}")
        for key in ("loss", "top1", "top5"):
            assert got[key] == pytest.approx(want[key], rel=1e-12), (e, key)
        assert abs(got["loss"] - record["train_loss"]) <= 5e-5  # Err is printed to 1e-4
        assert got["top1"] == pytest.approx(record["train_top1"], abs=5e-4)
    assert runs[1].stats.unknown == runs[0].stats.unknown == 0  # "=> " notes are status lines


class GhostBatch(torch.nn.Module):
    """One process computing what 2 DDP ranks compute: rank r holds samples r, r+2, ...
    (DistributedSampler's interleave), each half normalised by its own BN statistics."""

    def __init__(self, net: torch.nn.Module):
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.empty(x.shape[0], self.net.num_classes)
        out[0::2], out[1::2] = self.net(x[0::2]), self.net(x[1::2])
        return out


def test_torchrun_two_processes_match_one(augment, dataset, weights, tmp_path):
    """torchrun --nproc_per_node 2 (gloo) == one process with the same global batch."""

    from converter import load_converted
    from evaluate.data.imagelist import class_folders
    from evaluate.runtime.distributed import DistInfo
    from evaluate.train.loader import SeededSamples, make_loader
    from evaluate.train.loop import LoopConfig
    from evaluate.train.trainer import TrainConfig, Trainer

    torchrun = shutil.which("torchrun")
    if torchrun is None:
        pytest.skip("torchrun is not on PATH")
    run = tmp_path / "ddp"
    args = [*common(dataset, weights), "--batch-size", "4", "--epochs", "1", "--save", str(run)]
    done = subprocess.run(
        [torchrun, "--standalone", "--nproc_per_node", "2", "-m", "evaluate.train.cli", *args],
        env=ENV,
        capture_output=True,
        timeout=300,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    ddp = final_state(run)
    text = (run / "train.log").read_text()
    assert text.count(" | Epoch: [1][") == 2, text  # rank 0 alone writes the log
    assert sorted(p.name for p in run.iterdir()) == ["checkpoint.pt", "train.jsonl", "train.log"]

    torch.set_num_threads(1)
    model = load_converted(weights).train()
    images = class_folders(dataset / "train")
    cfg = LoopConfig(batch_size=4, workers=0, seed=0)
    samples = SeededSamples(images.paths, images.labels, augment.TrainTransform(), 0)
    loader = make_loader(samples, cfg, DistInfo(), pin=False)
    trainer = Trainer(GhostBatch(model), TrainConfig(iters_per_epoch=len(loader)))
    loader.sampler.set_epoch(1)
    for batch, targets, _ in loader:
        trainer.step(batch, targets)
    worst = 0.0
    for name, p in model.named_parameters():
        err = ((p.detach() - ddp["state_dict"][name]).abs().max() / p.abs().max()).item()
        worst = max(worst, err)
    print(f"\ntorchrun x2 vs one process: worst parameter rel diff {worst:.2e}")
    assert ddp["trainer"]["iteration"] == 2
    assert worst <= 1e-5


def run_cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--resume", "X", "--weights", "Y"], "give one starting point"),
        (["--reset-classifier", "--resume", "X"], "--reset-classifier starts a new run"),
        (["--no-val", "--crops", "10"], "--no-val contradicts"),
        (["--fresh-momentum"], "only applies to --resume-t7"),
        (["--no-val", "--ten-crop"], "--no-val contradicts"),
        (["--momentum", "0"], "--nesterov needs"),
    ],
)
def test_bad_option_combinations(extra, message, dataset):
    code, out = run_cli("--data", str(dataset), *extra)
    print(out)
    assert code == 2 and message in out and len(out.strip().splitlines()) == 1


def test_classes_must_match_num_classes(dataset, weights, tmp_path):
    code, out = run_cli(
        "--data",
        str(dataset),
        "--weights",
        str(weights),
        "--num-classes",
        "3",
        "--reset-classifier",
        "--device",
        "cpu",
        "--save",
        str(tmp_path / "r"),
    )
    print(out)
    assert code == 2 and "train has 2 class folders but --num-classes is 3" in out
    assert "pass --num-classes 2 or point --data at the 3-class dataset" in out
    assert not (tmp_path / "r").exists()


def test_corrupt_and_foreign_checkpoints_are_refused(dataset, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "checkpoint.pt").write_bytes(b"\x80\x04 not a checkpoint")
    before = (run / "checkpoint.pt").read_bytes()
    code, out = run_cli("--data", str(dataset), "--resume", str(run), "--device", "cpu")
    print(out)
    assert code == 2 and "unreadable checkpoint" in out and len(out.strip().splitlines()) == 1
    assert (run / "checkpoint.pt").read_bytes() == before
    torch.save(
        {
            "state_dict": {},
            "meta": {"format": "irv2-train-checkpoint", "version": 1, "arch": "resnet18"},
        },
        run / "checkpoint.pt",
    )
    code, out = run_cli("--data", str(dataset), "--resume", str(run), "--device", "cpu")
    print(out)
    assert code == 2 and "not inception_resnet_v2" in out


def test_lua_directory_without_optimizer_state_needs_the_flag(fixtures, dataset, tmp_path):
    lua = tmp_path / "lua"
    lua.mkdir()
    for name in ("latest.t7", "model_1.t7"):
        shutil.copy(fixtures / "tiny" / "ckpt" / name, lua / name)
    code, out = run_cli(
        "--data",
        str(dataset),
        "--resume-t7",
        str(lua),
        "--device",
        "cpu",
        "--save",
        str(tmp_path / "r"),
    )
    print(out)
    assert code == 2 and "(missing)" in out and "--fresh-momentum" in out


def test_an_existing_run_is_not_overwritten(dataset, weights, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "checkpoint.pt").write_bytes(b"keep me")
    code, out = run_cli(*common(dataset, weights), "--save", str(run))
    print(out)
    assert code == 2 and "already holds a run" in out
    assert (run / "checkpoint.pt").read_bytes() == b"keep me"


@pytest.fixture(scope="module")
def one_epoch_run(augment, dataset, weights, tmp_path_factory) -> Path:
    """A finished one-epoch run with validation (4 iterations of 2 images)."""
    run = tmp_path_factory.mktemp("one") / "run"
    args = [a for a in common(dataset, weights) if a != "--no-val"]
    code, out = run_cli(*args, "--epochs", "1", "--save", str(run))
    assert code == 0, out
    return run


def test_log_lines_are_fb_resnet_torch_format(one_epoch_run):
    """One epoch with validation: Epoch/Test/Finished/Best lines parse with the log tools,
    the JSONL carries the same numbers, and model_best.pt loads as a converted model."""
    from converter import load_converted
    from evaluate.logs.parse import ParseStats, parse_lines

    run = one_epoch_run
    text = (run / "train.log").read_text()
    print(text)
    assert " | Epoch: [1][1/4]" in text and " | Test: [1][1/1]" in text
    assert " * Finished epoch # 1 " in text and " * Best model \t" in text
    records = [json.loads(line) for line in (run / "train.jsonl").read_text().splitlines()]
    trains = [r for r in records if r["type"] == "train"]
    assert [r["iter"] for r in trains] == [1, 2, 3, 4]
    assert trains[0]["lr"] == 0.045
    assert f"Err {trains[0]['loss']:1.4f}" in text
    stats = ParseStats()
    parsed = list(parse_lines(text.splitlines(keepends=True), stats))
    kinds = [r.kind for r in parsed]
    print(kinds, stats)
    assert kinds.count("train") == 4 and kinds.count("test") == 1 and "best" in kinds
    assert parsed[0].values["loss"] == pytest.approx(trains[0]["loss"], abs=1e-4)
    load_converted(run / "model_best.pt")


def test_irv2_logs_reads_train_jsonl_as_it_reads_train_log(one_epoch_run):
    """The run's train.jsonl gives irv2-logs the run train.log gives it: the same epochs, best
    and curves (train.log's numbers are rounded to its print precision, the JSONL's are not)."""
    from evaluate.logs.cli import main as logs_main

    text, jsonl = (Run.from_files([one_epoch_run / n]) for n in ("train.log", "train.jsonl"))
    print(text.summary(), jsonl.summary(), sep="\n")
    assert jsonl.counts == {**text.counts, "best": 0}  # the JSONL has no 'Best model' lines
    assert jsonl.epochs() == text.epochs() == [1]
    assert jsonl.stats.unknown == 0
    for got, ref in ((jsonl.val(1), text.val(1)), (jsonl.train_means(1), text.train_means(1))):
        assert got.keys() >= ref.keys() - {"data"} and ref
        for key in ref.keys() & got.keys():
            assert got[key] == pytest.approx(ref[key], abs=6e-4), key
    assert jsonl.best()["top1"] == pytest.approx(text.best()["top1"], abs=6e-4)
    result = CliRunner().invoke(logs_main, ["summary", str(one_epoch_run / "train.jsonl")])
    assert result.exit_code == 0 and "train.jsonl" in result.output


def test_the_run_records_its_classes_and_classify_names_outputs_by_them(one_epoch_run, dataset):
    """The class-folder names go into checkpoint.pt and model_best.pt; irv2-classify reads them
    (folders named like WNIDs but not ImageNet's keep their own names)."""
    from evaluate.pretrained.classify import classify
    from evaluate.pretrained.model import load_pretrained

    for name in ("checkpoint.pt", "model_best.pt"):
        meta = torch.load(one_epoch_run / name, weights_only=True)["meta"]
        assert meta["classes"] == ["n00000001", "n00000002"], name
    model = load_pretrained(one_epoch_run / "model_best.pt")
    image = sorted((dataset / "val" / "n00000002").iterdir())[0]
    [result] = classify(model, [str(image)], model.preset, topk=5, workers=0)
    assert sorted(p.wnid for p in result.predictions) == ["n00000001", "n00000002"]
    assert sorted(p.name for p in result.predictions) == ["n00000001", "n00000002"]
    assert model.class_names(2).source.startswith("the model's own")


def test_resume_with_save_naming_the_run_itself(one_epoch_run, dataset, tmp_path):
    """--resume R --save R continues R; --save elsewhere holding a run is refused untouched."""
    run = tmp_path / "copy"
    shutil.copytree(one_epoch_run, run)
    resume = ["--data", str(dataset), "--resume", str(run), "--device", "cpu", "--workers", "0"]
    code, out = run_cli(*resume, "--save", str(run))  # epoch 2 > --epochs 1: nothing to train
    print(out)
    assert code == 0, out
    other = tmp_path / "other"
    shutil.copytree(one_epoch_run, other)
    before = (other / "checkpoint.pt").read_bytes()
    code, out = run_cli(*resume, "--save", str(other))
    assert code == 2 and "already holds a run" in out
    assert (other / "checkpoint.pt").read_bytes() == before


def test_resume_inside_an_epoch_needs_the_same_dataset(one_epoch_run, dataset, tmp_path):
    """A checkpoint taken inside an epoch of another length is refused in one line (the
    sampler position would point into a different permutation)."""
    run = tmp_path / "run"
    run.mkdir()
    payload = torch.load(one_epoch_run / "checkpoint.pt", weights_only=True)
    payload["loop"]["state"].update(epoch=1, batches_done=2)
    payload["trainer"].update(epoch=1, iteration=2)
    payload["trainer"]["config"]["iters_per_epoch"] = 7  # the dataset had 14 images
    torch.save(payload, run / "checkpoint.pt")
    code, out = run_cli("--data", str(dataset), "--resume", str(run), "--device", "cpu")
    print(out)
    assert code == 2 and "epoch of 7 iterations but this dataset gives 4" in out
    assert len(out.strip().splitlines()) == 1


def test_lua_resume_on_another_dataset_says_so(fixtures, dataset, tmp_path):
    code, out = run_cli(
        "--data", str(dataset), "--resume-t7", str(fixtures / "tiny" / "ckpt"), "--device", "cpu"
    )
    print(out)
    assert code == 2 and "resume with the dataset the run was trained on" in out
    assert "--reset-classifier" not in out  # which a resume refuses


def test_save_must_be_a_directory(dataset, weights, tmp_path):
    save = tmp_path / "file"
    save.write_text("keep")
    code, out = run_cli(*common(dataset, weights), "--save", str(save))
    assert code == 2 and "not a directory" in out and save.read_text() == "keep"


def _noise(path: Path, generator: torch.Generator) -> torch.Tensor:
    return torch.rand(3, generator=generator)


def test_data_position_is_a_pure_function_of_seed_epoch_index():
    """What exact resuming rests on: a resumed epoch yields the same remaining samples, and a
    sample's augmentation depends on (seed, epoch, index) only, not on who loads it when."""
    from evaluate.runtime.distributed import DistInfo
    from evaluate.train.loader import ResumableSampler, SeededSamples

    samples = SeededSamples([Path(f"{i}.jpg") for i in range(10)], list(range(10)), _noise, 7)
    full = ResumableSampler(samples, DistInfo(), seed=7)
    full.set_epoch(3)
    order = list(full)
    resumed = ResumableSampler(samples, DistInfo(), seed=7)
    resumed.set_epoch(3)
    resumed.start = 4
    assert list(resumed) == order[4:] and len(resumed) == 6
    full.set_epoch(4)
    assert list(full) != order  # reshuffled per epoch
    assert torch.equal(samples[(3, 5)][0], samples[(3, 5)][0])
    assert not torch.equal(samples[(3, 5)][0], samples[(4, 5)][0])
    ranks = [ResumableSampler(samples, DistInfo(rank=r, world_size=2), seed=7) for r in (0, 1)]
    for s in ranks:
        s.set_epoch(3)
    assert sorted(i for s in ranks for _, i in s) == list(range(10))


@pytest.fixture(scope="module")
def imagenet_shaped(dataset, tmp_path_factory) -> Path:
    """train/ with the Lua fixture's 1000 class folders, images in the first two only (empty
    class folders are classes too): what a resume of the 1000-class Lua run needs, cheaply."""
    root = tmp_path_factory.mktemp("wide")
    for c in range(1000):
        (root / "train" / f"n{c:08d}").mkdir(parents=True)
    for c, name in enumerate(("n00000001", "n00000002")):
        for image in (dataset / "train" / name).iterdir():
            shutil.copy(image, root / "train" / f"n{c:08d}" / image.name)
    return root


@pytest.fixture(scope="module")
def lua_then_own_resume(augment, fixtures, imagenet_shaped, tmp_path_factory) -> tuple[Path, str]:
    """--resume-t7 of the Lua run (epoch 1 done) for epoch 2, then --resume for epoch 3: the
    run directory and the second session's output."""
    run = tmp_path_factory.mktemp("lua") / "run"
    fast = ["--device", "cpu", "--workers", "0", "--batch-size", "2", "--no-val"]
    lua = str(fixtures / "tiny" / "ckpt")
    code, out = run_cli(
        "--data", str(imagenet_shaped), "--resume-t7", lua, "--save", str(run), "--epochs", "2",
        *fast,
    )  # fmt: skip
    assert code == 0, out
    code, out = run_cli(
        "--data", str(imagenet_shaped), "--resume", str(run), "--epochs", "3", *fast
    )
    assert code == 0, out
    return run, out


def test_resumed_sessions_log_no_unknown_lines(lua_then_own_resume):
    """Every line irv2-train writes is one the log tools know, its "=> " notes included."""
    from evaluate.logs.runs import Run

    run, _ = lua_then_own_resume
    text = (run / "train.log").read_text()
    print(text)
    parsed = Run.from_files([run / "train.log"])
    print(parsed.stats)
    assert "=> continuing the Lua run" in text
    assert f"=> resuming {run}, saved after the end of epoch 2; next: epoch 3, iteration 1" in text
    assert parsed.epochs() == [2, 3] and parsed.stats.unknown == 0


def test_a_no_val_session_ends_naming_its_checkpoint(lua_then_own_resume):
    run, out = lua_then_own_resume
    last = out.strip().splitlines()[-1]
    print(last)
    assert str(run / "checkpoint.pt") in last and "epoch 3" in last


def test_resuming_a_finished_run_says_so_and_writes_nothing(lua_then_own_resume, imagenet_shaped):
    run, _ = lua_then_own_resume
    before = {p.name: p.read_bytes() for p in run.iterdir()}
    code, out = run_cli(
        "--data", str(imagenet_shaped), "--resume", str(run), "--epochs", "3", "--device", "cpu"
    )
    print(out)
    assert code == 0, out
    assert out.strip() == f"{run} has finished epoch 3 of 3; pass --epochs N (> 3) to go on"
    assert {p.name: p.read_bytes() for p in run.iterdir()} == before


def test_num_classes_against_a_1000_class_dataset(imagenet_shaped, weights, tmp_path):
    code, out = run_cli(
        "--data", str(imagenet_shaped), "--weights", str(weights), "--num-classes", "37",
        "--reset-classifier", "--device", "cpu", "--save", str(tmp_path / "r"),
    )  # fmt: skip
    print(out)
    assert code == 2 and len(out.strip().splitlines()) == 1
    assert f"{imagenet_shaped}/train has 1000 class folders but --num-classes is 37" in out
    assert "pass --num-classes 1000 or point --data at the 37-class dataset" in out
