"""The interactive explorers of notebooks 01 and 50 (mer_utils.explore): static figures headless, live widgets that
redraw on a control change, clear errors for bad parameters, the live/static decision."""
from __future__ import annotations

import warnings

import matplotlib
import numpy as np
import pytest

from mer_utils import explore

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def table():
    from mer_utils.data import DataWarning, load_dataset

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        return load_dataset("casme2", synthetic_size="quick").iloc[:2].reset_index(drop=True)


@pytest.fixture
def clip(table):
    return table["clip_uid"].iat[0]


# ------------------------------------------------------------------------------------------ live or static
def test_auto_is_static_outside_a_jupyter_session(monkeypatch):
    monkeypatch.delenv("MER_HEADLESS", raising=False)
    live, reason = explore.frontend_state()
    assert not live and "kernel" in reason  # pytest is no IPython kernel
    assert explore.is_live("auto") is False and explore.is_live(False) is False
    assert explore.is_live(True) is True


def test_mer_headless_wins_even_in_a_notebook_session(monkeypatch):
    monkeypatch.setenv("JPY_SESSION_NAME", "notebooks/01_preprocessing.ipynb")
    monkeypatch.setenv("MER_HEADLESS", "1")
    assert explore.frontend_state() == (False, "MER_HEADLESS is set (a batch run)")
    monkeypatch.setenv("MER_HEADLESS", "0")
    assert "MER_HEADLESS" not in explore.frontend_state()[1]
    monkeypatch.setenv("MER_HEADLESS", "batch")
    with pytest.raises(ValueError, match=r"\$MER_HEADLESS='batch': expected 1/true/yes"):
        explore.frontend_state()


def test_a_kernel_launched_by_a_kernel_is_not_a_reader(tmp_path):
    import os
    import subprocess
    import sys

    assert explore._launched_by_a_kernel(str(os.getpid())) is False  # pytest
    assert explore._launched_by_a_kernel(None) is False and explore._launched_by_a_kernel("nope") is False
    if not os.path.exists("/proc/self/cmdline"):
        pytest.skip("no /proc on this system")
    fake = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)", "-m", "ipykernel_launcher"])
    try:
        import time

        deadline = time.time() + 10  # until the child has exec'd (before, /proc shows pytest's command line)
        while b"sleep" not in open(f"/proc/{fake.pid}/cmdline", "rb").read() and time.time() < deadline:
            time.sleep(0.05)
        assert explore._launched_by_a_kernel(str(fake.pid)) is True
    finally:
        fake.kill()
        fake.wait()


@pytest.mark.parametrize("value", ["yes", 1, None, "live"])
def test_interactive_parameter_is_checked(value):
    with pytest.raises(ValueError, match=r"INTERACTIVE=.*expected 'auto'"):
        explore.is_live(value)


# ------------------------------------------------------------------------------------------ static figures
@pytest.mark.parametrize("fn, kw, n_axes", [
    (explore.magnification, dict(size=64), 4),
    (explore.magnification, dict(size=64, tim_length=12, frame=5, method="eulerian_video"), 4),
    (explore.tim, dict(size=48, n_in=4, n_out=10, ), 1 + 8),
    (explore.flow, dict(size=64, step=8), 4 + 2),  # four panels and two colour bars
    (explore.residual_sums, dict(size=64, n_key=3), 4),
])
def test_headless_explorers_return_a_figure_outside_pyplot(fn, kw, n_axes, table, clip):
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    before = plt.get_fignums()
    fig = fn(table, clip, interactive=False, **kw)
    assert isinstance(fig, Figure) and len(fig.axes) == n_axes
    assert plt.get_fignums() == before, "the explorer left a pyplot figure open (it would be shown twice)"
    png = explore.figure_png(fig)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


def test_magnification_factor_one_is_the_frame_and_more_moves_more(table, clip):
    src = explore.ClipSource(table)
    panel = lambda fig, i: np.asarray(fig.axes[i].images[0].get_array())
    one, nine = (explore.magnification_figure(src, clip, factor=f, size=64) for f in (1.0, 9.0))
    assert np.array_equal(panel(one, 1), panel(one, 2))  # factor 1: the magnified frame is the frame
    assert panel(nine, 3).mean() > 1.5 * panel(one, 3).mean()  # |magnified - onset| grows with the factor


def test_residual_key_frames_follow_n_key(table, clip):
    src = explore.ClipSource(table)
    for n_key in (1, 3):
        fig = explore.residual_sums_figure(src, clip, n_key=n_key, size=48)
        shown = fig._suptitle.get_text().split("#[")[1].split("]")[0]
        assert len(shown.split(",")) == n_key  # the key frames named in the title
        assert sum(ln.get_color() == "C1" for ln in fig.axes[0].lines) == n_key + 1  # n_key marks + legend entry


