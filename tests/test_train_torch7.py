"""The Trainer against real Torch7 `optim.sgd` runs (fixtures/torch7/tiny, MANIFEST §3.2).

Two correct float32 implementations drift apart after a few steps (ReLU thresholds flip), so
the proof is split: forward/loss of step 1; the optimizer and schedule fed with Torch7's OWN
gradients (parameter hooks replace autograd's), so every step starts from the same parameters;
BN running statistics under those same inputs and parameters; the Lua resume path. The
free-running trajectory (autograd gradients) is printed, not gated.
"""

from __future__ import annotations

import csv

import numpy as np
import pytest
import torch

from converter.irv2.convert import convert_checkpoint
from converter.irv2.mapping import read_table
from converter.torch7.reader import load_t7
from evaluate.train import lua_resume
from evaluate.train.trainer import TrainConfig, Trainer, learning_rate
from mappings import table_path

FORWARD_TOL = 1e-5  # loss and logits of step 1, relative
PARAM_TOL = 1e-6  # parameters after each step and momentum buffers, relative
BN_TOL = 1e-5  # running statistics after 3 steps, relative


def rel(a: np.ndarray, b: np.ndarray) -> float:
    """max |a-b| / max |b|: the error relative to the reference's scale."""
    return float(np.abs(np.asarray(a, np.float64) - b).max() / np.abs(b).max())


def flat_params(model: torch.nn.Module) -> np.ndarray:
    named = dict(model.named_parameters())
    return torch.cat([named[k].detach().reshape(-1) for k in lua_resume.parameter_order()]).numpy()


def momentum_flat(trainer: Trainer) -> np.ndarray:
    named = dict(trainer.model.named_parameters())
    state = trainer.optimizer.state
    return torch.cat(
        [state[named[k]]["momentum_buffer"].reshape(-1) for k in lua_resume.parameter_order()]
    ).numpy()


def lua_config(ref: dict) -> TrainConfig:
    c = ref["config"]
    return TrainConfig(
        lr=c["learningRate"],
        momentum=c["momentum"],
        weight_decay=c["weightDecay"],
        nesterov=bool(c["nesterov"]),
        dampening=c["dampening"],
        step=int(c["step"]),
        gamma=c["gamma"],
        iters_per_epoch=int(c["nSteps"]),  # the fixture's epoch 1 had 3 iterations
    )


def tiny_model(path) -> torch.nn.Module:
    model = convert_checkpoint(path).build_model()
    model.dropout.p = 0.0  # the fixture ran with every nn.Dropout at p=0
    return model


class TorchGradients:
    """Parameter hooks that replace autograd's gradient with Torch7's for the current step."""

    def __init__(self, model: torch.nn.Module):
        self.model = model
        self.current: dict[str, torch.Tensor] = {}
        for key, p in model.named_parameters():
            p.register_hook(lambda _g, key=key: self.current[key])

    def use(self, flat: np.ndarray) -> None:
        self.current = lua_resume.split_flat(flat, self.model)


def batch(step: dict) -> tuple[torch.Tensor, torch.Tensor]:
    return (
        torch.from_numpy(step["input"].numpy()),
        torch.from_numpy(step["target"].numpy()) - 1,  # Lua classes are 1-based
    )


@pytest.fixture(scope="module")
def ref(fixtures):
    return load_t7(fixtures / "tiny" / "irv2_tiny_train_ref.t7")


@pytest.fixture(scope="module")
def grads(fixtures):
    return [g.numpy() for g in load_t7(fixtures / "tiny" / "irv2_tiny_train_grads.t7")["grads"]]


@pytest.fixture(scope="module")
def driven(fixtures, ref, grads):
    """Three Trainer steps driven by Torch7's gradients; per-step observations."""
    model = tiny_model(fixtures / "tiny" / "irv2_tiny.t7")
    assert rel(flat_params(model), ref["params_before"].numpy()) == 0
    trainer = Trainer(model, lua_config(ref))
    hooks = TorchGradients(model)
    seen = []
    for i, step in enumerate(ref["steps"]):
        hooks.use(grads[i])
        loss = trainer.step(*batch(step))
        seen.append(
            {
                "loss": float(loss),
                "output": trainer.last_output.numpy().copy(),
                "params": flat_params(model),
                "lr": trainer.lr,
                "position": (trainer.epoch, trainer.iteration),
                "eval_counter": trainer.eval_counter,
            }
        )
    return trainer, seen


