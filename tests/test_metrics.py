import numpy as np
import pytest

from voxage.evaluation.metrics import speaker_weights, summarize


def test_metrics_on_a_known_confusion():
    y_true = np.array([0, 0, 0, 0, 1, 1, 5, 5])
    y_pred = np.array([0, 0, 1, 2, 1, 1, 4, 0])
    m = summarize(y_true, y_pred)
    assert m["accuracy"] == pytest.approx(4 / 8)
    assert m["balanced_accuracy"] == pytest.approx((0.5 + 1.0 + 0.0) / 3)  # only classes present count
    assert m["off_by_one_accuracy"] == pytest.approx(6 / 8)
    assert m["per_class"]["teens"]["precision"] == pytest.approx(2 / 3)
    assert m["confusion_matrix"][5][4] == 1


def test_no_clips_score_zeros_instead_of_failing():
    """An empty split, or gender metrics on a corpus with no gender labels, must not stop a crossval."""
    m = summarize(np.array([], dtype=int), np.array([], dtype=int), np.zeros((0, 6)))
    assert m["n"] == 0 and m["balanced_accuracy"] == 0.0 and m["confusion_matrix"] == [[0] * 6] * 6
    assert "loss" not in m


def test_weighted_by_speaker_each_speaker_counts_once():
    """A test speaker with eight clips must not outvote one with two: per clip, recall would read 0.8."""
    y_true, y_pred = np.zeros(10, dtype=int), np.array([0] * 8 + [3] * 2)
    m = summarize(y_true, y_pred, weights=speaker_weights(["a"] * 8 + ["b"] * 2))
    assert summarize(y_true, y_pred)["balanced_accuracy"] == pytest.approx(0.8)
    assert m["balanced_accuracy"] == pytest.approx(0.5) and m["off_by_one_accuracy"] == pytest.approx(0.5)
    assert m["confusion_matrix"][0] == pytest.approx([1, 0, 0, 1, 0, 0])
