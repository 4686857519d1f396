import numpy as np
import pytest
import torch
from PIL import Image

from mnist_tui.core.analysis import evaluate, misclassified_examples, summarize
from mnist_tui.core.preprocess import prepare_digit


def test_confusion_matrix_and_misclassified_examples():
    # 4 samples: two right, two wrong with different confidence
    probs = torch.tensor([
        [0.9, 0.1] + [0.0] * 8,  # true 0, predicted 0
        [0.2, 0.8] + [0.0] * 8,  # true 0, predicted 1 (0.8)
        [0.6, 0.4] + [0.0] * 8,  # true 1, predicted 0 (0.6)
        [0.1, 0.9] + [0.0] * 8,  # true 1, predicted 1
    ])
    labels = torch.tensor([0, 0, 1, 1])
    result = summarize(probs, labels)
    assert result.accuracy == 0.5
    assert result.confusion[0][:2] == [1, 1] and result.confusion[1][:2] == [1, 1]
    assert sum(map(sum, result.confusion)) == 4
    assert result.per_class_accuracy[:2] == [0.5, 0.5]
    wrong = misclassified_examples(result)
    assert [(m.index, m.true_label, m.predicted_label) for m in wrong] == [(1, 0, 1), (2, 1, 0)]
    assert wrong[0].confidence == 0.800000011920929 or abs(wrong[0].confidence - 0.8) < 1e-6
    assert wrong[0].top3[0][0] == 1 and wrong[0].top3[1][0] == 0
    assert [m.index for m in misclassified_examples(result, true_label=1)] == [2]
    assert [m.index for m in misclassified_examples(result, predicted_label=1)] == [1]
    assert [m.index for m in misclassified_examples(result, sort_by="index")] == [1, 2]


def test_evaluate_batches_and_ensembles(synthetic_data):
    from mnist_tui.core.config import TrainConfig
    from mnist_tui.core.models import build_model

    torch.manual_seed(0)
    models = [build_model(TrainConfig(model="mlp", hidden=(16,))) for _ in range(2)]
    single = evaluate(models[0], synthetic_data.test_images, synthetic_data.test_labels, batch_size=64)
    assert single.probabilities.shape == (200, 10)
    assert torch.allclose(single.probabilities.sum(1), torch.ones(200), atol=1e-5)
    both = evaluate(models, synthetic_data.test_images, synthetic_data.test_labels, batch_size=64, tta=True)
    assert both.probabilities.shape == (200, 10)
    assert not torch.allclose(both.probabilities, single.probabilities)


def test_the_evaluation_batch_size_changes_no_result(synthetic_data):
    """Evaluation batches are sized for speed (EVAL_BATCH_SIZE); the figures are the same at any size."""
    from mnist_tui.core.analysis import EVAL_BATCH_SIZE
    from mnist_tui.core.config import TrainConfig
    from mnist_tui.core.models import build_model

    torch.manual_seed(0)
    model = build_model(TrainConfig(model="cnn", width=8, batchnorm=True)).to(memory_format=torch.channels_last)
    images, labels = synthetic_data.train_images, synthetic_data.train_labels
    assert len(labels) > 2 * EVAL_BATCH_SIZE
    small = evaluate(model, images, labels)
    whole = evaluate(model, images, labels, batch_size=len(labels))
    assert torch.allclose(small.probabilities, whole.probabilities, atol=1e-6)
    assert small.confusion == whole.confusion and small.loss == pytest.approx(whole.loss, rel=1e-6)


def _drawn_seven(size: int, dark_on_light: bool, offset: tuple[int, int]) -> Image.Image:
    background, ink = (255, 0) if dark_on_light else (0, 255)
    image = np.full((size, size), background, dtype=np.uint8)
    top, left = offset
    stroke = size // 20
    image[top:top + stroke, left:left + size // 3] = ink  # the bar of a 7
    for i in range(size // 2):  # the stem
        col = left + size // 3 - i // 3
        image[top + i, max(col - stroke, 0):col] = ink
    return Image.fromarray(image)


def _centre_of_mass(digit: torch.Tensor) -> tuple[float, float]:
    d = digit.float()
    ys, xs = torch.meshgrid(torch.arange(28.0), torch.arange(28.0), indexing="ij")
    return float((ys * d).sum() / d.sum()), float((xs * d).sum() / d.sum())


def test_any_picture_becomes_an_mnist_style_digit():
    a = prepare_digit(_drawn_seven(400, dark_on_light=True, offset=(20, 200)))
    b = prepare_digit(_drawn_seven(120, dark_on_light=False, offset=(50, 10)))
    for digit in (a, b):
        assert digit.shape == (28, 28) and digit.dtype == torch.uint8
        assert digit[0].sum() == 0 and digit[:, 0].sum() == 0  # dark border, light ink
        rows = digit.sum(1).nonzero().flatten()
        cols = digit.sum(0).nonzero().flatten()
        assert rows[-1] - rows[0] <= 21 and cols[-1] - cols[0] <= 21  # fits the 20x20 box
        y, x = _centre_of_mass(digit)
        assert abs(y - 13.5) < 1 and abs(x - 13.5) < 1
    # the same shape, whatever its size, polarity and place, comes out nearly the same
    assert (a.float() - b.float()).abs().mean() < 40


def test_a_blank_picture_is_all_background():
    assert prepare_digit(Image.new("L", (50, 50), 255)).sum() == 0


def test_accuracies_are_the_exact_fractions_json_shows():
    """float32's mean made 99.1% `0.9909999966621399` in `eval --json` and in each run's files."""
    labels = torch.tensor([0, 1, 1, 2, 2, 2])
    probs = torch.nn.functional.one_hot(torch.tensor([0, 1, 0, 2, 2, 1]), 10).float()
    result = summarize(probs, labels)
    assert result.accuracy == 4 / 6 and result.per_class_accuracy[1] == 1 / 2 and result.per_class_accuracy[2] == 2 / 3