def test_parameter_order_is_torch_parameters_order(fixtures):
    """The mapping table's weight/bias rows, in order, are Torch7's model:parameters()."""
    with open(fixtures / "tiny" / "irv2_tiny_param_order.tsv", newline="") as f:
        torch_rows = list(csv.DictReader(f, delimiter="\t"))
    table = [
        (r.t7_path, r.t7_field)
        for r in read_table(table_path("irv2"))
        if r.t7_field in ("weight", "bias")
    ]
    names = [tuple(r["name"].removeprefix("model.").rsplit(".", 1)) for r in torch_rows]
    assert table == names
    model = tiny_model(fixtures / "tiny" / "irv2_tiny.t7")
    named = dict(model.named_parameters())
    offset = 0
    for key, row in zip(lua_resume.parameter_order(), torch_rows):
        assert int(row["offset0"]) == offset, key
        assert named[key].numel() == int(row["numel"]), key
        offset += named[key].numel()
    assert offset == sum(p.numel() for p in model.parameters())


def test_step1_forward_and_loss(ref, driven):
    _, seen = driven
    want = ref["steps"][0]
    loss_err = abs(seen[0]["loss"] - want["loss"]) / abs(want["loss"])
    out_err = rel(seen[0]["output"], want["output"].numpy())
    print(f"\nstep 1: loss {seen[0]['loss']:.7f} vs Torch7 {want['loss']:.7f} (rel {loss_err:.2e})")
    print(f"step 1: logits rel err {out_err:.2e}")
    assert loss_err <= FORWARD_TOL
    assert out_err <= FORWARD_TOL


def test_optimizer_matches_optim_sgd_each_step(ref, driven):
    """Same gradients in, same parameters out: nesterov/wd-on-all/lr rule are optim.sgd's."""
    trainer, seen = driven
    for i, (got, want) in enumerate(zip(seen, ref["steps"]), 1):
        err = rel(got["params"], want["params_after"].numpy())
        print(f"\nstep {i}: params rel err {err:.2e}, lr {got['lr']} vs {want['learningRate']}")
        assert err <= PARAM_TOL
        assert got["lr"] == pytest.approx(want["learningRate"], rel=1e-12)
        assert got["eval_counter"] == int(want["evalCounter_after"])
        assert got["position"] == (1, i)  # the first step of a fresh run is iteration 1, epoch 1
        if i > 1:  # later forwards start from Torch's parameters too: report the agreement
            print(f"step {i}: loss rel err {abs(got['loss'] - want['loss']) / want['loss']:.2e}")
    dfdx_err = rel(momentum_flat(trainer), ref["optimState"]["dfdx"].numpy())
    print(f"momentum buffers vs optimState.dfdx after step 3: rel err {dfdx_err:.2e}")
    assert dfdx_err <= PARAM_TOL
    assert trainer.eval_counter == int(ref["optimState"]["evalCounter"])


def test_bn_running_statistics_follow_torch(ref, driven):
    """Same inputs and parameters: running mean/var (unbiased, momentum 0.1) as THNN's."""
    trainer, _ = driven
    bn_keys = [
        r.torch_key.rsplit(".", 1)[0]
        for r in read_table(table_path("irv2"))
        if r.t7_field == "running_mean"
    ]
    assert len(bn_keys) == len(ref["bn_running_after"]) == 132
    worst_mean = worst_var = 0.0
    for key, want in zip(bn_keys, ref["bn_running_after"]):
        bn = trainer.model.get_submodule(key)
        worst_mean = max(worst_mean, rel(bn.running_mean.numpy(), want["running_mean"].numpy()))
        worst_var = max(worst_var, rel(bn.running_var.numpy(), want["running_var"].numpy()))
    print(f"\nBN after 3 steps: running_mean rel err {worst_mean:.2e}, running_var {worst_var:.2e}")
    assert worst_mean <= BN_TOL
    assert worst_var <= BN_TOL


