"""Unit tests of the preprocessing steps (mer_utils.preprocess) on tiny inputs."""
from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from mer_utils.preprocess import align, faces, flow, magnify, residual, roi, temporal
from mer_utils.preprocess.cgpo import cgpo as cgpo_images, cgpo_boxes, cgpo_tensor


# ------------------------------------------------------------------------------------------------ TIM
@pytest.mark.parametrize("n", [2, 3, 7, 25])
def test_tim_reconstructs_input_frames(n):
    rng = np.random.default_rng(n)
    x = rng.random((n, 6, 5, 3)) * 255
    pos = temporal.tim_positions(n)
    assert np.abs(temporal.tim_svd(x, positions=pos) - x).max() < 1e-6
    assert np.abs(temporal.temporal_interpolate(x, positions=pos) - x).max() < 1e-6


def test_tim_closed_form_matches_reference_steps():
    rng = np.random.default_rng(1)
    x = rng.random((9, 4, 4))
    for n_out in (5, 9, 64):
        a = temporal.tim_svd(x, n_out)
        b = temporal.temporal_interpolate(x, n_out)
        assert a.shape == b.shape == (n_out, 4, 4)
        assert np.abs(a - b).max() < 1e-9


def test_tim_output_length_positions_and_dtype():
    x = (np.random.default_rng(0).random((10, 8, 8)) * 255).astype(np.uint8)
    out = temporal.temporal_interpolate(x, 64, dtype=np.uint8)
    assert out.shape == (64, 8, 8) and out.dtype == np.uint8
    pos = temporal.tim_positions(10)
    assert pos[0] == 0 and pos[-1] == 1 and np.all(np.diff(pos) > 0)
    w = temporal.tim_weights(10, 64)
    assert w.shape == (10, 64) and np.allclose(w.sum(axis=0), 1)
    # the frame that carries most weight moves forward in time (monotonic)
    assert np.all(np.diff(np.argmax(w, axis=0)) >= 0)
    # down-sampling works too, and the end points are the first and last frames
    down = temporal.temporal_interpolate(x.astype(float), 4)
    assert np.allclose(down[0], x[0]) and np.allclose(down[-1], x[-1])


def test_tim_svd_rejects_repeated_frames_but_closed_form_copes():
    x = np.ones((4, 3, 3))
    with pytest.raises(ValueError, match="rank"):
        temporal.tim_svd(x, 8)
    assert np.allclose(temporal.temporal_interpolate(x, 8), 1.0)


def test_uniform_and_fixed_window():
    assert temporal.uniform_indices(5, 3).tolist() == [0, 2, 4]
    assert temporal.uniform_indices(2, 4).tolist() == [0, 0, 1, 1]
    assert temporal.fixed_window(20, 18).tolist() == list(range(18))
    assert temporal.fixed_window(17, 18) is None
    assert temporal.fixed_window(100, 5, start=72).tolist() == [72, 73, 74, 75, 76]


# ------------------------------------------------------------------------- Zhao et al. eq. (1)-(4)
def test_residual_segment_eq_1_2():
    assert temporal.residual_segment(0, 4, 30) == (0, 10)     # apex - onset < 10 -> onset + 10
    assert temporal.residual_segment(0, 4, 7) == (0, 7)       # ... bounded by the offset
    assert temporal.residual_segment(5, 40, 60) == (5, 40)    # else the apex
    assert temporal.residual_segment(5, 40, 30) == (5, 30)    # ... bounded by the offset


def test_key_frames_eq_3_4_hand_worked():
    # end - start = 10: gap = ceil(10 / 6) = 2 -> 2, 4, 6, 8, 10
    assert temporal.key_frames(0, 10) == [2, 4, 6, 8, 10]
    # 12 frames: gap = ceil(12 / 6) = 2 -> 2, 4, 6, 8 and then the segment end 12 (eq. 4 ends with `end`)
    assert temporal.key_frames(0, 12) == [2, 4, 6, 8, 12]
    assert temporal.key_frames(0, 12, include_end=False) == [2, 4, 6, 8, 10]
    # start 5, end 45: gap = ceil(40 / 6) = 7 -> 12, 19, 26, 33, 45
    assert temporal.key_frames(5, 45) == [12, 19, 26, 33, 45]
    assert temporal.key_frames(5, 45, include_end=False) == [12, 19, 26, 33, 40]
    # short segment: gap = ceil(3 / 6) = 1 -> min(.., 3) repeats collapse
    assert temporal.key_frames(0, 3) == [1, 2, 3]
    assert temporal.key_frames(0, 20, n_key=3) == [5, 10, 20]
    assert temporal.key_frames(0, 20, n_key=3, include_end=False) == [5, 10, 15]


