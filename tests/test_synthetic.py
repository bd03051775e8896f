import hashlib

import numpy as np

from actionline.data.layout import SegmentationData
from actionline.data.synthetic.features import FeatureStyle, synthesize_segmentation, video_features
from conftest import shared


def _digest(root):
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file():
            h.update(p.relative_to(root).as_posix().encode())
            h.update(p.read_bytes())
    return h.hexdigest()


def test_same_seed_same_files(tmp_path):
    a = synthesize_segmentation(tmp_path / "a", num_videos=8, feature_dim=8, num_splits=2, seed=5)
    b = synthesize_segmentation(tmp_path / "b", num_videos=8, feature_dim=8, num_splits=2, seed=5)
    c = synthesize_segmentation(tmp_path / "c", num_videos=8, feature_dim=8, num_splits=2, seed=6)
    assert _digest(a) == _digest(b) != _digest(c)


def test_grammar_data_is_a_valid_dataset(toy_data):
    data = SegmentationData(toy_data)
    assert data.classes[0] == "background"
    for v in data.split("test", 1):
        feats, labels = data.pair(v)
        assert feats.shape == (16, len(labels)) and feats.dtype == np.float32
        assert labels[0] == 0 and labels[-1] == 0  # videos start and end in background


def test_features_carry_the_labels():
    """A nearest-prototype classifier beats chance by far, but is not perfect (the data is not trivial)."""
    rng = np.random.default_rng(0)
    labels = np.repeat(rng.integers(0, 6, 40), 50)
    protos = rng.standard_normal((6, 32)).astype(np.float32)
    x = video_features(rng, labels, protos, FeatureStyle.scaled(32, 1.0)).T
    pred = np.argmin(((x[:, None, :] - protos[None]) ** 2).sum(-1), axis=1)
    acc = (pred == labels).mean()
    assert 0.4 < acc < 0.99


def test_labels_from_real_data_are_copied_unchanged(tmp_path):
    src = shared("50salads")
    out = synthesize_segmentation(tmp_path / "s", labels_from=src, max_videos=3, feature_dim=4, seed=0)
    data = SegmentationData(out)
    assert data.info.sample_rate == 2 and data.info.num_splits == 5
    videos = sorted(p.stem for p in (out / "features").glob("*.npy"))
    assert len(videos) == 3
    for v in videos:
        assert (out / "groundTruth" / f"{v}.txt").read_text().split() == (
            src / "groundTruth" / f"{v}.txt"
        ).read_text().split()
        assert data.features(v).shape[1] == len(data.labels(v))
    assert (out / "mapping.txt").read_text().split() == (src / "mapping.txt").read_text().split()
