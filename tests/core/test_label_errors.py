import pytest
import torch

from mnist_tui.core.analysis import predict_probabilities
from mnist_tui.core.checkpoints import load_checkpoint, model_from_checkpoint
from mnist_tui.core.label_errors import (
    cross_validated_probabilities, find_label_issues, flag_label_issues, per_class_thresholds,
)
from tests.core.tiny_runs import TINY, train_tiny_run


@pytest.fixture(scope="module")
def test_probabilities(synthetic_data, tmp_path_factory):
    run = train_tiny_run(synthetic_data, tmp_path_factory.mktemp("runs"), "tiny")
    model = model_from_checkpoint(load_checkpoint(run / "best.pt"))[0]
    return predict_probabilities(model, synthetic_data.test_images)


def _flip(labels: torch.Tensor, index: int, to: int) -> torch.Tensor:
    flipped = labels.clone()
    flipped[index] = to
    return flipped


@pytest.mark.parametrize("filter_by", ["prune_by_noise_rate", "confident_learning"])
def test_a_flipped_test_label_is_ranked_first(test_probabilities, synthetic_data, filter_by):
    labels = synthetic_data.test_labels
    # a digit the model is sure of (confident learning only counts digits at or above
    # their class's mean self-confidence, so a borderline digit would rightly not count)
    index = int(test_probabilities[torch.arange(len(labels)), labels].argmax())
    true = int(labels[index])
    wrong = (true + 5) % 10
    issues = find_label_issues(test_probabilities, _flip(labels, index, wrong), filter_by)
    assert issues[0].index == index
    assert (issues[0].given_label, issues[0].suggested_label) == (wrong, true)
    assert issues[0].score == pytest.approx(1 - float(test_probabilities[index, wrong]))
    assert [i.score for i in issues] == sorted((i.score for i in issues), reverse=True)


def test_clean_confident_labels_raise_no_issue():
    probabilities = torch.eye(10).repeat(5, 1) * 0.9 + 0.01  # every digit 91% its own class
    labels = torch.arange(10).repeat(5)
    assert torch.allclose(per_class_thresholds(probabilities, labels), torch.full((10,), 0.91))
    assert not flag_label_issues(probabilities, labels).any()


def test_noise_rate_flags_as_many_as_the_confident_joint_counts():
    # 20 digits labelled 0: 17 look like 0, three look like 1 with different margins
    probabilities = torch.full((30, 10), 0.0)
    probabilities[:17, 0] = 1.0
    probabilities[17:20, 1] = torch.tensor([0.9, 0.8, 0.7])
    probabilities[17:20, 0] = 1 - probabilities[17:20, 1]
    probabilities[20:, 1] = 0.8  # class 1's threshold: 0.8
    probabilities[20:, 0] = 0.2
    labels = torch.tensor([0] * 20 + [1] * 10)
    # 17 and 18 reach class 1's threshold; 19 (0.7) reaches no threshold, so it is not counted
    assert [i.index for i in find_label_issues(probabilities, labels, "confident_learning")] == [17, 18]
    issues = find_label_issues(probabilities, labels)
    assert [i.index for i in issues] == [17, 18]
    assert all(i.suggested_label == 1 for i in issues)
    assert issues[0].score == pytest.approx(0.9)


def test_cross_validation_finds_a_flipped_training_label(synthetic_data):
    images, labels = synthetic_data.train_images, synthetic_data.train_labels
    clean = cross_validated_probabilities(TINY, images, labels, folds=3, epochs=3)
    index = int(clean[torch.arange(len(labels)), labels].argmax())  # a digit the model is sure of
    flipped = _flip(labels, index, (int(labels[index]) + 3) % 10)
    progress = []
    probabilities = cross_validated_probabilities(TINY, images, flipped, folds=3, epochs=3,
                                                  progress=lambda done, total: progress.append((done, total)))
    assert progress == [(1, 3), (2, 3), (3, 3)]
    assert probabilities.shape == (600, 10) and torch.allclose(probabilities.sum(1), torch.ones(600), atol=1e-4)
    issues = find_label_issues(probabilities, flipped)
    assert issues[0].index == index and issues[0].suggested_label == int(labels[index])


def test_issues_for_a_saved_evaluation_are_not_guessed(tmp_path, test_probabilities, synthetic_data):
    from mnist_tui.core.analysis import save_evaluation, saved_evaluation, summarize
    from mnist_tui.core.label_errors import issues_for_evaluation

    labels = synthetic_data.test_labels
    index = int(test_probabilities[torch.arange(len(labels)), labels].argmax())
    flipped = _flip(labels, index, (int(labels[index]) + 5) % 10)
    issues = issues_for_evaluation(test_probabilities, flipped)
    assert index in issues and issues[index].suggested_label == int(labels[index])
    save_evaluation(tmp_path, summarize(test_probabilities, flipped), synthetic_data.test_images, "best.pt")
    evaluation, _ = saved_evaluation(tmp_path)
    assert issues_for_evaluation(evaluation.probabilities, evaluation.labels) is None


def test_an_under_confident_model_is_calibrated_before_its_labels_are_judged():
    """As a model trained with label smoothing: its answers sit well below 100%, so a mislabelled
    digit's probability stays under the class's mean self-confidence unless the probabilities are
    first brought to the temperature that fits the labels (the shipped strong model flagged nothing)."""
    from mnist_tui.core.label_errors import calibration_temperature

    g = torch.Generator().manual_seed(4)
    labels = torch.arange(10).repeat_interleave(50)
    logits = torch.randn(len(labels), 10, generator=g)
    logits[torch.arange(len(labels)), labels] += 8 + 6 * torch.rand(len(labels), generator=g)
    given = labels.clone()
    logits[3] = torch.randn(10, generator=g)
    logits[3, 1] += 9  # digit 3 is a clear 1...
    given[3] = 0  # ...labelled 0
    sharp, soft = torch.softmax(logits, dim=1), torch.softmax(logits / 3, dim=1)
    assert flag_label_issues(sharp, given, calibrate=False)[3]
    assert not flag_label_issues(soft, given, calibrate=False)[3]  # the under-confident model misses it
    assert calibration_temperature(soft, given) < 0.5
    issues = find_label_issues(soft, given)
    assert [i.index for i in issues] == [3] and issues[0].suggested_label == 1
    assert issues[0].score == pytest.approx(1 - float(soft[3, 0]))  # scored on the model's own probabilities
    assert calibration_temperature(sharp, given) == pytest.approx(1, abs=0.2)  # a confident model is left alone


@pytest.mark.parametrize("filter_by", ["prune_by_noise_rate", "confident_learning"])
def test_a_model_near_chance_flags_no_label(filter_by):
    """A run at 11% accuracy had 8,856 of its 8,865 mistakes flagged, "label looks wrong" at 14% (walk22 F5)."""
    generator = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 10, (2000,), generator=generator)
    probabilities = torch.softmax(torch.randn(2000, 10, generator=generator), dim=1)  # a guess, whatever the digit
    assert float((probabilities.argmax(dim=1) == labels).float().mean()) == pytest.approx(0.1, abs=0.03)
    assert not flag_label_issues(probabilities, labels, filter_by).any()
    assert all(not issue.flagged for issue in find_label_issues(probabilities, labels, filter_by, include_unflagged=True))
