import shutil
from pathlib import Path

import pytest
import torch

from mnist_tui.core import data_files as data_module
from mnist_tui.core.data import DataUnavailable, batch_order, load_mnist, random_affine, split, training_batches
from mnist_tui.core.data_files import resolve_data_dir
from tests.synthetic import write_synthetic_mnist


def test_reads_exactly_what_torchvisions_mnist_class_reads(synthetic_root, synthetic_data):
    # the training path parses the checked files itself (torchvision's import costs ~170 MB);
    # it must agree with torchvision's own MNIST dataset byte for byte
    from torchvision.datasets import MNIST

    for train, images, labels in ((True, synthetic_data.train_images, synthetic_data.train_labels),
                                  (False, synthetic_data.test_images, synthetic_data.test_labels)):
        reference = MNIST(str(synthetic_root), train=train, download=False)
        assert torch.equal(images, reference.data)
        assert torch.equal(labels, reference.targets)


def test_loads_synthetic_files(synthetic_data):
    assert synthetic_data.train_images.shape == (600, 28, 28)
    assert synthetic_data.train_images.dtype == torch.uint8
    assert synthetic_data.test_images.shape == (200, 28, 28)
    assert synthetic_data.train_labels.dtype == torch.int64
    assert set(synthetic_data.train_labels.tolist()) == set(range(10))


def test_accepts_the_raw_folder_itself(synthetic_root):
    data = load_mnist(synthetic_root / "MNIST" / "raw", download=False)
    assert len(data.train_labels) == 600


def test_data_dir_flag_then_env_then_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("MNIST_TUI_DATA", str(tmp_path / "env"))
    assert resolve_data_dir(tmp_path / "flag") == tmp_path / "flag"
    assert resolve_data_dir(None) == tmp_path / "env"
    monkeypatch.delenv("MNIST_TUI_DATA")
    assert resolve_data_dir(None) == data_module.default_data_dir()


def _assert_helpful(message: str, folder: Path) -> None:
    assert str(folder / "MNIST" / "raw") in message
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                 "t10k-labels-idx1-ubyte"):
        assert name in message
    assert "--data-dir" in message and "MNIST_TUI_DATA" in message


def test_missing_files_name_the_folder_the_files_and_the_fix(tmp_path):
    with pytest.raises(DataUnavailable) as info:
        load_mnist(tmp_path, download=False)
    _assert_helpful(str(info.value), tmp_path)


def test_failed_download_is_reported_the_same_way(tmp_path, monkeypatch):
    import torchvision.datasets

    def offline(self):
        raise RuntimeError("Error downloading train-images-idx3-ubyte.gz")

    monkeypatch.setattr(torchvision.datasets.MNIST, "download", offline)
    with pytest.raises(DataUnavailable) as info:
        load_mnist(tmp_path, download=True)
    assert "could not be downloaded" in str(info.value)
    _assert_helpful(str(info.value), tmp_path)


def test_a_long_download_error_is_cut_after_a_word_and_says_so(tmp_path, monkeypatch):
    import torchvision.datasets

    def offline(self):  # torchvision lists every mirror it tried
        raise RuntimeError("Error downloading train-images-idx3-ubyte.gz:\n" + "Tried https://mirror.example/mnist/, "
                           "got: <urlopen error [Errno -3] Temporary failure in name resolution>\n" * 4)

    monkeypatch.setattr(torchvision.datasets.MNIST, "download", offline)
    with pytest.raises(DataUnavailable) as info:
        load_mnist(tmp_path, download=True)
    said = next(line for line in str(info.value).splitlines() if "The download said:" in line)
    said = said.split("The download said: ", 1)[1]
    assert said.endswith("…") and len(said) <= 200
    words = said[:-1].split()
    assert all(word in "Error downloading train-images-idx3-ubyte.gz: Tried https://mirror.example/mnist/, got: "
               "<urlopen error [Errno -3] Temporary failure in name resolution>" for word in words)  # whole words


@pytest.fixture
def copied_root(synthetic_root, tmp_path):
    root = tmp_path / "copy"
    shutil.copytree(synthetic_root, root)
    return root


