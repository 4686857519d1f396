import os

import pytest
import torch

from mnist_tui.core.checkpoints import load_checkpoint, model_from_checkpoint
from mnist_tui.core.embeddings import (
    NeighbourIndex, cache_path, cached_embeddings, compute_embeddings, embed_digit, nearest_training_digits,
)
from tests.core.tiny_runs import train_tiny_run


@pytest.fixture(scope="module")
def run_dir(synthetic_data, tmp_path_factory):
    return train_tiny_run(synthetic_data, tmp_path_factory.mktemp("runs"), "tiny")


@pytest.fixture(scope="module")
def model(run_dir):
    return model_from_checkpoint(load_checkpoint(run_dir / "best.pt"))[0]


def test_two_threads_embedding_with_one_model_each_get_their_own_features(model, synthetic_data):
    """The app's Map and Why workers share the loaded model: each one's hook also kept the other's batches
    ("Sizes of tensors must match ... Expected size 192 but got size 384")."""
    from concurrent.futures import ThreadPoolExecutor

    images, labels = synthetic_data.train_images, synthetic_data.train_labels
    alone = compute_embeddings(model, images, labels, batch_size=8)
    with ThreadPoolExecutor(2) as pool:
        together = list(pool.map(lambda _: compute_embeddings(model, images, labels, batch_size=8), range(4)))
    for emb in together:
        assert emb.features.shape == alone.features.shape and torch.equal(emb.features, alone.features)


def test_features_are_the_penultimate_layer_in_batches_with_progress(model, synthetic_data):
    seen = []
    emb = compute_embeddings(model, synthetic_data.train_images, synthetic_data.train_labels,
                             progress=lambda done, total: seen.append((done, total)), batch_size=256)
    assert emb.features.shape == (600, 32) and emb.features.dtype == torch.float16  # the MLP's hidden width
    assert seen == [(256, 600), (512, 600), (600, 600)]
    assert torch.allclose(emb.probabilities.sum(dim=1), torch.ones(600), atol=1e-5)


def test_neighbours_of_a_training_digit_include_itself_at_distance_0(model, synthetic_data):
    train = compute_embeddings(model, synthetic_data.train_images, synthetic_data.train_labels)
    for i in (0, 17, 599):
        neighbours = nearest_training_digits(embed_digit(model, synthetic_data.train_images[i]), train)
        assert len(neighbours) == 8
        assert neighbours[0].index == i and neighbours[0].distance == 0.0
        assert [n.distance for n in neighbours] == sorted(n.distance for n in neighbours)
        # the synthetic classes are well separated: the neighbours share the digit's label
        assert all(n.label == int(synthetic_data.train_labels[i]) for n in neighbours)
    index = NeighbourIndex(train)
    assert all(n.index != 17 for n in index.nearest(embed_digit(model, synthetic_data.train_images[17]), exclude=17))


def _build(model, run_dir, data, calls):
    return cached_embeddings(model, run_dir / "best.pt", data.train_images, data.train_labels, "train",
                             progress=lambda done, total: calls.append(done))


def test_cache_is_reused_then_rebuilt_when_the_checkpoint_changes(model, run_dir, synthetic_data):
    calls: list[int] = []
    first = _build(model, run_dir, synthetic_data, calls)
    path = cache_path(run_dir / "best.pt", "train")
    assert path.is_file() and path.name == "embeddings-best-train.pt"
    computed = len(calls)
    assert computed >= 1
    stamp = path.stat().st_mtime_ns
    second = _build(model, run_dir, synthetic_data, calls)
    assert len(calls) == computed + 1 and path.stat().st_mtime_ns == stamp  # read, not recomputed
    assert torch.equal(first.features, second.features)
    checkpoint = run_dir / "best.pt"
    later = checkpoint.stat().st_mtime_ns + 5_000_000_000
    os.utime(checkpoint, ns=(later, later))  # as if retrained
    calls.clear()
    _build(model, run_dir, synthetic_data, calls)
    assert path.stat().st_mtime_ns != stamp and calls[-1] == 600


@pytest.mark.parametrize("garbage", [b"", b"not a torch file", b"PK\x03\x04 truncated zip"])
def test_a_corrupt_cache_is_ignored_and_rebuilt(model, run_dir, synthetic_data, garbage):
    path = cache_path(run_dir / "best.pt", "train")
    path.write_bytes(garbage)
    emb = _build(model, run_dir, synthetic_data, [])
    assert emb.features.shape == (600, 32)
    assert torch.load(path, weights_only=True)["features"].shape == (600, 32)


def test_a_cache_for_other_data_is_not_used(model, run_dir, synthetic_data):
    _build(model, run_dir, synthetic_data, [])
    fewer = cached_embeddings(model, run_dir / "best.pt", synthetic_data.train_images[:100],
                              synthetic_data.train_labels[:100], "train")
    assert fewer.features.shape == (100, 32)


def test_a_network_that_gives_every_digit_the_same_features_has_no_nearest_digits(model, synthetic_data):
    """A collapsed network's "nearest" were ties at d0.0, ranked by training index (walk36 F6)."""
    import copy

    collapsed = copy.deepcopy(model)
    first = next(m for m in collapsed.modules() if isinstance(m, torch.nn.Linear))
    torch.nn.init.zeros_(first.weight)
    torch.nn.init.zeros_(first.bias)  # the hidden layer's ReLU then gives 0 for every digit
    images, labels = synthetic_data.train_images, synthetic_data.train_labels
    assert NeighbourIndex(compute_embeddings(collapsed, images, labels)).alike
    assert not NeighbourIndex(compute_embeddings(model, images, labels)).alike