def test_free_running_trajectory_is_reported(fixtures, ref):
    """Autograd's own gradients: the drift from Torch7 is printed for the record, not gated."""
    model = tiny_model(fixtures / "tiny" / "irv2_tiny.t7")
    trainer = Trainer(model, lua_config(ref))
    print()
    for i, want in enumerate(ref["steps"], 1):
        loss = float(trainer.step(*batch(want)))
        err = rel(flat_params(model), want["params_after"].numpy())
        print(
            f"free-running step {i}: loss {loss:.6f} vs Torch7 {want['loss']:.6f}, "
            f"params rel err {err:.2e}"
        )
        assert np.isfinite(loss)


def test_resume_from_lua_checkpoint(fixtures, ref, grads):
    """latest.t7 -> model_1 + optimState_1 (dfdx as momentum) -> epoch 2, iteration 1."""
    conversion = convert_checkpoint(fixtures / "tiny" / "ckpt")
    assert conversion.source.epoch == 1 and conversion.source.optim_present
    model = conversion.build_model()
    model.dropout.p = 0.0
    config = lua_config(ref)
    trainer = Trainer(model, TrainConfig.from_dict({**config.to_dict(), "momentum": 0.1}))
    restored = trainer.load_torch7_optim_state(conversion.source.optim_path, epoch=1)
    assert restored["momentum"] == 0.9 and trainer.config.momentum == 0.9  # from the file
    assert restored["evalCounter"] == 3
    assert rel(momentum_flat(trainer), ref["optimState"]["dfdx"].numpy()) == 0
    TorchGradients(model).use(grads[3])
    want = ref["step4_after_resume"]
    loss = float(trainer.step(*batch(ref["steps"][0])))
    err = rel(flat_params(model), want["params_after"].numpy())
    print(f"\nresumed step: loss {loss:.6f} vs {want['loss']:.6f}, params rel err {err:.2e}")
    assert (trainer.epoch, trainer.iteration) == (2, 1)
    assert trainer.eval_counter == int(want["evalCounter_after"])
    assert trainer.lr == pytest.approx(want["learningRate"], rel=1e-12)
    assert abs(loss - want["loss"]) / want["loss"] <= FORWARD_TOL
    assert err <= PARAM_TOL


def test_learning_rate_rule_is_per_iteration():
    """LR * gamma^floor(iter/step), iter = (epoch-1)*itersPerEpoch + n (1-based n)."""
    c = TrainConfig(lr=0.045, gamma=0.96, step=12800, iters_per_epoch=20019)
    assert learning_rate(c, 1, 1) == 0.045
    assert learning_rate(c, 1, 12799) == 0.045
    assert learning_rate(c, 1, 12800) == pytest.approx(0.045 * 0.96)  # floor(12800/12800) = 1
    assert learning_rate(c, 2, 1) == pytest.approx(0.045 * 0.96)  # iter 20020
    assert learning_rate(c, 90, 20019) == pytest.approx(0.045 * 0.96 ** (90 * 20019 // 12800))


def test_wrong_optimizer_file_is_one_clear_error(fixtures, bundled):
    """A dfdx of another model's size is refused before anything changes."""
    from converter.errors import UserError
    from converter.irv2.model import InceptionResNetV2, IRV2Config

    model = InceptionResNetV2(IRV2Config(width_divisor=8, num_classes=10))
    trainer = Trainer(model, TrainConfig())
    with pytest.raises(UserError, match="another model"):
        trainer.load_torch7_optim_state(fixtures / "tiny" / "ckpt" / "optimState_1.t7")
    assert not trainer.optimizer.state
    with pytest.raises(UserError, match="optim"):
        trainer.load_torch7_optim_state(bundled / "irv2_tiny_ref.t7")
