"""One irv2-train session from its checked options: where it writes, the model and where it came
from, the data, the trainer restored from our checkpoint or a Lua run, then the loop.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import click

from converter.errors import Interrupted, UserError
from evaluate.data.options import default_workers

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


def train(o: dict[str, Any], given: set[str]) -> None:
    """Assemble model, data, trainer and loop from the options, then run."""
    import torch

    from evaluate.runtime import devices, distributed
    from evaluate.train import checkpoint
    from evaluate.train.log import TrainLog
    from evaluate.train.loop import TrainLoop
    from evaluate.train.trainer import Trainer

    info = distributed.init_from_env(use_cuda=_wants_cuda(o["device"]))
    resumed = loop = error = None
    try:
        try:  # every check, on every rank: a mistake is said once, by rank 0
            device = devices.resolve_device(o["device"], info.local_rank)
            amp_dtype = devices.resolve_amp_dtype(o["amp"], o["amp_dtype"], device)
            amp = o["amp_dtype"] if amp_dtype is not None else None
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
                        f"{run_dir} has finished epoch {done} {of}; "
                        f"pass --epochs N (> {done}) to go on"
                    )
                return
            model, source_note, t7_source = _build_model(o, resumed, device)
            train_images, val_images = _open_data(Path(o["data"]), model.num_classes, o, resumed)
            state.classes = train_images.classes
            iters = _iters(len(train_images), loop_cfg, info)
            train_cfg = _train_config(o, given, resumed, iters, amp)
        except UserError as e:
            error = e
        distributed.raise_together(error, info)
        if o["channels_last"]:
            model = model.to(memory_format=torch.channels_last)
        net = _wrap_ddp(model, device, info)
        trainer = Trainer(net, train_cfg)
        restored = _restore(trainer, o, resumed, t7_source, state)
        if info.is_main:
            run_dir.mkdir(parents=True, exist_ok=True)
        distributed.barrier(info)
        log = TrainLog(run_dir, enabled=info.is_main, quiet=o["quiet"])
        log.line(f"=> {source_note}; {restored}")
        log.line(
            f"=> {len(train_images)} training images, {iters} iterations per epoch, "
            f"{info.world_size} process(es) x {loop_cfg.batch_size // info.world_size} images"
        )
        for images in filter(None, (train_images, val_images)):
            for note in images.notes:  # what the folders held that is not trained on
                log.line(f"=> {images.root}: {note}")
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
            skip_bad=o["skip_bad"],
        )
        if resumed is not None:
            checkpoint.set_rng_states(resumed["rng"])
        try:
            loop.run()
        finally:
            log.close()
        distributed.barrier(info)  # no rank leaves the group while rank 0 still writes
    except KeyboardInterrupt:
        raise _interrupted(o, resumed, loop) from None
    finally:
        distributed.cleanup(info)


def _interrupted(o: dict[str, Any], resumed: dict | None, loop: Any) -> Interrupted:
    """Ctrl-C: the line the session ends with, naming the checkpoint to go on from (or that
    there is none)."""
    from evaluate.train import checkpoint

    if loop is not None and loop.saved is not None:
        path, epoch, batches = loop.saved
        upto = f"epoch {epoch}, iteration {batches}" if batches else f"the end of epoch {epoch}"
        return Interrupted(f"{path} holds the run up to {upto}; go on with --resume {path.parent}")
    if resumed is not None:
        path = checkpoint.find(o["resume"])
        return Interrupted(
            f"no new checkpoint in this session; {path} is unchanged: go on with --resume "
            f"{path.parent}"
        )
    return Interrupted("no checkpoint was written yet, so there is nothing to resume")


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
    from converter.outputs.atomic import check_folder
    from evaluate.train import checkpoint

    if save.exists() and not save.is_dir():
        raise UserError(f"--save {save}: a file, not a directory; give a run directory")
    if (save / checkpoint.CHECKPOINT).exists():
        raise UserError(
            f"{save} already holds a run; continue it with --resume {save} or choose another --save"
        )
    folder = next(p for p in (save, *save.absolute().parents) if p.exists())
    check_folder(folder, save, "--save")  # an hour of training must not end unsaved


def _loop_setup(o: dict[str, Any], given: set[str], resumed: dict | None):
    from evaluate.train.loop import LoopConfig, LoopState

    values = {field: o[opt] for opt, field in _LOOP_OPTIONS.items()}
    values["val_every"] = 0 if o["no_val"] else o["val_every"]
    values["workers"] = default_workers() if o["workers"] is None else o["workers"]
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
        where = (
            f"inside epoch {meta['epoch']}, after iteration {meta['batches_done']}"
            if meta["batches_done"]
            else f"after the end of epoch {meta['epoch']}"
        )
        note = f"resuming {o['resume']}, saved {where}"
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
        crops=int(o["crops"]),
        batch_size=batch,
        workers=cfg.workers,
        device=device,
        amp=amp,
        channels_last=o["channels_last"],
        info=info,
        log=log,
        print_freq=cfg.print_freq,
        skip_bad=o["skip_bad"],
    )