def test_apex_spotting_finds_the_peak():
    frames = np.zeros((9, 4, 4), np.uint8)
    frames[:, 0, 0] = [0, 10, 30, 60, 90, 50, 20, 5, 0]
    assert temporal.spot_apex(frames, smooth=1) == 4
    assert temporal.middle_index(9) == 4


# ------------------------------------------------------------------------------------- ARS / RRS
def test_ars_rrs_hand_computed_2x2():
    q0 = np.array([[10, 200], [0, 255]], np.uint8)
    q1 = np.array([[20, 100], [0, 0]], np.uint8)
    q2 = np.array([[30, 50], [5, 255]], np.uint8)
    # |q1 - q0| + |q2 - q0| = [[10 + 20, 100 + 150], [0 + 5, 255 + 0]] = [[30, 250], [5, 255]]
    assert residual.residual_sum(q0, np.stack([q1, q2])).tolist() == [[30, 250], [5, 255]]
    q3 = np.array([[0, 200], [0, 255]], np.uint8)  # adds [[10, 0], [0, 0]]
    keys = np.stack([q1, q2, q3])
    # sums [[40, 250], [5, 255]] -> ARS = sum mod 256 (no wrap here); with a wrap below
    assert residual.absolute_residual_sum(q0, keys).tolist() == [[40, 250], [5, 255]]
    q4 = np.array([[10, 190], [0, 255]], np.uint8)  # adds [[0, 10], [0, 0]] -> 260 wraps to 4
    assert residual.absolute_residual_sum(q0, np.stack([q1, q2, q3, q4])).tolist() == [[40, 4], [5, 255]]
    # RRS: min-max of [[40, 250], [5, 255]] to 0..255: (x - 5) / 250 * 255
    expected = np.rint((np.array([[40, 250], [5, 255]]) - 5) / 250 * 255)
    assert residual.relative_residual_sum(q0, keys).tolist() == expected.tolist()
    assert residual.relative_residual_sum(q0, np.stack([q0, q0])).tolist() == [[0, 0], [0, 0]]
    ars, rrs = residual.residual_sums(q0, keys)  # both from one residual sum
    assert ars.tolist() == [[40, 250], [5, 255]] and rrs.tolist() == expected.tolist()


def test_residual_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match="same shape"):
        residual.residual_sum(np.zeros((2, 2)), np.zeros((3, 2, 3)))


# -------------------------------------------------------------------------------------------- CGPO
def test_cgpo_ten_crops_with_overlap():
    boxes = cgpo_boxes(320, grid=3, overlap=0.3)
    assert boxes.shape == (10, 4)
    assert boxes[0].tolist() == [0, 0, 320, 320]
    grid = boxes[1:]
    side = grid[:, 2] - grid[:, 0]
    assert np.all(side == side[0]) and np.all(grid[:, 3] - grid[:, 1] == side[0])
    assert grid[:, 0].min() == 0 and grid[:, 2].max() == 320 and grid[:, 3].max() == 320
    xs = sorted(set(grid[:, 0].tolist()))
    overlaps = [(xs[i] + side[0] - xs[i + 1]) / side[0] for i in range(2)]
    assert all(abs(o - 0.3) < 0.01 for o in overlaps)
    img = np.random.default_rng(0).integers(0, 255, (320, 320, 3), dtype=np.uint8)
    subs = cgpo_images(img)
    assert subs.shape == (10, 160, 160, 3) and subs.dtype == np.uint8
    assert np.allclose(subs[0], cv2.resize(img, (160, 160), interpolation=cv2.INTER_AREA))


def test_cgpo_tensor_matches_numpy_layout():
    torch = pytest.importorskip("torch")
    x = torch.rand(2, 3, 64, 64)
    out = cgpo_tensor(x)
    assert tuple(out.shape) == (2, 10, 3, 32, 32)
    with pytest.raises(ValueError, match="square"):
        cgpo_images(np.zeros((10, 12, 3), np.uint8))


# ------------------------------------------------------------------------------- faces / alignment
@pytest.fixture(scope="module")
def astronaut():
    skdata = pytest.importorskip("skimage.data")
    return skdata.astronaut()


@pytest.mark.parametrize("method", ["hog", "haar"])
def test_detector_finds_the_astronaut(astronaut, method):
    boxes = faces.detect_faces(astronaut, method=method)
    assert boxes, f"{method} found no face"
    x0, y0, x1, y1 = boxes[0]
    assert 150 < (x0 + x1) / 2 < 290 and 60 < (y0 + y1) / 2 < 200  # the face is at about (220, 120)