def test_a_clip_is_read_once_and_arrays_are_cached(table, clip):
    src = explore.ClipSource(table)
    assert src[clip] is src[clip]
    explore.flow_figure(src, clip, size=48)
    keys = [k for k in src[clip].memo if k[0] == "flow"]
    assert len(keys) == 1
    explore.flow_figure(src, clip, size=48, step=16)  # arrows only: the flow is not recomputed
    assert [k for k in src[clip].memo if k[0] == "flow"] == keys


# ------------------------------------------------------------------------------------------ bad input
@pytest.mark.parametrize("fn, kw, error, match", [
    (explore.magnification, dict(factor=0.5), ValueError, r"factor=0.5: expected a magnification factor in 1\.\.100"),
    (explore.magnification, dict(factor="big"), TypeError, r"factor='big': expected a number"),
    (explore.magnification, dict(method="phase"), ValueError, r"method='phase': expected one of \('eulerian'"),
    (explore.magnification, dict(method="oh2018"), ValueError, r"needs network=load_magnification_network"),
    (explore.magnification, dict(frame=10_000), ValueError, r"frame=10000: expected an integer in 0\.\.\d+"),
    (explore.magnification, dict(tim_length=1), ValueError, r"tim_length=1: expected an integer in 2\.\.512"),
    (explore.tim, dict(n_in=10_000), ValueError, r"n_in=10000: expected an integer in 2\.\.\d+"),
    (explore.tim, dict(n_out=2.5), TypeError, r"n_out=2.5: expected an integer"),
    (explore.flow, dict(method="lucas-kanade"), ValueError, r"expected one of \('farneback', 'tvl1'\)"),
    (explore.flow, dict(frame=0), ValueError, r"frame=0 is the onset itself"),
    (explore.flow, dict(reference="apex"), ValueError, r"reference='apex': expected one of \('onset', 'previous'\)"),
    (explore.residual_sums, dict(n_key=0), ValueError, r"n_key=0: expected an integer in 1\.\.32"),
])
@pytest.mark.parametrize("interactive", [False, True])
def test_bad_parameters_get_clear_errors(fn, kw, error, match, interactive, table, clip):
    with pytest.raises(error, match=match):
        fn(table, clip, interactive=interactive, size=48, **kw)


def test_unknown_clip_and_bad_table(table):
    with pytest.raises(KeyError, match=r"clip 'casme2/sub99/none' is not in the table \(2 clips: casme2/"):
        explore.flow(table, "casme2/sub99/none", interactive=False)
    with pytest.raises(TypeError, match="expected a clip table"):
        explore.tim([1, 2, 3], interactive=False)
    with pytest.raises(ValueError, match="the clip table is empty"):
        explore.tim(table.iloc[:0], interactive=False)


# ------------------------------------------------------------------------------------------ live widgets
def test_live_explorer_redraws_on_a_control_change(table, clip):
    ex = explore.magnification(table, clip, size=64, interactive=True)
    assert isinstance(ex, explore.Explorer) and ex.draws == 1
    assert set(ex.controls) == {"clip", "factor", "method", "frame"}
    first = ex.image.value
    ex.set(factor=12.0)
    assert ex.draws == 2 and ex.image.value != first and "factor=12.0" in ex.status.value
    ex.set(factor=5.0)  # back to the start: the same picture, from the cache
    assert ex.image.value == first
    with pytest.raises(ValueError, match=r"Unknown controls \['gain'\]"):
        ex.set(gain=2)


def test_live_explorer_reports_a_failed_draw_and_keeps_the_picture(table, clip):
    ex = explore.tim(table, clip, size=48, n_out=8, interactive=True)
    assert set(ex.controls) == {"clip", "n_in", "n_out"}
    before, draws = ex.image.value, ex.draws
    ex.draw = lambda **v: (_ for _ in ()).throw(ValueError("no such frame"))
    ex.set(n_out=9)
    assert ex.image.value == before and ex.draws == draws and "ValueError: no such frame" in ex.status.value


def test_live_controls_start_at_the_requested_values(table, clip):
    ex = explore.residual_sums(table, clip, n_key=20, size=48, interactive=True)
    assert ex.controls["n_key"].value == 20 and "n_key=20" in ex.status.value
    ex = explore.flow(table, clip, step=2, size=48, interactive=True)
    assert ex.controls["step"].value == 2 and ex.controls["step"].min == 2
    assert explore.magnification(table, clip, factor=40, size=48, interactive=True).controls["factor"].value == 40


def test_live_tim_length_control_spans_the_frame_slider(table, clip):
    ex = explore.magnification(table, clip, size=64, tim_length=10, interactive=True)
    assert ex.controls["frame"].max == 9
    ex.set(tim_length=30)
    assert ex.controls["frame"].max == 29
