"""irv2-train: continue a Lua fb.resnet.torch Inception-ResNet-v2 run in PyTorch, or fine-tune.

\b
    irv2-train --data /imagenet --resume-t7 /lua/checkpoints/ --save runs/irv2   # the Lua run
    irv2-train --data /imagenet --resume runs/irv2                               # our own run
    irv2-train --data /my/dataset --weights irv2.pt --num-classes 37 --reset-classifier \\
               --epochs 30 --lr 0.01
    torchrun --nproc_per_node 8 -m evaluate.train.cli --data /imagenet --resume runs/irv2

--data holds train/ and val/, one sub-folder per class. Defaults are the published model's
recipe: batch 64, LR 0.045 * 0.96^floor(iter/12800) per iteration, nesterov momentum 0.4737,
weight decay 1e-4 on all parameters, 90 epochs. --batch-size is the GLOBAL batch; torchrun
splits it evenly, and BatchNorm statistics are per process (the authors: 64 = 2 GPUs x 32).
With --resume, options not given on the command line keep the checkpoint's values.

torch is imported only when training starts, so --help answers at once.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Any

import click

from converter.errors import UserError, exit_on_user_error
from evaluate.runtime.devices import device_options

# Options a resumed run takes from its checkpoint unless they are given again.
_TRAIN_OPTIONS = {
    "lr": "lr",
    "momentum": "momentum",
    "weight_decay": "weight_decay",
    "nesterov": "nesterov",
    "dampening": "dampening",
    "step": "step",
    "gamma": "gamma",
}
_LOOP_OPTIONS = {
    "epochs": "epochs",
    "batch_size": "batch_size",
    "workers": "workers",
    "seed": "seed",
    "val_every": "val_every",
    "save_every": "save_every",
    "print_freq": "print_freq",
}


@click.command(
    help=__doc__.rsplit("\n\n", 1)[0], context_settings={"help_option_names": ["-h", "--help"]}
)
@click.option(
    "--data",
    required=True,
    type=click.Path(path_type=Path),
    help="Dataset root with train/ and val/ class folders (ImageNet layout).",
)
@click.option(
    "--save",
    type=click.Path(path_type=Path),
    default=Path("runs/irv2"),
    show_default=True,
    help="Run directory: checkpoints and logs.",
)
@click.option(
    "--resume",
    type=click.Path(path_type=Path),
    help="Continue our own run: a run directory or its checkpoint.pt.",
)
@click.option(
    "--resume-t7",
    type=click.Path(path_type=Path),
    help="Continue a Lua run: its checkpoint directory or latest.t7 (model_N.t7 + "
    "optimState_N.t7); training goes on at epoch N+1.",
)
@click.option(
    "--fresh-momentum",
    is_flag=True,
    help="With --resume-t7 when optimState_N.t7 is missing: start with zero momentum.",
)
@click.option(
    "--weights",
    type=click.Path(path_type=Path),
    help="Start from these weights with a fresh optimizer (.pt/.h5 from t7convert, "
    "a model .t7, a Lua checkpoint directory, or our model_best.pt).",
)
@click.option(
    "--num-classes",
    "--n-classes",
    type=click.IntRange(min=1),
    help="Classes of the dataset (nClasses); checked against the class folders.",
)
@click.option(
    "--reset-classifier",
    is_flag=True,
    help="Replace the final Linear with a fresh one of --num-classes outputs.",
)
@click.option(
    "--epochs",
    "--n-epochs",
    type=click.IntRange(min=1),
    default=90,
    show_default=True,
    help="Last epoch to train (nEpochs).",
)
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=64,
    show_default=True,
    help="Global batch over all processes (batchSize).",
)
@click.option(
    "--lr",
    type=click.FloatRange(min=0, min_open=True),
    default=0.045,
    show_default=True,
    help="Base learning rate (LR).",
)
@click.option(
    "--momentum",
    type=click.FloatRange(min=0),
    default=0.4737,
    show_default=True,
    help="Torch-style SGD momentum (0.4737 = Caffe's 0.9, the authors' setting 1).",
)
@click.option(
    "--weight-decay",
    type=click.FloatRange(min=0),
    default=1e-4,
    show_default=True,
    help="L2 weight decay on ALL parameters, BN included (weightDecay).",
)
@click.option("--nesterov/--no-nesterov", default=True, show_default=True)
@click.option("--dampening", type=click.FloatRange(min=0), default=0.0, show_default=True)
@click.option(
    "--step",
    type=click.IntRange(min=1),
    default=12800,
    show_default=True,
    help="Iterations between two LR multiplications by --gamma.",
)
@click.option(
    "--gamma",
    type=click.FloatRange(min=0, min_open=True),
    default=0.96,
    show_default=True,
    help="LR factor every --step iterations.",
)
@click.option(
    "--workers",
    "--n-threads",
    type=click.IntRange(min=0),
    default=4,
    show_default=True,
    help="DataLoader worker processes per process (nThreads).",
)
@click.option(
    "--seed",
    "--manual-seed",
    type=int,
    default=0,
    show_default=True,
    help="Seed of data order, augmentation, Dropout and a reset classifier.",
)
@click.option(
    "--val-every",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Validate every N epochs (and after the last).",
)
@click.option("--no-val", is_flag=True, help="Never validate (no best model is kept).")
@click.option("--ten-crop", is_flag=True, help="Validate with fb.resnet.torch's ten crops.")
@click.option(
    "--val-batch-size",
    type=click.IntRange(min=1),
    default=None,
    help="Validation batch per process  [default: the training batch per process]",
)
@click.option(
    "--save-every",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Also checkpoint every N iterations (0: at the end of each epoch only).",
)
@click.option(
    "--print-freq",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Log every N iterations (each log line waits for the device).",
)
@device_options
@exit_on_user_error
def main(**options: Any) -> None:
    ctx = click.get_current_context()
    given = {
        name
        for name in options
        if ctx.get_parameter_source(name) == click.core.ParameterSource.COMMANDLINE
    }
    check_options(options, given)
    train(options, given)


def check_options(o: dict[str, Any], given: set[str]) -> None:
    """Refuse combinations that cannot mean what the user wants, before anything is read."""
    sources = [f"--{k.replace('_', '-')}" for k in ("resume", "resume_t7", "weights") if o[k]]
    if len(sources) > 1:
        raise UserError(f"{' and '.join(sources)}: give one starting point, not several")
    if o["fresh_momentum"] and not o["resume_t7"]:
        raise UserError("--fresh-momentum only applies to --resume-t7")
    if o["reset_classifier"] and o["num_classes"] is None:
        raise UserError("--reset-classifier needs --num-classes N (the new classifier's size)")
    if o["reset_classifier"] and (o["resume"] or o["resume_t7"]):
        raise UserError(
            "--reset-classifier starts a new run: use it with --weights, not with a resume"
        )
    if o["resume"] and "num_classes" in given:
        raise UserError("--num-classes cannot change when resuming; the checkpoint fixes it")
    if o["no_val"] and ("val_every" in given or o["ten_crop"]):
        raise UserError("--no-val contradicts --val-every/--ten-crop")
    if o["nesterov"] and (o["momentum"] <= 0 or o["dampening"] != 0):
        raise UserError("--nesterov needs --momentum > 0 and --dampening 0; or --no-nesterov")


def train(o: dict[str, Any], given: set[str]) -> None:
    """Assemble model, data, trainer and loop from the options, then run."""
    import torch

    from evaluate.runtime import devices, distributed
    from evaluate.train import checkpoint
    from evaluate.train.loop import TrainLog, TrainLoop
    from evaluate.train.trainer import Trainer

    info = distributed.init_from_env(use_cuda=_wants_cuda(o["device"]))
    try:
        device = devices.resolve_device(o["device"], info.local_rank)
        amp_dtype = devices.resolve_amp_dtype(o["amp"], o["amp_dtype"], device)
        amp = o["amp_dtype"] if amp_dtype is not None else None
        if o["channels_last"] and device.type != "cuda":
            raise UserError(f"--channels-last needs a CUDA device (running on {device})")
        resumed = checkpoint.load(o["resume"]) if o["resume"] else None
        loop_cfg, state = _loop_setup(o, given, resumed)
        run_dir = _run_dir(o, given, resumed)
        if resumed is None:
            torch.manual_seed(loop_cfg.seed)  # a reset classifier and Dropout draw from it
        elif state.epoch > loop_cfg.epochs:
            if info.is_main:
                done, last = state.epoch - 1, loop_cfg.epochs
                of = f"of {last}" if done == last else f"(--epochs {last})"
                click.echo(
                    f"{run_dir} has finished epoch {done} {of}; pass --epochs N (> {done}) to go on"
                )
            return
        model, source_note, t7_source = _build_model(o, resumed, device)
        train_images, val_images = _open_data(Path(o["data"]), model.num_classes, o, resumed)
        state.classes = train_images.classes
        iters = _iters(len(train_images), loop_cfg, info)
        train_cfg = _train_config(o, given, resumed, iters, amp)
        if o["channels_last"]:
            model = model.to(memory_format=torch.channels_last)
        net = _wrap_ddp(model, device, info)
        trainer = Trainer(net, train_cfg)
        restored = _restore(trainer, o, resumed, t7_source, state)
        if info.is_main:
            run_dir.mkdir(parents=True, exist_ok=True)
        distributed.barrier(info)
        log = TrainLog(run_dir, enabled=info.is_main)
        log.line(f"=> {source_note}; {restored}")
        log.line(
            f"=> {len(train_images)} training images, {iters} iterations per epoch, "
            f"{info.world_size} process(es) x {loop_cfg.batch_size // info.world_size} images"
        )
        loop = TrainLoop(
            trainer,
            _train_loader(train_images, loop_cfg, info, device),
            loop_cfg,
            state,
            info,
            log,
            run_dir,
            _validator(o, val_images, loop_cfg, info, device, amp, log),
            meta={"source": source_note},
        )
        if resumed is not None:
            checkpoint.set_rng_states(resumed["rng"])
        try:
            loop.run()
        finally:
            log.close()
        distributed.barrier(info)  # no rank leaves the group while rank 0 still writes
    finally:
        distributed.cleanup(info)


def _wants_cuda(spec: str) -> bool:
    import torch

    return spec.startswith("cuda") or (spec == "auto" and torch.cuda.is_available())


def _run_dir(o: dict[str, Any], given: set[str], resumed: dict | None) -> Path:
    """Where this session writes: --save, or the resumed run's own directory; a directory
    holding another run is refused before any work."""
    from evaluate.train import checkpoint

    run_dir = Path(o["save"])
    if resumed is None:
        _refuse_overwrite(run_dir)
        return run_dir
    own = checkpoint.find(o["resume"]).parent
    if "save" not in given:
        return own
    if run_dir.resolve() != own.resolve():  # --save naming the run itself is fine
        _refuse_overwrite(run_dir)
    return run_dir


def _refuse_overwrite(save: Path) -> None:
    from evaluate.train import checkpoint

    if save.exists() and not save.is_dir():
        raise UserError(f"--save {save}: a file, not a directory; give a run directory")
    if (save / checkpoint.CHECKPOINT).exists():
        raise UserError(
            f"{save} already holds a run; continue it with --resume {save} or choose another --save"
        )


def _loop_setup(o: dict[str, Any], given: set[str], resumed: dict | None):
    from evaluate.train.loop import LoopConfig, LoopState

    values = {field: o[opt] for opt, field in _LOOP_OPTIONS.items()}
    values["val_every"] = 0 if o["no_val"] else o["val_every"]
    if resumed is None:
        return LoopConfig(**values), LoopState()
    old = resumed["loop"]["config"]
    merged = {
        k: (values[k] if k in given or (k == "val_every" and o["no_val"]) else old[k])
        for k in values
    }
    state = LoopState(**resumed["loop"]["state"])
    if state.batches_done and merged["batch_size"] != old["batch_size"]:
        raise UserError(
            f"the checkpoint stopped inside epoch {state.epoch} with --batch-size "
            f"{old['batch_size']}; finish that epoch with the same batch size"
        )
    return LoopConfig(**merged), state


def _train_config(o, given, resumed, iters: int, amp: str | None):
    from evaluate.train.trainer import TrainConfig

    values = {field: o[opt] for opt, field in _TRAIN_OPTIONS.items()}
    if resumed is not None:
        old = resumed["trainer"]["config"]
        values = {k: (v if k in given else old[k]) for k, v in values.items()}
        if resumed["loop"]["state"]["batches_done"] and old["iters_per_epoch"] != iters:
            raise UserError(
                f"the checkpoint stopped inside an epoch of {old['iters_per_epoch']} iterations "
                f"but this dataset gives {iters}; finish that epoch with the same dataset"
            )
    try:
        return TrainConfig(
            **values, iters_per_epoch=iters, amp=amp, channels_last=o["channels_last"]
        )
    except ValueError as e:
        raise UserError(str(e)) from None


def _build_model(o: dict[str, Any], resumed: dict | None, device):
    """The network and a one-line note of where it came from (and the Lua source, if any)."""
    from converter import load_model
    from converter.irv2.convert import convert_checkpoint
    from converter.irv2.model import InceptionResNetV2, IRV2Config

    t7_source = None
    if resumed is not None:
        model = InceptionResNetV2(IRV2Config(**resumed["meta"]["config"]))
        model.load_state_dict(resumed["state_dict"])
        meta = resumed["meta"]
        note = f"resuming {o['resume']} (epoch {meta['epoch']}, iteration {meta['batches_done']})"
    elif o["resume_t7"]:
        conversion = convert_checkpoint(o["resume_t7"])
        t7_source = conversion.source
        if t7_source.epoch is None:
            raise UserError(
                f"{o['resume_t7']}: a bare model file has no epoch or optimizer state; give the "
                "checkpoint directory (or its latest.t7), or use --weights to fine-tune"
            )
        if not t7_source.optim_present and not o["fresh_momentum"]:
            raise UserError(
                f"{t7_source.describe()}: the optimizer state (momentum) is missing; pass "
                "--fresh-momentum to continue with zero momentum"
            )
        model = conversion.build_model()
        note = f"continuing the Lua run {t7_source.describe()}"
    elif o["weights"]:
        model = load_model(o["weights"])
        note = f"fine-tuning from {o['weights']}"
    else:
        model = InceptionResNetV2(IRV2Config(num_classes=o["num_classes"] or 1000))
        note = "training from scratch"
    if o["reset_classifier"]:
        model.reset_classifier(o["num_classes"])
        note += f", new {o['num_classes']}-class classifier"
    elif o["num_classes"] is not None and o["num_classes"] != model.num_classes:
        raise UserError(
            f"--num-classes {o['num_classes']} but the model has {model.num_classes} outputs; "
            "add --reset-classifier to replace its classifier"
        )
    return model.to(device).train(), note, t7_source


def _open_data(root: Path, num_classes: int, o: dict[str, Any], resumed: dict | None):
    from evaluate.data.imagelist import class_folders

    if not (root / "train").is_dir():
        raise UserError(f"{root}: no train/ folder; --data must hold train/ and val/ class folders")
    train_images = class_folders(root / "train")
    found = len(train_images.classes)
    resuming = o["resume"] or o["resume_t7"]
    if found != num_classes and o["num_classes"] is not None and not resuming:
        # The user chose the size: repeating "--num-classes N --reset-classifier" back would
        # not say which of the two, the number or the dataset, is wrong.
        raise UserError(
            f"{root}/train has {found} class folders but --num-classes is {num_classes}; "
            f"pass --num-classes {found} or point --data at the {num_classes}-class dataset"
        )
    if found != num_classes:
        remedy = (
            "resume with the dataset the run was trained on"
            if resuming
            else "pass --num-classes N --reset-classifier to fine-tune on these classes"
        )
        raise UserError(
            f"{root}/train: {found} classes but the model has {num_classes} outputs; {remedy}"
        )
    old = None if resumed is None else resumed["loop"]["state"].get("classes")
    if old is not None and old != train_images.classes:
        raise UserError(
            f"{root}/train: its class folders differ from the run's ({len(old)} classes); "
            "resume with the dataset the run was trained on"
        )
    val_images = None
    if (root / "val").is_dir():
        val_images = class_folders(root / "val")
        if val_images.classes != train_images.classes:
            raise UserError(f"{root}: train/ and val/ have different class folders")
    return train_images, val_images


def _iters(n: int, cfg, info) -> int:
    from evaluate.train.loader import iters_per_epoch

    return iters_per_epoch(n, cfg.batch_size, info)


def _wrap_ddp(model, device, info):
    if not info.enabled:
        return model
    from torch.nn.parallel import DistributedDataParallel

    ids = [device.index] if device.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=ids)


def _restore(trainer, o, resumed, t7_source, state) -> str:
    """Optimizer state and position from the checkpoint; a summary line of what was restored."""
    if resumed is not None:
        trainer.load_state_dict(resumed["trainer"])
        return f"next: epoch {state.epoch}, iteration {state.batches_done + 1}"
    if t7_source is not None:
        state.epoch = t7_source.epoch + 1
        if not t7_source.optim_present:
            return f"optimizer state MISSING: fresh momentum; next: epoch {state.epoch}"
        r = trainer.load_torch7_optim_state(t7_source.optim_path, epoch=t7_source.epoch)
        expected = _rule_lr(trainer.config, t7_source.epoch)
        note = (
            f"restored momentum {r['momentum']:g}, weightDecay {r['weightDecay']:g}, "
            f"evalCounter {r['evalCounter']}, learningRate {r['learningRate']:g}"
        )
        if not math.isclose(expected, r["learningRate"], rel_tol=1e-6):
            note += f" (the rule with --lr {trainer.config.lr:g} gave {expected:g} there)"
        return note + f"; next: epoch {state.epoch}"
    return "fresh optimizer; next: epoch 1"


def _rule_lr(cfg, epoch: int) -> float:
    from evaluate.train.trainer import learning_rate

    return learning_rate(cfg, epoch, cfg.iters_per_epoch)


def _train_loader(images, cfg, info, device):
    from evaluate.data.augment import TrainTransform
    from evaluate.train.loader import SeededSamples, make_loader

    samples = SeededSamples(images.paths, images.labels, TrainTransform(), cfg.seed)
    return make_loader(samples, cfg, info, pin=device.type == "cuda")


def _validator(o, val_images, cfg, info, device, amp, log):
    if o["no_val"] or val_images is None:
        if not o["no_val"]:
            log.line(f"=> no {Path(o['data']) / 'val'} folder: training without validation")
        return None
    from evaluate.train.loop import make_validator

    batch = o["val_batch_size"] or max(1, cfg.batch_size // info.world_size)
    return make_validator(
        val_images,
        crops=10 if o["ten_crop"] else 1,
        batch_size=batch,
        workers=cfg.workers,
        device=device,
        amp=amp,
        channels_last=o["channels_last"],
        info=info,
        log=log,
        print_freq=cfg.print_freq,
    )


if __name__ == "__main__":
    sys.exit(main())