def test_landmarks_and_eye_centres(astronaut):
    face = faces.detect_landmarks(astronaut)
    assert face.landmarks.shape == (68, 2)
    left, right = face.eye_centres
    assert left[0] < right[0] and abs(left[1] - right[1]) < 15
    assert faces.shape_predictor_path().name == "shape_predictor_68_face_landmarks.dat"


def test_alignment_puts_eye_centres_where_promised(astronaut):
    face = faces.detect_landmarks(astronaut)
    # rotate and scale the photo so the eyes are neither level nor at a known size
    rot = cv2.getRotationMatrix2D((256, 256), 12, 0.8)
    img = cv2.warpAffine(astronaut, rot, (512, 512))
    lm = align.transform_points(rot, face.landmarks)
    for size in [(120, 140), (224, 224)]:
        m = align.alignment_transform(lm, size, crop="eyes")
        got = align.transform_points(m, np.stack(faces.eye_centres(lm)))
        want = np.stack(align.template_eye_centres(size))
        assert np.abs(got - want).max() < 1e-6
        assert abs(want[0, 1] - want[1, 1]) < 1.0  # level eyes in the template
        out = align.warp_image(img, m, size)
        assert out.shape == (size[1], size[0], 3)
        # the aligned picture really shows the eyes there: landmarks found on it land near the template
        found = faces.detect_landmarks(cv2.resize(out, (size[0] * 2, size[1] * 2)), max_side=None)
        if found is not None:
            eyes = np.stack(found.eye_centres) / 2
            assert np.abs(eyes - want).max() < 0.08 * size[0]
    m = align.alignment_transform(lm, (64, 64), crop="landmarks")
    le, re_ = align.transform_points(m, np.stack(faces.eye_centres(lm)))
    assert abs(le[1] - re_[1]) < 1e-6 and 0 < le[0] < re_[0] < 64


def test_warp_prescales_large_reductions():
    img = np.zeros((400, 400), np.uint8)
    img[:, ::2] = 255  # finest stripes: aliasing would give black or white, area averaging gives grey
    m = np.array([[0.1, 0, 0], [0, 0.1, 0]])
    out = align.warp_image(img, m, (40, 40))
    assert abs(float(out[5:35, 5:35].mean()) - 127.5) < 10


def test_whole_frame_fallback_covers_the_frame():
    f = faces.whole_frame_landmarks((480, 640))
    lo, hi = f.landmarks.min(axis=0), f.landmarks.max(axis=0)
    assert np.allclose(lo, [80, 0], atol=1e-6) and np.allclose(hi, [560, 480], atol=1e-6)


def test_bad_detector_name():
    with pytest.raises(ValueError, match="haar"):
        faces.detect_faces(np.zeros((20, 20), np.uint8), method="mtcnn")


# ---------------------------------------------------------------------------------------------- RoIs
def test_she_roi_grid_and_views():
    x = np.arange(2 * 140 * 120 * 3, dtype=np.int64).reshape(2, 140, 120, 3)
    rois = roi.she_rois(x)
    assert rois["left_eye"].shape == (2, 50, 60, 3) and rois["mouth"].shape == (2, 40, 80, 3)
    assert np.shares_memory(rois["mouth"], x)
    assert len(roi.she_roi_cells("right_eye")) == 30
    assert roi.she_rois(x[..., 0])["right_eye"].shape == (2, 50, 60)
    with pytest.raises(ValueError, match="120x140"):
        roi.she_rois(np.zeros((2, 64, 64)))
    assert roi.draw_roi_grid(x[0].astype(np.uint8)).shape == (140, 120, 3)


def test_reddy_boxes_from_landmarks():
    lm = faces.template_landmarks((0, 0, 100, 100))
    x0, y0, x1, y1 = roi.reddy_roi_box(lm, "eyes")
    assert (y0, y1) == (lm[19, 1], lm[1, 1]) and (x0, x1) == (lm[1, 0], lm[15, 0])
    x0, y0, x1, y1 = roi.reddy_roi_box(lm, "nose_mouth")
    assert (y0, y1) == (lm[2, 1], lm[6, 1]) and (x0, x1) == (lm[2, 0], lm[14, 0])


# ---------------------------------------------------------------------------------------------- flow
def _texture(n=96, seed=0):
    rng = np.random.default_rng(seed)
    return cv2.GaussianBlur((rng.random((n, n)) * 255).astype(np.uint8), (0, 0), 2.0)


@pytest.mark.parametrize("method", ["farneback", "tvl1"])
def test_flow_recovers_a_known_shift(method):
    a = _texture()
    m = np.float32([[1, 0, 1.5], [0, 1, -1.0]])
    b = cv2.warpAffine(a, m, (96, 96), borderMode=cv2.BORDER_REFLECT)
    f = flow.optical_flow(a, b, method)
    assert f.shape == (96, 96, 2)
    med = np.median(f[20:-20, 20:-20].reshape(-1, 2), axis=0)
    assert np.allclose(med, [1.5, -1.0], atol=0.2)


