"""Every plot draws on tiny inputs; saliency is a gradient that is zero where the model does not look."""
from collections import namedtuple

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from mer_utils import plots as P  # noqa: E402

Fold = namedtuple("Fold", "name train test")


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def _predictions():
    return pd.DataFrame({"fold": ["a", "a", "b", "b"], "true": [0, 1, 2, 0], "pred": [0, 1, 1, 0],
                         "subject_uid": ["x/1", "x/1", "y/2", "y/2"], "dataset": ["x", "x", "y", "y"]})


def test_confusion_and_subject_plots():
    ax = P.plot_confusion(_predictions(), ["n", "p", "s"])
    assert [t.get_text() for t in ax.get_xticklabels()] == ["n", "p", "s"]
    P.plot_confusion(np.eye(3) * 4, ["n", "p", "s"], normalize=None)
    with pytest.raises(ValueError, match="class names"):
        P.plot_confusion(np.eye(2), ["n", "p", "s"])
    ax = P.plot_per_subject_accuracy(_predictions(), chance=1 / 3)
    assert len(ax.patches) >= 2


def test_learning_curves_single_and_folds():
    h = pd.DataFrame({"epoch": [1, 2, 3], "train_loss": [1.0, 0.5, 0.3], "val_loss": [1.1, 0.8, 0.9],
                      "train_acc": [0.3, 0.6, 0.9], "val_acc": [0.3, 0.5, 0.4], "selected": [False, True, False]})
    axes = P.plot_learning_curves(h)
    assert len(axes) == 2 and len(axes[0].lines) == 3  # train, val, selected epoch
    P.plot_learning_curves({"f1": h, "f2": h.assign(train_loss=h["train_loss"] * 2)})


def test_tsne_frames_folds_comparison():
    rng = np.random.default_rng(0)
    ax = P.plot_tsne(rng.normal(size=(12, 5)), [0, 1, 2] * 4, ["a", "b", "c"])
    assert len(ax.collections) >= 1
    P.plot_frame_strip(rng.integers(0, 255, (10, 8, 8)).astype(np.uint8), n=4)
    table = pd.DataFrame({"subject_uid": ["x/1", "x/1", "x/2", "y/3"], "dataset": ["x", "x", "x", "y"]})
    ax = P.plot_folds(table, [Fold("x/1", [2, 3], [0, 1]), Fold("y/3", [0, 1, 2], [3]), Fold("leak", [0, 2], [1])])
    img = ax.images[0].get_array()
    assert img.shape == (3, 3) and img[0, 0] == 2 and img[0, 1] == 1 and img[2, 0] == 3
    comp = pd.DataFrame({"method": ["A", "A"], "where": ["p / d", "p / d"], "source": ["this course", "paper"],
                         "uf1": [0.4, 0.6]})
    P.plot_comparison(comp, "uf1")


def test_saliency_is_zero_where_the_model_does_not_look():
    class LeftHalf(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = torch.nn.Linear(4 * 4 * 2, 3)

        def forward(self, x):  # x (B, T=4, H=4, W=4): only the left half of every frame matters
            return self.fc(x[..., :2].flatten(1))

    torch.manual_seed(0)
    x = torch.rand(4, 4, 4)
    sal, cls = P.saliency_map(LeftHalf(), x)
    assert sal.shape == (4, 4, 4) and 0 <= cls < 3
    assert np.all(sal[..., 2:] == 0) and sal[..., :2].sum() > 0
    P.plot_saliency(x.numpy(), sal, n=3)


def test_lbp_top_planes_and_leakage_plot():
    clip = np.random.default_rng(0).integers(0, 255, (6, 16, 16)).astype(np.uint8)
    axes = P.plot_lbp_top(clip, blocks=2)
    assert len(axes) == 4 and len(axes[3].lines) == 3
    t = pd.DataFrame({"shuffle": [0, 0, 1, 1], "protocol": ["honest", "leak"] * 2, "uar": [0.2, 0.5, 0.25, 0.45]})
    ax = P.plot_leakage(t, "uar", chance=0.2)
    assert [tl.get_text() for tl in ax.get_yticklabels()] == ["honest", "leak"]
