import torch

from mnist_tui.core.projection import pca_2d


def test_pca_finds_the_spread_out_axis_and_is_repeatable():
    torch.manual_seed(0)
    # 500 points spread along (1, 1, 0, 0), a little along (0, 0, 1, 0), barely elsewhere
    t = torch.randn(500, 1) * 10
    s = torch.randn(500, 1) * 2
    features = torch.cat([t, t, s, torch.randn(500, 1) * 0.1], dim=1) + 5
    projection = pca_2d(features)
    assert projection.coordinates.shape == (500, 2)
    axis = projection.axes[:, 0]
    assert torch.allclose(axis.abs(), torch.tensor([0.7071, 0.7071, 0.0, 0.0]), atol=0.02)
    assert projection.explained[0] > 0.9 > projection.explained[1] > 0.005
    assert torch.allclose(projection.coordinates.mean(dim=0), torch.zeros(2), atol=1e-3)
    again = pca_2d(features.half())  # the cache's dtype gives the same picture, signs included
    assert torch.allclose(again.coordinates, projection.coordinates, atol=0.05)
    assert torch.allclose(projection.project(features[:3]), projection.coordinates[:3], atol=1e-4)