def test_truncated_file_is_refused(copied_root):
    path = copied_root / "MNIST" / "raw" / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(DataUnavailable) as info:
        load_mnist(copied_root, download=False)
    assert "truncated" in str(info.value) and "train-images-idx3-ubyte" in str(info.value)
    _assert_helpful(str(info.value), copied_root)


def test_a_damaged_file_gets_a_fix_that_works(copied_root, synthetic_root, monkeypatch):
    # its fix said "connect to the internet so torchvision can download them": nothing downloads over it
    import torchvision

    path = copied_root / "MNIST" / "raw" / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(DataUnavailable) as info:
        load_mnist(copied_root, download=True)
    fix = next(line for line in str(info.value).splitlines() if line.startswith("To fix:"))
    assert "replace the damaged file with a good copy" in fix and f"delete the folder {path.parent} and" in fix
    shutil.rmtree(copied_root / "MNIST" / "raw")  # as the fix says; then the download brings it back

    def download(self):
        shutil.copytree(synthetic_root / "MNIST" / "raw", copied_root / "MNIST" / "raw")

    monkeypatch.setattr(torchvision.datasets.MNIST, "download", download)
    assert len(load_mnist(copied_root, download=True).train_labels) == 600


@pytest.mark.parametrize("damage", ["truncate", "delete"])
def test_one_split_reads_its_own_two_files_only(copied_root, synthetic_data, damage):
    """eval, explain, map and export's check read the four files: a damaged or missing training file stopped them,
    saying the test set was missing (walk35 F7)."""
    path = copied_root / "MNIST" / "raw" / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:1000]) if damage == "truncate" else path.unlink()
    test = load_mnist(copied_root, download=False, only="test")
    assert torch.equal(test.test_images, synthetic_data.test_images)
    assert torch.equal(test.test_labels, synthetic_data.test_labels)
    assert test.train_images.shape == (0, 28, 28) and len(test.train_labels) == 0
    with pytest.raises(DataUnavailable) as info:  # the training split still says what is wrong with it
        load_mnist(copied_root, download=False, only="train")
    assert "train-images-idx3-ubyte" in str(info.value) and "t10k" not in str(info.value)


def test_wrong_magic_number_is_refused(copied_root):
    path = copied_root / "MNIST" / "raw" / "t10k-labels-idx1-ubyte"
    raw = bytearray(path.read_bytes())
    raw[2:4] = b"\x0d\x03"
    path.write_bytes(bytes(raw))
    with pytest.raises(DataUnavailable) as info:
        load_mnist(copied_root, download=False)
    assert "magic number" in str(info.value)


def test_validation_split_is_fixed_by_the_seed(synthetic_data):
    a, b, c = split(synthetic_data, 100, 0), split(synthetic_data, 100, 0), split(synthetic_data, 100, 1)
    assert len(a.val_labels) == 100 and len(a.train_labels) == 500
    assert torch.equal(a.val_images, b.val_images)
    assert not torch.equal(a.val_images, c.val_images)
    with pytest.raises(DataUnavailable):
        split(synthetic_data, 600, 0)


def test_batches_are_normalised_and_cover_the_epoch(synthetic_data):
    order = batch_order(600, seed=0, epoch=1)
    batches = list(training_batches(synthetic_data.train_images, synthetic_data.train_labels, 64, order))
    assert sum(len(y) for _, y in batches) == 600
    x, _ = batches[0]
    assert x.shape == (64, 1, 28, 28) and x.dtype == torch.float32
    assert abs(float(x.min()) - (0 - 0.1307) / 0.3081) < 1e-4
    assert torch.equal(order, batch_order(600, seed=0, epoch=1))
    assert not torch.equal(order, batch_order(600, seed=0, epoch=2))


def test_augmentation_draws_parameters_per_sample():
    image = torch.zeros(1, 1, 28, 28)
    image[0, 0, 8:20, 12:16] = 1
    batch = image.repeat(8, 1, 1, 1)
    out = random_affine(batch, rotate=15, translate=0.1, scale=0.1, generator=torch.Generator().manual_seed(0))
    assert out.shape == batch.shape
    distinct = {tuple(out[i].flatten().round(decimals=3).tolist()) for i in range(8)}
    assert len(distinct) == 8  # one draw per batch would make them all equal


