"""Where a training run starts: the network resumed from our checkpoint, continued from a Lua
run, fine-tuned from --weights (any converted classifier, its last Linear replaced by
--reset-classifier) or built from scratch; and the class folders checked against its outputs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from converter.errors import UserError


def build_model(o: dict[str, Any], resumed: dict | None, n_folders: int):
    """The network (on the CPU, checked to classify images of its preset's size), a one-line note
    of where it came from, and the Lua source, if any."""
    from converter.architecture import num_classes, of_network, rebuild
    from converter.irv2.convert import convert_checkpoint
    from converter.irv2.model import InceptionResNetV2, IRV2Config
    from converter.load import load
    from evaluate.train import checkpoint

    t7_source = None
    if resumed is not None:
        model = rebuild(resumed["meta"], resumed["state_dict"], str(checkpoint.find(o["resume"])))
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
        loaded = load(o["weights"])
        loaded.require_trainable("irv2-train")
        model = loaded.network
        note = f"fine-tuning from {loaded.description}"
    else:
        model = InceptionResNetV2(IRV2Config(num_classes=o["num_classes"] or 1000))
        note = "training from scratch"
    # an IRv2's record is its config, made at the end (a new classifier changes it)
    irv2 = isinstance(model, InceptionResNetV2)
    record = None if irv2 else getattr(model, "architecture", None) or of_network(model)
    if o["reset_classifier"]:
        n = o["num_classes"] or n_folders
        if irv2:
            model.reset_classifier(n)
        else:
            from converter.architecture import last_linear, replace_linear

            record.head = replace_linear(model, last_linear(model)[0], n)
        note += f", new {n}-class classifier"
    elif o["num_classes"] is not None and o["num_classes"] != num_classes(model):
        raise UserError(
            f"--num-classes {o['num_classes']} but the model has {num_classes(model)} outputs; "
            "add --reset-classifier to replace its classifier"
        )
    model.architecture = of_network(model) if irv2 else record
    return model, note, t7_source


def check_classes(model, train_images, root: Path, o: dict[str, Any], resumed: dict | None) -> None:
    """The class folders against the model's outputs and the resumed run's classes."""
    from converter.architecture import num_classes

    n_outputs = num_classes(model)
    found = len(train_images.classes)
    resuming = o["resume"] or o["resume_t7"]
    if found != n_outputs and o["num_classes"] is not None and not resuming:
        # The user chose the size: repeating "--num-classes N --reset-classifier" back would
        # not say which of the two, the number or the dataset, is wrong.
        raise UserError(
            f"{root}/train has {found} class folders but --num-classes is {n_outputs}; "
            f"pass --num-classes {found} or point --data at the {n_outputs}-class dataset"
        )
    if found != n_outputs:
        remedy = (
            "resume with the dataset the run was trained on"
            if resuming
            else "pass --reset-classifier to fine-tune on these classes"
        )
        raise UserError(
            f"{root}/train: {found} classes but the model has {n_outputs} outputs; {remedy}"
        )
    old = None if resumed is None else resumed["loop"]["state"].get("classes")
    if old is not None and old != train_images.classes:
        raise UserError(
            f"{root}/train: its class folders differ from the run's ({len(old)} classes); "
            "resume with the dataset the run was trained on"
        )
