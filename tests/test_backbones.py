"""Video backbones: the I3D port's checkpoint layout and function (specs/i3d fingerprints under deterministic
weights), strict weight loading with named key errors, and the real pretrained EfficientNet-Lite0."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from actionline.errors import CheckpointError
from actionline.models.backbone import scale_pixels
from actionline.models.registry import BACKBONES, backbone_class
from conftest import SHARED_DATA

SPECS = SHARED_DATA.parent / "specs" / "i3d"


def _rows():
    if not SPECS.is_dir():
        pytest.skip(f"{SPECS} not available")
    lines = (SPECS / "state_dict_rgb.tsv").read_text().splitlines()[1:]
    rows = [line.split("\t") for line in lines]
    return [(int(i), key, tuple(int(d) for d in shape.strip("[]").split(","))) for i, key, shape in rows]


def _deterministic_state(stream: str) -> dict[str, torch.Tensor]:
    """The recipe of specs/i3d/README.md, key by key in the port's order."""
    state = {}
    for index, key, shape in _rows():
        if stream == "flow" and key == "Conv3d_1a_7x7.conv3d.weight":
            shape = (64, 2, 7, 7, 7)
        t = torch.rand(shape, generator=torch.Generator().manual_seed(index))
        if key.endswith("conv3d.weight"):
            state[key] = (2 * t - 1) * math.sqrt(6 / math.prod(shape[1:]))
        elif key.endswith("bn.weight"):
            state[key] = 1 + 0.2 * (t - 0.5)
        elif key.endswith("bn.running_var"):
            state[key] = 1 + 0.5 * t
        else:
            state[key] = 0.2 * (t - 0.5)
    return state


def test_i3d_state_dict_is_the_ports_layout():
    rows = _rows()
    model = backbone_class("i3d_rgb")()
    own = [(k, tuple(v.shape)) for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")]
    assert own == [(key, shape) for _, key, shape in rows]
    assert sum(p.numel() for p in model.parameters()) == 12_697_264
    assert sum(p.numel() for p in backbone_class("i3d_flow")().parameters()) == 12_675_312


@pytest.mark.parametrize("stream", ["rgb", "flow"])
def test_i3d_reproduces_the_fingerprint(stream, tmp_path):
    """Loaded like a user's checkpoint (a file without num_batches_tracked), features and logits equal the port's."""
    path = tmp_path / f"{stream}_imagenet.pt"
    torch.save(_deterministic_state(stream), path)
    model = backbone_class(f"i3d_{stream}")().eval()
    model.load_weights(path)
    fingerprint = np.load(SPECS / f"fingerprint_{stream}.npz")
    channels = 3 if stream == "rgb" else 2
    for frames in (16, 21):
        n = channels * frames * 224 * 224
        x = torch.from_numpy(np.sin(0.001 * np.arange(n, dtype=np.float64)).astype(np.float32))
        x = x.view(1, channels, frames, 224, 224)
        with torch.no_grad():
            features, logits = model.features(x)[0].numpy(), model(x)[0].numpy()
        np.testing.assert_allclose(features, fingerprint[f"features_T{frames}"], atol=1e-4, rtol=0)
        np.testing.assert_allclose(logits, fingerprint[f"logits_T{frames}"], atol=1e-4, rtol=0)


def test_weights_that_do_not_fit_name_the_keys(tmp_path):
    model = backbone_class("i3d_flow")()
    state = model.state_dict()
    state.pop("Mixed_5c.b0.conv3d.weight")
    state["extra.weight"] = torch.zeros(1)
    state["logits.conv3d.bias"] = torch.zeros(7)
    torch.save(state, tmp_path / "bad.pt")
    with pytest.raises(CheckpointError) as err:
        model.load_weights(tmp_path / "bad.pt")
    message = str(err.value)
    assert "Mixed_5c.b0.conv3d.weight" in message and "extra.weight" in message and "logits.conv3d.bias" in message
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="not a readable weights file"):
        model.load_weights(tmp_path / "junk.pt")


def test_every_backbone_declares_its_input():
    for name, cls in BACKBONES.items():
        assert cls.input.size <= cls.input.short_side and cls.feature_dim > 0, name


def _imagenet_top(image: np.ndarray) -> int:
    from actionline.data.video import centre_crop

    model = backbone_class("efficientnet_lite0")().eval()
    model.load_weights(model.default_weights())
    h, w = image.shape[:2]
    scale = model.input.short_side / min(h, w)
    resized = torch.nn.functional.interpolate(
        torch.from_numpy(image).permute(2, 0, 1)[None].float(),
        size=(round(h * scale), round(w * scale)),
        mode="bilinear",
        antialias=True,
    )
    crop = centre_crop(resized[0].permute(1, 2, 0).round().clamp(0, 255).byte().numpy(), model.input.size)
    x = scale_pixels(torch.from_numpy(np.ascontiguousarray(crop)).permute(2, 0, 1)[None], model.input.scaling)
    with torch.no_grad():
        return int(model(x).argmax())


def test_efficientnet_lite0_is_really_the_pretrained_network():
    """A real cat photograph ranks an ImageNet cat class first, a real coffee photograph espresso (967)."""
    skimage_data = pytest.importorskip("skimage.data")
    assert _imagenet_top(skimage_data.chelsea()) in range(281, 286)  # tabby, tiger, Persian, Siamese, Egyptian cat
    assert _imagenet_top(skimage_data.coffee()) == 967


TORCHVISION = SHARED_DATA.parent / "specs" / "torchvision"


def _torchvision_state(spec: dict) -> dict[str, torch.Tensor]:
    """specs/torchvision/README.md's deterministic weights, keyed as torchvision names them."""
    import zlib

    state = {}
    for key, shape in spec["keys"]:
        if key.endswith("num_batches_tracked"):
            state[key] = torch.tensor(0)
            continue
        t = torch.randn(shape, generator=torch.Generator().manual_seed(zlib.crc32(key.encode())), dtype=torch.float64)
        if key.endswith("running_var"):
            t = t.abs() + 0.5
        elif len(shape) == 1 and key.endswith(".weight"):
            t = 1 + 0.1 * t
        else:
            t = t / math.sqrt(math.prod(shape[1:]) if len(shape) > 1 else 1)
        state[key] = t.float()
    return state


@pytest.mark.parametrize("name", ["resnet18", "resnet50", "r3d_18", "mc3_18", "r2plus1d_18", "s3d"])
def test_torchvision_checkpoints_load_and_compute_the_same_function(name, tmp_path):
    path = TORCHVISION / f"{name}.json"
    if not path.is_file():
        pytest.skip(f"{path} not available")
    spec = json.loads(path.read_text())
    model = backbone_class(name)().eval()
    assert sum(p.numel() for p in model.parameters()) == spec["num_params"]
    torch.save(_torchvision_state(spec), tmp_path / "weights.pt")
    model.load_weights(tmp_path / "weights.pt")  # strict: every torchvision key has its place
    x = torch.randn(spec["input_shape"], generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        out = model(x)[0].double()
    np.testing.assert_allclose(out[:8].numpy(), spec["golden_output_first8"], atol=1e-4)
    assert float(out.sum()) == pytest.approx(spec["golden_output_sum"], abs=1e-3)
    assert float(out.norm()) == pytest.approx(spec["golden_output_l2"], rel=1e-5)
