"""The evaluation loop and its metrics, on a stand-in model and in-memory images.

Expected values are computed here independently (numpy argsort of the model's own logits), so
the loop's batching, crop summing, ordering and skipping are what is under test.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from converter.errors import UserError
from evaluate import metrics
from evaluate.runtime import distributed
from evaluate.runtime.distributed import DistInfo
from evaluate.validate import evaluate_model

N_CLASSES = 7


class Images:
    """Picklable stand-in for datasets.ImageDataset: (image | None, label, error | None)."""

    def __init__(self, n: int, crops: int = 1, bad: tuple[int, ...] = ()) -> None:
        g = torch.Generator().manual_seed(0)
        shape = (n, crops, 3, 4, 4) if crops > 1 else (n, 3, 4, 4)
        self.images = torch.randn(shape, generator=g)
        self.labels = torch.randint(0, N_CLASSES, (n,), generator=g).tolist()
        self.bad = bad

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int):
        if i in self.bad:
            return None, self.labels[i], f"/data/img{i}.JPEG: cannot read image"
        return self.images[i], self.labels[i], None


def stand_in_model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(48, N_CLASSES))


def expected(model: nn.Module, data: Images, keep: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Top-5 classes and scores image by image, straight from the logits."""
    with torch.no_grad():
        images = data.images[keep]
        logits = (
            model(images.flatten(0, 1)).view(len(keep), -1, N_CLASSES).sum(1)
            if images.dim() == 5
            else model(images)
        ).numpy()
    order = np.argsort(-logits, axis=1, kind="stable")[:, :5]
    return order, np.take_along_axis(logits, order, axis=1)


# --- metrics ---------------------------------------------------------------------------------


def test_counts_and_percentages():
    top5 = np.array([[3, 1, 2, 0, 4], [1, 3, 2, 0, 4], [0, 1, 2, 4, 5], [6, 0, 1, 2, 3]])
    labels = np.array([3, 3, 3, 3])
    topk = metrics.count(top5, labels)
    assert (topk.n, topk.top1_correct, topk.top5_correct) == (4, 1, 3)
    assert topk.percent() == {
        "top1_err": 75.0,
        "top5_err": 25.0,
        "top1_acc": 25.0,
        "top5_acc": 75.0,
    }


def test_lua_batch_mean_weighs_the_last_small_batch_like_a_full_one():
    # top-1 hits per image: [1, 1 | 0, 1 | 0]: batch errors 0 %, 50 %, 100 % -> mean 50 %,
    # while the exact per-image error is 2/5 = 40 %.
    labels = np.zeros(5, dtype=np.int64)
    top5 = np.array(
        [[0, 1, 2, 3, 4], [0, 1, 2, 3, 4], [1, 0, 2, 3, 4], [0, 1, 2, 3, 4], [1, 2, 3, 4, 5]]
    )
    lua = metrics.lua_batch_mean(top5, labels, batch_size=2)
    exact = metrics.count(top5, labels).percent()
    print(f"Lua per-batch mean top-1 {lua['top1_err']} % vs exact {exact['top1_err']} %")
    assert lua == {"top1_err": 50.0, "top5_err": pytest.approx(100 / 3)}
    assert exact["top1_err"] == 40.0 and exact["top5_err"] == 20.0


def test_fewer_than_five_classes_means_top5_is_any():
    assert metrics.count(np.array([[1, 0], [0, 1]]), np.array([0, 0])).top5_correct == 2


# --- the loop --------------------------------------------------------------------------------


@pytest.mark.parametrize("crops", [1, 10])
def test_results_match_the_logits_image_by_image(crops):
    data = Images(11, crops=crops)
    model = stand_in_model()
    result = evaluate_model(model, data, batch_size=4)
    classes, scores = expected(model, data, list(range(11)))
    err = np.abs(result.top5_scores - scores).max()
    print(f"{crops} crop(s): max |score - reference| = {err:.2e}")
    assert err < 1e-5
    assert np.array_equal(result.indices, np.arange(11))
    assert np.array_equal(result.top5_classes, classes)
    assert result.labels.tolist() == data.labels
    hits1 = int((classes[:, 0] == np.array(data.labels)).sum())
    hits5 = int((classes == np.array(data.labels)[:, None]).any(1).sum())
    summary = result.summary(lua_batch_size=4)
    assert (summary["n_top1_correct"], summary["n_top5_correct"]) == (hits1, hits5)
    assert summary["top1_err"] == pytest.approx(100 * (1 - hits1 / 11))
    assert summary["lua_batch_mean"]["batch_size"] == 4


def test_workers_give_the_same_results():
    data = Images(9)
    model = stand_in_model()
    alone = evaluate_model(model, data, batch_size=4)
    pooled = evaluate_model(model, data, batch_size=4, workers=2)
    assert np.array_equal(alone.top5_classes, pooled.top5_classes)
    assert np.array_equal(alone.top5_scores, pooled.top5_scores)


def test_a_bad_image_stops_the_run_naming_it():
    with pytest.raises(UserError) as err:
        evaluate_model(stand_in_model(), Images(6, bad=(4,)), batch_size=4)
    print(err.value)
    assert "/data/img4.JPEG: cannot read image" in str(err.value)
    assert "--skip-bad" in str(err.value)


def test_skip_bad_leaves_bad_images_out_and_lists_them():
    data = Images(9, bad=(0, 4, 8))
    model = stand_in_model()
    seen = []
    result = evaluate_model(
        model,
        data,
        batch_size=4,
        skip_bad=True,
        progress=lambda done, total: seen.append((done, total)),
    )
    keep = [1, 2, 3, 5, 6, 7]
    assert result.indices.tolist() == keep
    assert [i for i, _ in result.skipped] == [0, 4, 8]
    assert result.skipped[1][1] == "/data/img4.JPEG: cannot read image"
    assert np.array_equal(result.top5_classes, expected(model, data, keep)[0])
    assert result.summary()["n_skipped"] == 3 and result.n_images == 6
    assert seen == [(4, 9), (8, 9), (9, 9)]  # skipped images count as done


def test_a_plain_dataloader_and_training_mode_restored():
    data = Images(10)
    model = stand_in_model().train()
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(data.images, torch.tensor(data.labels)), batch_size=3
    )
    result = evaluate_model(model, loader)
    assert model.training
    assert result.indices.tolist() == list(range(10))
    assert np.array_equal(result.top5_classes, expected(model, data, list(range(10)))[0])


# --- sharding --------------------------------------------------------------------------------


@pytest.mark.parametrize("world", [1, 2, 3, 8])
@pytest.mark.parametrize("n", [0, 1, 7, 50])
def test_shards_cover_every_index_once_without_padding(n, world):
    shards = [distributed.shard(n, DistInfo(rank=r, world_size=world)) for r in range(world)]
    assert [i for s in shards for i in s] == list(range(n))
    assert max(map(len, shards)) - min(map(len, shards)) <= 1


@pytest.mark.parametrize("world", [2, 3, 8])
@pytest.mark.parametrize("n, batch", [(7, 2), (50, 4), (50, 32), (3, 8)])
def test_shards_are_whole_single_process_batches(n, batch, world):
    shards = [distributed.shard(n, DistInfo(rank=r, world_size=world), batch) for r in range(world)]
    assert [i for s in shards for i in s] == list(range(n))
    assert all(s.start % batch == 0 for s in shards if len(s))
    assert max(map(len, shards)) - min(map(len, shards)) <= batch
