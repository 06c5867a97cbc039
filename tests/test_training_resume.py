"""Issue 20, item 2: a fold killed mid-training resumes from its mid-fold checkpoint with the same final
weights (and so the same predictions) as an uninterrupted run."""
import numpy as np
import pandas as pd
import pytest
import torch

from mer_utils.training import ClipDataset, TrainConfig, fit, loop


def _data():
    rng = np.random.default_rng(0)
    n = 40
    table = pd.DataFrame({"clip_uid": [f"c{i}" for i in range(n)], "subject_uid": [f"s{i % 8}" for i in range(n)],
                          "dataset": "toy", "label": np.arange(n) % 3})
    x = (rng.normal(size=(n, 6)) + table["label"].to_numpy()[:, None]).astype(np.float32)
    return ClipDataset(table, torch.from_numpy(x))


def _model():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.ReLU(), torch.nn.Dropout(0.3), torch.nn.Linear(16, 3))


def _config():
    return TrainConfig(epochs=5, batch_size=8, optimizer="sgd", lr=0.05, balance="sampler",
                       scheduler=lambda opt: torch.optim.lr_scheduler.StepLR(opt, 2, 0.5))


def test_a_killed_fold_resumes_mid_fold_with_identical_weights(tmp_path, monkeypatch):
    data, idx = _data(), np.arange(32)
    torch.manual_seed(1)
    whole = fit(_model(), data, idx, _config(), device="cpu", seed=3, progress=False)
    path = tmp_path / "resume.pt"
    real = loop.atomic_torch_save

    def killed_after_epoch_3(p, state):
        real(p, state)
        if state["epoch"] == 3:
            raise KeyboardInterrupt("killed")

    monkeypatch.setattr(loop, "atomic_torch_save", killed_after_epoch_3)
    torch.manual_seed(1)
    with pytest.raises(KeyboardInterrupt):
        fit(_model(), data, idx, _config(), device="cpu", seed=3, progress=False, resume=path, resume_every_s=0)
    assert path.exists()
    monkeypatch.setattr(loop, "atomic_torch_save", real)
    torch.manual_seed(99)  # a restarted process: the saved random states count, not this one
    resumed = fit(_model(), data, idx, _config(), device="cpu", seed=3, progress=False, resume=path,
                  resume_every_s=0)
    assert not path.exists() and list(resumed.history["epoch"]) == [1, 2, 3, 4, 5]
    for (k, a), b in zip(whole.model.state_dict().items(), resumed.model.state_dict().values()):
        assert torch.equal(a, b), k
    np.testing.assert_allclose(resumed.history["train_loss"], whole.history["train_loss"])


def test_a_mid_fold_checkpoint_of_other_settings_is_an_error(tmp_path):
    data, path = _data(), tmp_path / "resume.pt"
    cfg = _config()
    loop.atomic_torch_save(path, {"key": "something else", "epoch": 1})
    with pytest.raises(RuntimeError, match="resume.pt was written for other settings"):
        fit(_model(), data, np.arange(32), cfg, device="cpu", seed=3, progress=False, resume=path)
