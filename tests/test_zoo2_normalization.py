"""Normalisations of zoo2 (MANIFEST-zoo2 §3 item 2, semantics §7-11) against Torch7's outputs:
cross-map LRN (nn's and cudnn's), the subtractive/divisive/contrastive normalisations from their
stored filters, Normalize (eps inside the root), both InstanceNormalization classes in both
nn eras, and cudnn/volumetric BatchNormalization.

Tolerance: max |Δ| <= 1e-5 * max |reference| (float32); every comparison prints what it measured.
"""

from __future__ import annotations

import pytest
import torch
from t7compare import assert_close, tensor
from zoo2cases import check_case, check_one_sample, forward, load_case, with_fields

from converter.generic.layers.normalization import InstanceNormalization, use_instance_statistics
from converter.generic.translator import UnsupportedModuleError, translate

NORMALIZATION_CASES = [
    "lrn_alexnet", "lrn_googlenet", "cudnn_lrn", "subtractivenorm", "divisivenorm",
    "contrastivenorm", "normalize_l2", "normalize_linf", "normalize_p", "instancenorm_fns",
    "instancenorm_cyclegan", "cudnn_sbn",
]  # fmt: skip

INSTANCE_NORMS = ["instancenorm_fns", "instancenorm_cyclegan"]


@pytest.mark.parametrize("name", NORMALIZATION_CASES)
def test_normalization_reproduces_torch7(fixtures, name):
    check_case(fixtures, name)


@pytest.mark.parametrize(
    "name", ["lrn_alexnet", "cudnn_lrn", "subtractivenorm", "divisivenorm", "cudnn_sbn"]
)
def test_one_unbatched_sample_is_the_batch_entry(fixtures, name):
    """These take a C x H x W sample too (BN at evaluation through makeBatch); the border
    correction of the spatial normalisations is per sample, so sample 1 alone is output[1]."""
    check_one_sample(fixtures, name)


def test_lrn_k_is_added_before_the_power(fixtures):
    """§7: y = x / (k + alpha/size · Σ x²)^beta; AlexNet's k = 2 divides by 2^0.75 even where
    the squares are negligible."""
    case = load_case(fixtures, "lrn_alexnet")
    x = tensor(case["input"]).double()
    pad = torch.nn.functional.pad(x * x, (0, 0, 0, 0, 2, 2))
    sums = sum(pad[:, c : c + 7] for c in range(5))
    ref = x / (2 + 1e-4 / 5 * sums) ** 0.75
    assert_close(ref.float(), tensor(case["output"]), "lrn_alexnet by the formula")


def test_even_lrn_size_is_refused(fixtures):
    case = load_case(fixtures, "lrn_googlenet")
    with pytest.raises(UnsupportedModuleError, match="even window size"):
        translate(with_fields(case["module"], size=4))


def test_contrastive_normalisation_reads_its_inner_filters(fixtures):
    """§8: the stored `kernel` fields were normalised twice; the translation uses the inner
    convolutions, whose tensors keep their Torch7 paths."""
    case = load_case(fixtures, "contrastivenorm")
    keys = set(translate(case["module"]).state_dict())
    assert "normalizer.1.meanestimator.2.weight" in keys
    assert "normalizer.2.stdestimator.3.weight" in keys


def test_divisive_threshold_replaces_small_stds_by_thresval(fixtures):
    """The divisor is the local RMS (sqrt of the filtered squares) over coef; where that is not
    above the thresholder's threshold (1e-4) it becomes its val (thresval): a faint 1e-6 input
    is divided by 0.5."""
    m = load_case(fixtures, "divisivenorm")["module"]
    module = translate(with_fields(m, thresholder=with_fields(m["thresholder"], val=0.5)))
    x = torch.full((1, 3, 8, 8), 1e-6)
    assert torch.allclose(forward(module, x), x / 0.5, rtol=1e-6, atol=0)


@pytest.mark.parametrize("name", ["normalize_l2", "normalize_p", "normalize_linf"])
def test_normalize_takes_one_vector(fixtures, name):
    check_one_sample(fixtures, name, 1)


def test_normalize_eps_is_inside_the_root(fixtures):
    """§9: (Σ|x|^p + eps)^(1/p), measurable on a tiny row: eps 1e-2, p 2 on [3e-2, 4e-2]."""
    case = load_case(fixtures, "normalize_l2")
    module = translate(with_fields(case["module"], eps=1e-2))
    x = torch.tensor([[3e-2, 4e-2]], dtype=torch.float64)
    assert torch.allclose(forward(module, x), x / (25e-4 + 1e-2) ** 0.5)


@pytest.mark.parametrize("name", INSTANCE_NORMS)
def test_instance_norm_before_nn_919eeca_uses_instance_statistics(fixtures, name):
    """§10: output_instance_stats is what Torch7 computed before 2017-08-03 (each sample and
    channel by its own mean and biased variance), selected with `instance_stats = True`."""
    case = load_case(fixtures, name)
    module = translate(case["module"])
    assert isinstance(module, InstanceNormalization) and not module.instance_stats
    assert use_instance_statistics(module) == 1
    got = forward(module, tensor(case["input"]))
    assert_close(got, tensor(case["output_instance_stats"]), f"{name} instance statistics")


@pytest.mark.parametrize("name", INSTANCE_NORMS)
def test_instance_norm_on_another_batch_size_uses_a_fresh_bn(fixtures, name):
    """The stored bn holds statistics for a batch of prev_N (fns) / prev_batch_size (CycleGAN);
    on one sample the Lua code makes a new BN: zeros/ones (fns), or the module's own running
    statistics (CycleGAN, one per channel)."""
    case = load_case(fixtures, name)
    m = case["module"]
    x = tensor(case["input"])[:1]
    if name == "instancenorm_fns":
        mean, var = torch.zeros(3), torch.ones(3)
    else:
        mean, var = tensor(m["running_mean"]), tensor(m["running_var"])
    w, b = tensor(m["weight"]), tensor(m["bias"])
    ref = (x - mean.view(-1, 1, 1)) / torch.sqrt(var.view(-1, 1, 1) + 1e-5) * w.view(
        -1, 1, 1
    ) + b.view(-1, 1, 1)
    assert_close(forward(translate(m), x), ref, f"{name} on a batch of one")


def test_batch_norm_refuses_other_ranks(fixtures):
    module = translate(load_case(fixtures, "cudnn_sbn")["module"])
    with pytest.raises(ValueError, match="4D batches"):
        module(torch.zeros(2, 4))
