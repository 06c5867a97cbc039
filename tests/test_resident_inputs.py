"""Issue 20 item 2: tensor inputs kept on the training GPU when they fit (ClipDataset.resident, place_inputs) and
She et al.'s frames fed from that one uint8 tensor. The placement rule is tested with mocked memory numbers; on the
CPU nothing moves, and She's pipeline gives bit-identical weights, features and predictions to the host path."""
import pickle
from collections import namedtuple

import numpy as np
import pytest
import torch

from mer_utils import training as T
from mer_utils.training.dataset import ClipDataset, Placement, place_inputs

GB = 10**9
CUDA0 = torch.device("cuda", 0)  # a torch.device is taken as given: no GPU needed to test the rule


def test_placement_rule_with_mocked_memory():
    fits = place_inputs(2 * GB, CUDA0, fraction=0.5, available_bytes=4 * GB)  # exactly at the limit
    assert (fits.device, fits.resident, fits.pinned_batches, fits.limit_bytes) == ("cuda:0", True, False, 2 * GB)
    assert "resident on cuda:0" in str(fits) and "limit 2.0 GB = 0.5 x 4.0 GB available" in str(fits)
    over = place_inputs(2 * GB + 1, CUDA0, fraction=0.5, available_bytes=4 * GB)
    assert (over.device, over.resident, over.pinned_batches, over.training_device) == ("cpu", False, True, "cuda:0")
    assert "host memory" in str(over) and "pinned" in str(over)
    assert place_inputs(3 * GB, CUDA0, fraction=0.8, available_bytes=4 * GB).resident
    cpu = place_inputs(10 * GB, "cpu")
    assert (cpu.device, cpu.resident, cpu.pinned_batches, cpu.available_bytes) == ("cpu", False, False, None)
    assert "training on cpu" in str(cpu)
    with pytest.raises(ValueError, match="fraction"):
        place_inputs(1, CUDA0, fraction=0.0, available_bytes=GB)


def test_available_memory_counts_the_allocators_unused_cache(monkeypatch):
    """Free memory = the driver's free bytes + what PyTorch reserved but does not use (an earlier run's frames)."""
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda dev=None: (10 * GB, 80 * GB))
    monkeypatch.setattr(torch.cuda, "memory_reserved", lambda dev=None: 6 * GB)
    monkeypatch.setattr(torch.cuda, "memory_allocated", lambda dev=None: 2 * GB)
    assert T.cuda_available_bytes(CUDA0) == 14 * GB
    assert place_inputs(7 * GB, CUDA0).resident and place_inputs(7 * GB, CUDA0).limit_bytes == 7 * GB
    assert not place_inputs(7 * GB + 1, CUDA0).resident  # default fraction: RESIDENT_FRACTION = 0.5
    assert T.RESIDENT_FRACTION == 0.5


def test_resident_on_cpu_moves_nothing_and_batches_are_unchanged(tiny_table):
    from mer_utils.training.loop import _batches

    x = torch.arange(len(tiny_table) * 6, dtype=torch.uint8).reshape(len(tiny_table), 6)
    host = ClipDataset(tiny_table, x)
    placed = host.resident("cpu")
    assert placed.inputs.data_ptr() == x.data_ptr() and isinstance(placed.placement, Placement)
    assert host.placement is None and placed.with_labels(placed.labels).placement == placed.placement
    order = np.random.default_rng(0).permutation(len(tiny_table))
    for (xa, ya), (xb, yb) in zip(_batches(host, order, 4), _batches(placed, order, 4)):
        assert torch.equal(xa, xb) and torch.equal(ya, yb) and xb.device.type == "cpu"
    as_numpy = ClipDataset(tiny_table, (x.numpy(), x.numpy() * 2)).resident("cpu")
    assert all(isinstance(a, torch.Tensor) for a in as_numpy.inputs) and as_numpy.placement.nbytes == 2 * x.numel()
    with pytest.raises(TypeError, match="callable"):
        ClipDataset(tiny_table, lambda i: x[i]).resident("cpu")


@pytest.fixture
def tiny_table(she_tiny_problem):
    return she_tiny_problem(3, 4)[0]


class _HostPipeline:
    """She's pipeline as it was before this change: frames left in host memory unplaced, frame features from
    NumPy slices converted to float on the host (the reference the new path must match bit for bit on the CPU)."""

    @staticmethod
    def make(base):
        from mer_utils.papers.she2020.pipeline import frame_table, frame_tensor

        class Host(base):
            def _place_frames(self):
                flat = self.faces.reshape(-1, *self.faces.shape[2:])
                self.frames = ClipDataset(frame_table(self.table, self.n_frames), frame_tensor(flat),
                                          class_names=[str(k) for k in range(self.num_classes)])

            def frame_features(self, model, clip_idx, batch_size=256):
                model.eval()
                frames = self.faces[np.asarray(clip_idx, dtype=np.int64)].reshape(-1, *self.faces.shape[2:])
                out = []
                with torch.no_grad():
                    for start in range(0, len(frames), batch_size):
                        x = torch.from_numpy(np.ascontiguousarray(frames[start: start + batch_size]))
                        out.append(model.frame_features(x.permute(0, 3, 1, 2).float().div_(255.0)).numpy())
                return np.concatenate(out).reshape(len(clip_idx), self.n_frames, -1)

        return Host


