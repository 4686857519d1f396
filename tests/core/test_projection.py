import pytest
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


def _clusters(n_per_class: int = 30, classes: int = 4, dim: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    """Well separated Gaussian blobs: any decent 2-D map keeps each blob together."""
    torch.manual_seed(1)
    centres = torch.randn(classes, dim) * 20
    labels = torch.arange(classes).repeat_interleave(n_per_class)
    return (centres[labels] + torch.randn(len(labels), dim)).half(), labels


def _neighbours_agree(xy: torch.Tensor, labels: torch.Tensor, k: int = 5) -> float:
    d = torch.cdist(xy, xy)
    d.fill_diagonal_(float("inf"))
    return (labels[d.topk(k, largest=False).indices] == labels[:, None]).float().mean().item()


def test_an_optional_method_that_is_not_installed_says_what_to_install():
    from mnist_tui.core.projection import METHODS, MethodUnavailable, method_available, project_2d

    assert method_available("pca") and not method_available("nonsense")
    missing = [m for m in METHODS if not method_available(m)]
    if not missing:
        pytest.skip("umap-learn and openTSNE are both installed")
    package = {"umap": "umap-learn", "tsne": "openTSNE"}[missing[0]]
    with pytest.raises(MethodUnavailable, match=f"pip install {package}"):
        project_2d(_clusters()[0], missing[0])


@pytest.mark.parametrize("method,module", [("umap", "umap"), ("tsne", "openTSNE")])
def test_umap_and_tsne_keep_clusters_together_and_are_cached(method, module, tmp_path, monkeypatch):
    pytest.importorskip(module)
    from mnist_tui.core import projection

    features, labels = _clusters()
    cache = tmp_path / f"embeddings-best-test-{method}.pt"
    placed = projection.cached_projection(features, method, cache)
    assert placed.coordinates.shape == (len(features), 2) and torch.isfinite(placed.coordinates).all()
    assert placed.title == projection.TITLES[method] and _neighbours_agree(placed.coordinates, labels) > 0.95
    assert cache.is_file()

    def refuse(*args, **kwargs):
        raise AssertionError("worked out again although cached")

    monkeypatch.setattr(projection, "project_2d", refuse)
    again = projection.cached_projection(features, method, cache)
    assert torch.equal(again.coordinates, placed.coordinates)
    # other features (a retrained checkpoint) or a torn file are worked out again
    monkeypatch.undo()
    cache.write_bytes(b"torn")
    assert projection.cached_projection(features, method, cache).coordinates.shape == (len(features), 2)
    other = projection.cached_projection(features + 1, method, cache)
    assert other.coordinates.shape == (len(features), 2)


def test_pca_is_never_cached(tmp_path):
    from mnist_tui.core.projection import cached_projection

    placed = cached_projection(_clusters()[0], "pca", tmp_path / "never.pt")
    assert placed.method == "pca" and placed.title.startswith("PCA ") and not (tmp_path / "never.pt").exists()
