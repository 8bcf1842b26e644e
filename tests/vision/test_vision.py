"""featureviz.vision: activation maximisation on the embedded CNN and on hand-written models, real optimisations."""

import colorsys
import warnings

import numpy as np
import pytest
import torch
from torch import nn

import featureviz.vision as V
from featureviz.vision.data import hue_rgb

PROBE_SEED = 123

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def cnn():
    return V.load_checkpoint()


@pytest.fixture(scope="module")
def probe():
    return V.make_images(512, seed=PROBE_SEED)


class Block(nn.Module):
    """A ResNet basic block (conv-bn-relu-conv-bn plus the shortcut), written out by hand."""

    def __init__(self, c_in, c_out, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.downsample = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x):
        return self.relu(self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x))))) + self.downsample(x))


class TinyResNet(nn.Module):
    """torchvision-style module paths ("layer2.0.conv1") without torchvision."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, 1, 1)
        self.layer1 = nn.Sequential(Block(8, 8, 1))
        self.layer2 = nn.Sequential(Block(8, 16, 2), Block(16, 16, 1))
        self.fc = nn.Linear(16, 10)

    def forward(self, x):
        x = self.layer2(self.layer1(self.conv1(x)))
        return self.fc(x.mean((2, 3)))


@pytest.fixture
def resnet():
    torch.manual_seed(0)
    model = TinyResNet()
    with torch.no_grad():  # running statistics that are not the identity, as after training
        model.train()(torch.rand(64, 3, 32, 32))
    return model.eval()


def test_optimised_images_beat_every_probe_image_and_their_start(cnn, probe):
    units = list(range(0, 64, 8))
    vis = V.visualize(cnn, "block3", units, size=32, steps=160, progress=False)
    best_probe = V.unit_activations(cnn, "block3", units, probe[0]).means.max(0).values.numpy()
    ratio = vis.activations[:, 0] / best_probe
    print("block3 optimised / best of 512 probe images:", np.round(ratio, 2))
    assert (ratio > 1).all(), ratio
    assert (vis.activations > vis.start_activations).all()
    assert vis.images.shape == (8, 1, 32, 32, 3) and 0 <= vis.images.min() and vis.images.max() <= 1


def hue_degrees(rgb) -> float:
    return colorsys.rgb_to_hsv(*map(float, rgb))[0] * 360


def test_a_colour_preferring_unit_gets_an_image_of_its_colour(cnn, probe):
    images, factors = probe
    units = list(range(16))
    by_hue = torch.stack(
        [V.unit_activations(cnn, "block1", units, images[factors["hue"] == h]).means.mean(0) for h in range(6)]
    )
    selectivity = by_hue.max(0).values / by_hue.mean(0).clamp(min=1e-6)
    colour_units = [u for u in units if selectivity[u] > 2]  # a unit fires 2x its mean for one hue class
    assert len(colour_units) >= 3, selectivity
    # the preferred hue, at 10 degree resolution, on flat swatches
    swatches = hue_rgb(torch.arange(36) / 36)[:, :, None, None].expand(36, 3, 32, 32) * 0.8 + 0.1
    preferred = V.unit_activations(cnn, "block1", colour_units, swatches).means.argmax(0).numpy() * 10
    vis = V.visualize(cnn, "block1", colour_units, size=32, steps=160, progress=False)
    got = np.array([hue_degrees(img.mean((0, 1))) for img in vis.images[:, 0]])
    error = np.abs((got - preferred + 180) % 360 - 180)
    print(
        "colour units", colour_units, "preferred hue", preferred, "image mean hue", got.round(), "error", error.round()
    )
    assert (error < 60).all(), error  # never off by a hue class (60 degrees apart)
    assert np.median(error) < 15, error  # and mostly spot on


def test_same_seed_same_image_other_seed_other_image(cnn):
    a = V.visualize(cnn, "block2", [1, 5], steps=24, size=32, progress=False)
    b = V.visualize(cnn, "block2", [1, 5], steps=24, size=32, progress=False)
    c = V.visualize(cnn, "block2", [1, 5], steps=24, size=32, seed=1, progress=False)
    np.testing.assert_array_equal(a.images, b.images)
    assert np.abs(a.images - c.images).mean() > 0.01


@pytest.mark.parametrize("param", ["fft", "pixel"])
def test_batched_equals_one_at_a_time(cnn, param):
    units = [3, 11]
    together = V.visualize(
        cnn, "block2", units, steps=16, size=32, n_images=2, param=param, tv=0.05, l2=0.1, progress=False
    )
    for i, unit in enumerate(units):
        alone = V.visualize(
            cnn, "block2", unit, steps=16, size=32, n_images=2, param=param, tv=0.05, l2=0.1, progress=False
        )
        np.testing.assert_allclose(together.images[i], alone.images[0], atol=2e-4)
        np.testing.assert_allclose(together.activations[i], alone.activations[0], rtol=1e-3, atol=1e-4)


def test_regularisers_pull_towards_grey_and_smoothness(cnn):
    plain = V.visualize(cnn, "block2", [2, 9], steps=32, size=32, progress=False)
    l2 = V.visualize(cnn, "block2", [2, 9], steps=32, size=32, l2=20.0, progress=False)
    tv = V.visualize(cnn, "block2", [2, 9], steps=32, size=32, tv=5.0, progress=False)
    grey = lambda v: float(((v.images - 0.5) ** 2).mean())  # noqa: E731
    rough = lambda v: float(np.abs(np.diff(v.images, axis=2)).mean() + np.abs(np.diff(v.images, axis=3)).mean())  # noqa: E731
    assert grey(l2) < 0.7 * grey(plain)
    assert rough(tv) < 0.7 * rough(plain)


def test_diversity_pushes_one_units_images_apart(cnn):
    kwargs = dict(steps=32, size=32, n_images=3, progress=False)
    same = V.visualize(cnn, "block3", [6], **kwargs)
    diverse = V.visualize(cnn, "block3", [6], diversity=50.0, **kwargs)
    spread = lambda v: np.mean([np.abs(v.images[0, i] - v.images[0, j]).mean() for i in range(3) for j in range(i)])  # noqa: E731
    assert spread(diverse) > 1.2 * spread(same)


def test_a_direction_and_a_neuron(cnn):
    onehot = torch.zeros(2, 64)
    onehot[0, 8] = onehot[1, 20] = 1.0
    direction = V.visualize(cnn, "block3", onehot, steps=64, size=32, progress=False)
    assert direction.kind == "direction" and direction.units is None
    assert (direction.activations > direction.start_activations).all()
    channel_of = V.unit_activations(
        cnn, "block3", [8, 20], torch.tensor(direction.images[:, 0]).permute(0, 3, 1, 2)
    ).means
    np.testing.assert_allclose(np.diag(channel_of.numpy()), direction.activations[:, 0], rtol=1e-4, atol=1e-5)
    neuron = V.visualize(cnn, "block3", [8], kind="neuron", steps=64, size=32, progress=False)
    assert neuron.activations[0, 0] > neuron.start_activations[0, 0]


def test_any_module_with_torchvision_style_paths(resnet):
    vis = V.visualize(resnet, "layer2.0.conv1", [0, 15], steps=48, size=32, progress=False)
    assert (vis.activations > vis.start_activations).all()
    vis = V.visualize(resnet, "layer2.1", [3], steps=48, size=32, progress=False)  # a block's (post-ReLU) output
    assert vis.activations[0, 0] > vis.start_activations[0, 0]


def test_dataset_examples_are_the_top_k_of_a_direct_computation(cnn, probe):
    images = probe[0][:200]
    ex = V.dataset_examples(cnn, "block3", [4, 9], images, k=5, batch_size=64)
    with torch.no_grad():
        acts = cnn.block3(cnn.block2(cnn.block1(images)))[:, [4, 9]].mean((2, 3))
    expected = acts.topk(5, dim=0)
    np.testing.assert_array_equal(ex.indices, expected.indices.T.numpy())
    np.testing.assert_allclose(ex.activations, expected.values.T.numpy(), rtol=1e-5)
    np.testing.assert_array_equal(ex.images[1, 0], images[expected.indices[0, 1]].permute(1, 2, 0).numpy())
    assert ex.crops.shape == (2, 5, 16, 16, 3)


def test_checkpoint_gallery_across_the_shipped_checkpoints(probe):
    steps = V.checkpoint_steps()
    assert len(steps) >= 8 and steps[0] == 0
    chosen = {f"step {s}": V.load_checkpoint(s) for s in (steps[0], steps[3], steps[-1])}
    chosen["again"] = chosen[f"step {steps[-1]}"]
    gallery = V.checkpoint_gallery(
        chosen, "block2", [0, 7, 19], probe=probe[0][:128], steps=16, size=32, x_values=[0, 1, 2, 3], progress=False
    )
    assert gallery.images.shape == (4, 3, 1, 32, 32, 3) and gallery.probe_mean.shape == (4, 3)
    np.testing.assert_array_equal(gallery.images[2], gallery.images[3])  # same model, same seed: same images
    assert np.isnan(gallery.weight_cosine[0]).all() and np.allclose(gallery.weight_cosine[3], 1, atol=1e-6)
    assert (np.abs(gallery.weight_cosine[1:3]) <= 1).all()
    direct = V.unit_activations(chosen["step 0"], "block2", [0, 7, 19], probe[0][:128]).means
    np.testing.assert_allclose(gallery.probe_mean[0], direct.mean(0).numpy(), rtol=1e-5)
    # the shipped run: hue is learnt early, everything by the end
    accuracy = {m["step"]: m["accuracy"] for m in V.training_metrics()}
    assert accuracy[0]["hue"] < 0.3 and accuracy[steps[-1]]["hue"] > 0.95 and accuracy[steps[-1]]["orientation"] > 0.95


def test_procedural_images_are_seeded_and_carry_their_factors():
    a, fa = V.make_images(64, seed=5)
    b, fb = V.make_images(64, seed=5)
    assert torch.equal(a, b) and all(torch.equal(fa[k], fb[k]) for k in fa)
    assert not torch.equal(a, V.make_images(64, seed=6)[0])
    # the shape's mean colour is its hue class: the brightest channels of a red image are red
    red = a[fa["hue"] == 0]
    assert (red[:, 0].amax((1, 2)) > 0.9).all()


def test_bad_input_gets_one_clear_sentence(cnn, resnet):
    with pytest.raises(
        ValueError,
        match=r"layer 'layer2\.0\.conv' is not a module of TinyResNet; close: layer2\.0\.conv2, layer2\.0\.conv1",
    ):
        V.visualize(resnet, "layer2.0.conv", [0], steps=1, size=32)
    with pytest.raises(ValueError, match=r"unit 40 is out of range: layer 'block2' has 32 channels \(0\.\.31\)"):
        V.visualize(cnn, "block2", [1, 40], steps=1, size=32)
    with pytest.raises(ValueError, match=r"images must be a tensor \[N, 3, H, W\].*got shape \[10, 784\]"):
        V.dataset_examples(cnn, "block2", [1], torch.rand(10, 784))
    with pytest.raises(ValueError, match=r"Sequential did not run on an image batch of shape \[1, 3, 32, 32\]"):
        V.visualize(nn.Sequential(nn.Linear(10, 10)).eval(), "0", [0], steps=1, size=32)
    resnet.train()
    with pytest.warns(UserWarning, match="was in training mode; featureviz.vision switched it to eval"):
        vis = V.visualize(resnet, "layer1", [2], steps=2, size=32, progress=False)
    assert resnet.training  # given back as it came
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        resnet.eval()
        np.testing.assert_array_equal(
            V.visualize(resnet, "layer1", [2], steps=2, size=32, progress=False).images, vis.images
        )