@pytest.mark.parametrize("channels", [1, 3])
def test_she_resident_frames_are_bit_identical_to_the_host_path_on_cpu(tmp_path, she_tiny_problem, channels):
    """Two epochs of She's tiny problem (dropout on, batches of 8 with a ragged last one): the trained weights,
    the test clips' frame features, the SVM predictions and scores of every aggregation are bit-identical. Three
    channels check the features' layout (channels-last, as the host path's permuted frames; contiguous frames
    round differently)."""
    from mer_utils.papers.she2020.pipeline import MultipleAggregationPipeline, She2020Settings

    table, faces = she_tiny_problem()
    if channels == 3:
        faces = np.concatenate([faces, 255 - faces, faces // 2], axis=-1)
    settings = She2020Settings(width=2, blocks_per_stage=1, hidden=8, epochs=2, batch_size=8, scale=0.2,
                               svm_grid=({"svc__kernel": ["linear"], "svc__C": [1.0]},), inner_folds=2)
    Fold = namedtuple("Fold", "name train test")
    test_idx = np.flatnonzero(table["subject_uid"] == "casme2/s3")
    train_idx = np.setdiff1d(np.arange(len(table)), test_idx)
    fold = Fold("fold1", train_idx, test_idx)
    outs = {}
    for name, cls in (("new", MultipleAggregationPipeline), ("old", _HostPipeline.make(MultipleAggregationPipeline))):
        pipe = cls(table, faces, settings, 4, device="cpu", progress=False)
        torch.manual_seed(0)
        fold_dir = tmp_path / name
        fold_dir.mkdir()
        outs[name] = (pipe, pipe.fit_predict(fold, train_idx, test_idx, fold_dir), fold_dir)
    new, old = outs["new"][1], outs["old"][1]
    assert str(outs["new"][0].frames_device) == "cpu" and outs["new"][0].frames_placement.resident is False
    assert np.array_equal(new["pred"], old["pred"])
    assert np.array_equal(new["scores"], old["scores"], equal_nan=True)
    assert new["tables"]["aggregations"].equals(old["tables"]["aggregations"])
    wa = torch.load(outs["new"][2] / "model.pt", weights_only=False)
    wb = torch.load(outs["old"][2] / "model.pt", weights_only=False)
    sa, sb = wa["state_dict"], wb["state_dict"]
    assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)
    fa = np.load(outs["new"][2] / "frame_features.npz")["features"]
    fb = np.load(outs["old"][2] / "frame_features.npz")["features"]
    assert fa.shape == (len(test_idx), 3, 8) and np.array_equal(fa, fb)
    model = outs["new"][0].build_model()
    assert np.array_equal(outs["new"][0].frame_features(model, test_idx, batch_size=5),
                          outs["old"][0].frame_features(model, test_idx, batch_size=5))


def test_she_pipeline_pickles_the_faces_not_the_placed_frames(she_tiny_problem):
    from mer_utils.papers.she2020.pipeline import MultipleAggregationPipeline, She2020Settings

    table, faces = she_tiny_problem(2, 2)
    pipe = MultipleAggregationPipeline(table, faces, She2020Settings(width=2, blocks_per_stage=1, scale=0.2), 4,
                                       device="cpu", progress=False)
    state = pipe.__getstate__()
    assert "frames" not in state
    again = pickle.loads(pickle.dumps(pipe))
    assert torch.equal(again.frames.inputs, pipe.frames.inputs) and again.frames_placement == pipe.frames_placement


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_resident_and_pinned_batches_on_cuda(tiny_table):  # pragma: no cover - GPU machines only
    from mer_utils.training.loop import _batches

    x = torch.randint(0, 255, (len(tiny_table), 3, 8, 8), dtype=torch.uint8)
    order = np.random.default_rng(0).permutation(len(tiny_table))
    for available, where in ((10 * GB, "cuda"), (1, "cpu")):
        placed = ClipDataset(tiny_table, x).resident("cuda", available_bytes=available)
        assert placed.inputs.device.type == where
        for (xb, yb), start in zip(_batches(placed, order, 4), range(0, len(order), 4)):
            b = order[start:start + 4]
            assert torch.equal(xb.cpu(), x[b]) and list(yb.cpu()) == list(tiny_table["label"].to_numpy()[b])
            assert xb.is_cuda if where == "cuda" else xb.is_pinned()
