"""Every public widget and result prints as one short line that says what it holds (issue 15.6), never
`<... object at 0x...>` or pages of arrays: it is the text fallback where a widget cannot be drawn (GitHub,
nbviewer, an untrusted notebook)."""

import anywidget
import pytest

import featureviz as fv
import featureviz.vision as V
from factories import make_sae
from featureviz.sources import NeuronSource, SAESource

PROMPTS = {
    "happy": ["What a lovely day", "I am so glad"],
    "angry": ["This is outrageous", "Go away now"],
    "baseline": ["The table is brown", "It is Tuesday"],
}


@pytest.fixture(scope="module")
def objects(tiny_model):
    """One of each public widget and result, built on the tiny model, a test SAE and the embedded CNN."""
    tiny_sae = make_sae()
    acts = fv.activations(tiny_model, tiny_sae, PROMPTS, progress=False)
    feature = int(acts.values.max(0).values.argmax())
    corpus = [p for group in PROMPTS.values() for p in group]
    data = fv.dashboard_data(tiny_model, tiny_sae, corpus, k=3, progress=False)
    heatmap, dashboard = fv.Heatmap(acts, top_k=5), fv.Dashboard(data, feature=feature)
    frames = fv.checkpoint_frames(
        [(1, tiny_model, tiny_sae), (2, tiny_model, tiny_sae)], corpus[:2], top_k=4, progress=False
    )
    circuit = fv.feature_circuit(
        tiny_model,
        (tiny_sae, feature),
        NeuronSource(tiny_model, 0),
        corpus[:2],
        method="direct",
        top_k=3,
        progress=False,
    )
    cnn, images = V.load_checkpoint(), V.make_images(16, seed=1)[0]
    small = {"steps": 2, "size": 16, "n_images": 1, "progress": False}
    gallery = V.checkpoint_gallery(
        {f"step {s}": V.load_checkpoint(s) for s in V.checkpoint_steps()[-2:]}, "block2", [1, 5], **small
    )
    examples = V.dataset_examples(cnn, "block2", [1, 5], images, k=2)
    return [
        acts,
        data,
        frames,
        circuit,
        heatmap,
        dashboard,
        fv.link(heatmap, dashboard),
        fv.contrast(acts, baseline="baseline").pipe(fv.ContrastView),
        fv.steer(tiny_model, tiny_sae, "The weather today is", feature, (-2.0, 2.0), steps=2, max_new_tokens=2),
        fv.Interpolation(
            tiny_model, tiny_sae, "The weather today is", feature, values=(-2.0, 2.0), steps=2, max_new_tokens=2
        ),
        fv.check_steering_target(tiny_model, tiny_sae, feature, "The weather today is", data),
        fv.feature_scale(tiny_model, tiny_sae, feature, "The weather today is", texts=corpus),
        fv.CheckpointScrubber(frames),
        fv.CircuitView(circuit),
        SAESource(tiny_sae),
        V.visualize(cnn, "block2", [1, 5], **small),
        gallery,
        gallery.show(),
        examples,
        examples.show(),
        V.unit_activations(cnn, "block2", [1, 5], images),
        V.Transforms(),
    ]


def test_every_widget_and_result_has_a_short_repr(objects):
    for obj in objects:
        text = repr(obj)
        name = type(obj).__name__
        assert text.startswith(f"{name}(") and text.endswith(")"), text
        assert "\n" not in text and " object at 0x" not in text and len(text) <= 200, text
        assert "array(" not in text and "tensor(" not in text, text


def test_widgets_show_their_repr_as_the_text_fallback(objects):
    widgets = [o for o in objects if isinstance(o, anywidget.AnyWidget)]
    public = {getattr(fv, n) for n in fv.__all__ if isinstance(getattr(fv, n), type)} | {V.Gallery, V.VisionScrubber}
    # isinstance, not type(): anywidget's add_traits gives every instance its own subclass
    missing = [
        c.__name__ for c in public if issubclass(c, anywidget.AnyWidget) and not any(isinstance(w, c) for w in widgets)
    ]
    assert not missing, f"public widgets without a case here: {missing}"
    for widget in widgets:
        assert widget._repr_mimebundle_()[0]["text/plain"] == repr(widget)


def test_heatmap_repr_names_its_shape_hook_and_selection(objects):
    heatmap = next(o for o in objects if isinstance(o, fv.Heatmap))
    n_on = sum(heatmap.always_on)  # the tiny SAE's always-on latents among the top 5, hidden by default
    assert n_on > 0
    assert repr(heatmap) == (
        f"Heatmap({len(heatmap.tokens)} tokens x 5 features (+{n_on} always-on, hidden) @ "
        "blocks.1.hook_resid_pre, selected=-1)"
    )
