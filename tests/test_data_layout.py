import shutil

import numpy as np
import pytest

from actionline.data.layout import SegmentationData, carve_validation, read_mapping
from actionline.errors import DataError
from conftest import shared


@pytest.mark.parametrize(
    ("name", "videos", "classes", "sr", "splits"), [("breakfast", 1712, 48, 1, 4), ("50salads", 50, 19, 2, 5)]
)
def test_reads_real_ground_truth_unchanged(name, videos, classes, sr, splits):
    root = shared(name)
    data = SegmentationData(root)
    assert len(data.classes) == classes and data.info.sample_rate == sr and data.info.num_splits == splits
    all_videos = {v for s in range(1, splits + 1) for part in ("train", "test") for v in data.split(part, s)}
    assert len(all_videos) == videos
    for v in sorted(all_videos)[:: max(1, videos // 20)]:
        raw = [line.strip() for line in (root / "groundTruth" / f"{v}.txt").read_text().splitlines() if line.strip()]
        labels = data.labels(v)
        assert len(labels) == len(raw)
        assert [data.classes[i] for i in labels] == raw


def test_splits_are_disjoint_and_cover(toy_data):
    data = SegmentationData(toy_data)
    tests = [set(data.split("test", s)) for s in range(1, 5)]
    assert set.union(*tests) == {p.stem for p in (toy_data / "features").glob("*.npy")}
    for s in range(1, 5):
        assert not set(data.split("train", s)) & set(data.split("test", s))


def test_validation_carve_is_deterministic_and_disjoint():
    videos = [f"v{i}" for i in range(20)]
    train, val = carve_validation(videos, 0.2, seed=1)
    assert len(val) == 4 and not set(train) & set(val) and set(train) | set(val) == set(videos)
    assert carve_validation(list(reversed(videos)), 0.2, seed=1) == (train, val)  # order-independent
    assert carve_validation(videos, 0.2, seed=2)[1] != val
    assert carve_validation(videos, 0.0) == (sorted(videos), [])


def test_sample_rate_strides_features_and_labels(tmp_path, toy_data):
    root = tmp_path / "sr2"
    shutil.copytree(toy_data, root)
    (root / "actionline.json").write_text('{"name": "x", "sample_rate": 2, "background": ["background"]}')
    data = SegmentationData(root)
    v = data.split("test", 1)[0]
    feats, labels = data.pair(v)
    full = data.labels(v)
    assert np.array_equal(labels, full[::2]) and feats.shape[1] == len(labels)


# --- bad input ---------------------------------------------------------------------------------------------------
@pytest.fixture()
def broken(tmp_path, toy_data):
    root = tmp_path / "data"
    shutil.copytree(toy_data, root)
    data = SegmentationData(root)
    return root, data, data.split("test", 1)[0]


def test_missing_folder_and_files(tmp_path, broken):
    root, data, v = broken
    with pytest.raises(DataError, match="not found"):
        SegmentationData(tmp_path / "nope")
    (root / "features" / f"{v}.npy").unlink()
    with pytest.raises(DataError, match="feature file not found"):
        data.pair(v)
    with pytest.raises(DataError, match="split file not found"):
        data.split("test", 9)


@pytest.mark.parametrize(
    ("array", "message"),
    [
        (np.zeros((3, 4, 5), dtype=np.float32), "2-D"),
        (np.array([[np.nan, 1.0], [1.0, 1.0]], dtype=np.float32), "NaN"),
        (np.array([[np.inf, 1.0]], dtype=np.float32), "NaN or inf"),
        (np.zeros((4, 0), dtype=np.float32), "empty"),
    ],
)
def test_bad_feature_arrays(broken, array, message):
    root, data, v = broken
    np.save(root / "features" / f"{v}.npy", array)
    with pytest.raises(DataError, match=message):
        data.features(v)


def test_corrupt_npy(broken):
    root, data, v = broken
    (root / "features" / f"{v}.npy").write_bytes(b"not a numpy file")
    with pytest.raises(DataError, match="cannot read"):
        data.features(v)


def test_label_feature_length_mismatch(broken):
    root, data, v = broken
    path = root / "groundTruth" / f"{v}.txt"
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:-5]) + "\n")
    with pytest.raises(DataError, match="feature frames but"):
        data.pair(v)
    path.write_text("\n".join(lines[:-1]) + "\n")  # one frame apart: tolerated (truncated like MS-TCN)
    feats, labels = data.pair(v)
    assert feats.shape[1] == len(labels) == len(lines) - 1


def test_unknown_label_and_empty_file(broken):
    root, data, v = broken
    path = root / "groundTruth" / f"{v}.txt"
    lines = path.read_text().splitlines()
    lines[3] = "juggling"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r":4: label 'juggling' is not in mapping.txt"):
        data.labels(v)
    path.write_text("")
    with pytest.raises(DataError, match="empty"):
        data.labels(v)


def test_bad_mapping(tmp_path):
    p = tmp_path / "mapping.txt"
    p.write_text("0 a\n2 b\n")
    with pytest.raises(DataError, match="without gaps"):
        read_mapping(p)
    p.write_text("0 a\n1 a\n")
    with pytest.raises(DataError, match="duplicate"):
        read_mapping(p)
    p.write_text("zero a\n")
    with pytest.raises(DataError, match="expected"):
        read_mapping(p)
