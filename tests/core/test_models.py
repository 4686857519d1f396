import pytest
import torch

from mnist_tui.core.config import MODELS, TrainConfig
from mnist_tui.core.models import build_model, parameter_count


@pytest.mark.parametrize("model", MODELS)
def test_each_model_maps_a_batch_to_ten_logits(model):
    net = build_model(TrainConfig(model=model))
    assert net(torch.zeros(3, 1, 28, 28)).shape == (3, 10)
    assert parameter_count(net) > 1000


def test_seed_mlp_has_the_seed_notebooks_size():
    # 784*128+128 + 128*64+64 + 64*10+10
    assert parameter_count(build_model(TrainConfig(model="mlp", hidden=(128, 64)))) == 109_386


def test_lenet5_follows_lecun_1998():
    # conv 6 (5x5), conv 16 (5x5), 120, 84, 10: 61,706 parameters
    assert parameter_count(build_model(TrainConfig(model="lenet5"))) == 61_706


def test_cnn_width_is_configurable():
    small = parameter_count(build_model(TrainConfig(model="cnn", width=8)))
    large = parameter_count(build_model(TrainConfig(model="cnn", width=32)))
    assert small < large


def test_an_ensemble_trains_its_members_apart_and_predicts_their_mean():
    torch.manual_seed(0)
    net = build_model(TrainConfig(model="cnn", width=4, members=3))
    x = torch.randn(5, 1, 28, 28)
    assert parameter_count(net) == 3 * parameter_count(build_model(TrainConfig(model="cnn", width=4)))
    net.train()
    assert net(x).shape == (15, 10)  # every member's logits, stacked, for a per-member loss
    net.eval()
    mean = torch.stack([member(x).softmax(1) for member in net.members]).mean(0)
    assert torch.allclose(net(x).softmax(1), mean, atol=1e-6)
    assert net(x).argmax(1).tolist() == mean.argmax(1).tolist()


def test_fastcnn_reads_only_the_centre_24x24():
    # the fast preset's network crops MNIST's empty 2-pixel rim before its strided first conv
    torch.manual_seed(0)
    net = build_model(TrainConfig(model="fastcnn", width=16)).eval()
    x = torch.randn(2, 1, 28, 28)
    rim = x.clone()
    rim[:, :, :2], rim[:, :, -2:], rim[:, :, :, :2], rim[:, :, :, -2:] = 5.0, 5.0, 5.0, 5.0
    assert torch.equal(net(x), net(rim))
    centre = x.clone()
    centre[:, :, 14, 14] += 5.0
    assert not torch.equal(net(x), net(centre))
    # conv 1->16 5x5 (+bias), conv 16->24 3x3 (no bias), batchnorm 24, fc 384->192, fc 192->10
    assert parameter_count(net) == (16 * 25 + 16) + 16 * 24 * 9 + 2 * 24 + (384 * 192 + 192) + (192 * 10 + 10)


def test_ensemble_member_views_go_one_to_each_member():
    torch.manual_seed(0)
    net = build_model(TrainConfig(model="cnn", width=4, members=3)).train()
    views = torch.randn(3 * 5, 1, 28, 28)
    out = net.forward_views(views)
    assert out.shape == (15, 10)
    net.eval()  # no batchnorm statistics or dropout in the way of the comparison
    expected = torch.cat([member(view) for member, view in zip(net.members, views.chunk(3))])
    assert torch.allclose(net.forward_views(views), expected)