def test_member_views_are_drawn_apart_and_share_the_labels():
    images = torch.zeros(6, 28, 28, dtype=torch.uint8)
    images[:, 8:20, 12:16] = 255
    labels = torch.arange(6)
    order = torch.arange(6)
    x, y = next(training_batches(images, labels, 6, order, rotate=20, generator=torch.Generator().manual_seed(0),
                                 views=3))
    assert x.shape == (18, 1, 28, 28) and y.tolist() == list(range(6))
    first, second, third = x.chunk(3)
    assert not torch.allclose(first, second) and not torch.allclose(second, third)
    plain, _ = next(training_batches(images, labels, 6, order, views=3))  # nothing to vary without augmentation
    assert plain.shape == (6, 1, 28, 28)


def test_zero_strength_augmentation_is_the_identity():
    image = torch.rand(4, 1, 28, 28)
    out = random_affine(image, 0, 0, 0, torch.Generator().manual_seed(0))
    assert torch.allclose(out, image, atol=1e-5)


def test_write_synthetic_is_deterministic(tmp_path):
    a = write_synthetic_mnist(tmp_path / "a", 50, 20, seed=3)
    b = write_synthetic_mnist(tmp_path / "b", 50, 20, seed=3)
    for name in ("train-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        assert (a / "MNIST/raw" / name).read_bytes() == (b / "MNIST/raw" / name).read_bytes()


def test_other_mnist_format_datasets_use_their_own_folder(synthetic_root, tmp_path):
    shutil.copytree(synthetic_root / "MNIST", tmp_path / "FashionMNIST")
    data = load_mnist(tmp_path, download=False, dataset="fashion-mnist")
    assert data.dataset == "fashion-mnist" and len(data.train_labels) == 600
    # MNIST's files are never taken for Fashion-MNIST's
    with pytest.raises(DataUnavailable) as info:
        load_mnist(tmp_path / "none", download=False, dataset="fashion-mnist")
    assert str(tmp_path / "none" / "FashionMNIST" / "raw") in str(info.value)  # where the files go
    # named as the form and the status line name it: the dialog said "FashionMNIST" (walk37 F9)
    assert str(info.value).startswith("Fashion-MNIST is not on disk.")
    with pytest.raises(DataUnavailable) as info:
        load_mnist(synthetic_root, download=False, dataset="kmnist")
    assert str(synthetic_root / "KMNIST" / "raw") in str(info.value)


def test_elastic_distortion_bends_each_digit_its_own_way():
    image = torch.zeros(1, 1, 28, 28)
    image[0, 0, 6:22, 12:16] = 1
    batch = image.repeat(4, 1, 1, 1)
    out = random_affine(batch, 0, 0, 0, torch.Generator().manual_seed(0), elastic=34)
    assert not torch.allclose(out[0], image[0], atol=0.05)
    assert not torch.allclose(out[0], out[1], atol=0.05)  # a field per sample
    # a local warp, not a move: the ink stays where it was, give or take a couple of pixels
    assert abs(float(out.sum() / batch.sum()) - 1) < 0.15
    assert float(out[:, :, :4].sum()) == 0 and float(out[:, :, 24:].sum()) == 0


@pytest.mark.parametrize("exists", [False, True], ids=["new-folder", "empty-folder"])
def test_a_failed_download_leaves_no_folders_behind(tmp_path, monkeypatch, exists):
    import torchvision.datasets

    # torchvision's own download, from a mirror that is not there (no network needed, none used)
    monkeypatch.setattr(torchvision.datasets.MNIST, "mirrors", [(tmp_path / "no-mirror").as_uri() + "/"])
    root = tmp_path / "data" / "nested"
    if exists:
        root.mkdir(parents=True)
    with pytest.raises(DataUnavailable, match="could not be downloaded"):
        load_mnist(root, download=True)
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == (
        [Path("data"), Path("data/nested")] if exists else [])  # no MNIST/raw (`runs` listed it as a run)
