"""torch.hub entry points (hubconf.py), loaded as a user would: torch.hub.load(source="local")."""

from __future__ import annotations

import pytest
import torch
from conftest import REPO
from t7compare import assert_close, tensor

from converter import load_converted
from converter.outputs import mapped
from converter.outputs.translated import save_translated
from converter.torch7.reader import load_t7


@pytest.mark.parametrize("suffix", ["safetensors", "pt"])
def test_inception_resnet_v2_loads_converted_weights(bundled, tiny_pt, tmp_path, suffix):
    weights = tmp_path / f"irv2.{suffix}"
    mapped.save(*mapped.load(tiny_pt), weights, suffix)
    model = torch.hub.load(str(REPO), "inception_resnet_v2", source="local", weights=weights)
    ref = load_t7(bundled / "irv2_tiny_ref.t7")
    with torch.no_grad():
        got = model(tensor(ref["input"]))
        assert torch.equal(got, load_converted(tiny_pt)(tensor(ref["input"])))
    assert not model.training
    assert_close(got, tensor(ref["output"]), f"hub inception_resnet_v2 from .{suffix}")


def test_inception_resnet_v2_without_weights_is_untrained_of_the_given_shape():
    model = torch.hub.load(
        str(REPO), "inception_resnet_v2", source="local", num_classes=7, width_divisor=8
    )
    assert model.cfg.num_classes == 7 and model.cfg.width_divisor == 8
    with pytest.raises(ValueError, match="shape comes from the weights"):
        torch.hub.load(
            str(REPO), "inception_resnet_v2", source="local", weights="x.pt", num_classes=7
        )


def test_torch7_translated_loads_a_generic_artifact(bundled, tmp_path):
    weights = tmp_path / "tiny.safetensors"
    save_translated(load_t7(bundled / "irv2_tiny.t7"), weights, False, "irv2_tiny.t7")
    net = torch.hub.load(str(REPO), "torch7_translated", source="local", weights=weights)
    ref = load_t7(bundled / "irv2_tiny_ref.t7")
    with torch.no_grad():
        assert_close(net(tensor(ref["input"])), tensor(ref["output"]), "hub torch7_translated")
