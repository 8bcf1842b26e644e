"""Vision widgets: pixels travel as one uint8 buffer, selections are validated, export works offline."""

import json

import numpy as np
import pytest
import traitlets

import featureviz as fv
import featureviz.vision as V
from factories import wire_state
from featureviz.widgets.arrays import decode_images, decode_matrix

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def gallery_data():
    checkpoints = {f"step {s}": V.load_checkpoint(s) for s in V.checkpoint_steps()[::4]}
    probe = V.make_images(64, seed=3)[0]
    return V.checkpoint_gallery(
        checkpoints, "block2", [1, 5, 9], probe=probe, steps=4, size=32, n_images=2, progress=False
    )


def test_gallery_sends_pixels_as_one_binary_buffer(gallery_data):
    vis = gallery_data.visualizations[-1]
    widget = V.Gallery(vis)
    assert isinstance(widget.images["data"], memoryview) and widget.images["format"] == "rgb_u8"
    np.testing.assert_array_equal(decode_images(widget.images), vis.uint8())
    np.testing.assert_allclose(decode_matrix(widget.activations), vis.activations)
    state, buffers = wire_state(widget)
    assert sum(len(b) for b in buffers) >= vis.uint8().nbytes
    state.pop("_esm")
    assert len(json.dumps(state)) < 2000  # the pixels are not in the JSON
    assert widget.units == [1, 5, 9] and widget.unit_labels == ["channel 1", "channel 5", "channel 9"]
    widget.selected_unit = 5
    with pytest.raises(traitlets.TraitError, match="selected_unit=6 is not one of this widget's units"):
        widget.selected_unit = 6


def test_dataset_examples_gallery_shows_crops(gallery_data):
    model = V.load_checkpoint()
    ex = V.dataset_examples(model, "block2", [1, 5], V.make_images(64, seed=3)[0], k=4)
    widget = ex.show(crops=True)
    assert widget.images["shape"] == [2, 4, 16, 16, 3] and widget.title == "block2 (crops)"


def test_scrubber_carries_every_checkpoint(gallery_data):
    widget = gallery_data.show()
    c, u, n = gallery_data.activations.shape
    assert widget.images["shape"] == [c, u, n, 32, 32, 3]
    np.testing.assert_array_equal(decode_images(widget.images), gallery_data.uint8())
    np.testing.assert_allclose(decode_matrix(widget.probe_mean), gallery_data.probe_mean)
    assert widget.x_values == [float(x) for x in gallery_data.x_values] and widget.index == c - 1
    assert widget.selected_unit == 1
    with pytest.raises(traitlets.TraitError, match="index=9 is out of range"):
        widget.index = 9


def test_export_html_holds_both_vision_widgets(gallery_data, tmp_path):
    page = fv.export_html([V.Gallery(gallery_data.visualizations[0]), gallery_data.show()], tmp_path / "v.html")
    text = page.read_text()
    data = json.loads(text.split('id="featureviz-data">')[1].split("</script>")[0])
    assert len(data["bundles"]) == 2 and len(data["widgets"]) == 2
    for saved in data["widgets"]:
        assert saved["state"]["images"]["format"] == "rgb_u8"
        assert ["images", "data"] in [b["path"] for b in saved["buffers"]]