def test_strain_magnitude_and_colour():
    yy, xx = np.mgrid[0:20, 0:20].astype(np.float32)
    f = np.stack([0.1 * xx, np.zeros_like(xx)], axis=-1)  # u = 0.1 x: e_xx = 0.1, rest 0
    assert np.allclose(flow.optical_strain(f), 0.1, atol=1e-6)
    assert np.allclose(flow.flow_magnitude(f), 0.1 * xx)
    col = flow.flow_to_colour(f)
    assert col.shape == (20, 20, 3) and col.dtype == np.uint8 and col[:, 0].max() == 0
    assert flow.flow_image(_texture(32), _texture(32, 1), mode="uvs").shape == (32, 32, 3)


# ------------------------------------------------------------------------------------- magnification
def _sine(shift, n=128, lam=32.0):
    x = np.arange(n)
    return np.repeat((128 + 60 * np.sin(2 * np.pi * (x - shift) / lam))[None], n, axis=0)


def _phase(img, lam=32.0):
    row = img.mean(axis=0) - img.mean()
    x = np.arange(row.size)
    return math.atan2((row * np.cos(2 * np.pi * x / lam)).sum(), (row * np.sin(2 * np.pi * x / lam)).sum())


def test_pair_magnification_scales_a_known_motion():
    a, b = _sine(0.0), _sine(0.25)
    base = _phase(b) - _phase(a)
    out = magnify.magnify_pair(a, b, [1, 2, 5], dtype=None)
    gains = [(_phase(o) - _phase(a)) / base for o in out]
    assert abs(gains[0] - 1) < 1e-3
    assert 1.6 < gains[1] < 2.2 and 3.8 < gains[2] < 5.5
    # factor 1 returns the input exactly
    img = (np.random.default_rng(0).random((32, 32, 3)) * 255).astype(np.uint8)
    assert np.array_equal(magnify.magnify_pair(img, np.roll(img, 1, 0), [1.0])[0], np.roll(img, 1, 0))


def test_eulerian_video_magnification():
    frames = np.stack([_sine(0.3 * np.sin(2 * np.pi * t / 10)) for t in range(40)])
    same = magnify.eulerian_magnify(frames, 1.0, dtype=None)
    assert np.abs(same - frames).max() < 1e-3
    out = magnify.eulerian_magnify(frames, 5.0, dtype=None)
    ptp = lambda v: np.ptp([_phase(f) for f in v[20:]])
    assert ptp(out) > 1.8 * ptp(frames)


def test_magnify_against_onset_shape():
    on = (np.random.default_rng(0).random((16, 16, 3)) * 255).astype(np.uint8)
    frames = np.stack([on, np.roll(on, 1, 1)])
    out = magnify.magnify_against_onset(on, frames, [1, 2, 3])
    assert out.shape == (2, 3, 16, 16, 3) and out.dtype == np.uint8
    assert np.array_equal(out[:, 0], frames)
    with pytest.raises(ValueError, match="checkpoint"):
        magnify.magnify_against_onset(on, frames, [2], method="oh2018")


def test_oh2018_network_shape_and_checkpoint_errors(tmp_path):
    torch = pytest.importorskip("torch")
    from mer_utils.preprocess.magnify import MotionMagnificationNet, load_magnification_network

    net = MotionMagnificationNet().eval()
    with torch.no_grad():
        y = net(torch.zeros(2, 3, 32, 48), torch.zeros(2, 3, 32, 48), torch.tensor([1.0, 3.0]))
    assert tuple(y.shape) == (2, 3, 32, 48)
    with pytest.raises(ValueError, match="divisible by 4"):
        net(torch.zeros(1, 3, 30, 32), torch.zeros(1, 3, 30, 32), 2.0)
    with pytest.raises(ValueError, match="checkpoint="):
        load_magnification_network(None)
    with pytest.raises(FileNotFoundError):
        load_magnification_network(tmp_path / "none.pth")
    path = tmp_path / "magnet.pth"
    torch.save({"state_dict": {"module." + k: v for k, v in net.state_dict().items()}}, path)
    loaded = load_magnification_network(path)
    assert all(torch.equal(a, b) for a, b in zip(loaded.state_dict().values(), net.state_dict().values()))
    from mer_utils.preprocess.oh2018 import magnify_with_network

    img = (np.random.default_rng(0).random((30, 30, 3)) * 255).astype(np.uint8)
    assert magnify_with_network(loaded, img, img, [1, 2]).shape == (2, 30, 30, 3)
