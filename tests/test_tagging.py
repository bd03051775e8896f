"""HVU tagging (dissertation ch. 5): the HVU format, masked multi-task losses, HATNet's branches and alignment, and
the task end to end through the CLI."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from actionline.cli import main
from actionline.data.hvu import HVUData
from actionline.data.synthetic.hvu import TAGS, synthesize_hvu
from actionline.errors import DataError
from actionline.models.registry import build_model
from actionline.nn.networks.hatnet import HATNet

TINY = ["--set", "model.width=4", "--set", "model.size=32", "--set", "model.frames=8", "--set", "clips.short_side=32",
        "--set", "train.batch_size=4", "--set", "clips.test_clips=2"]  # fmt: skip


@pytest.fixture(scope="module")
def hvu(tmp_path_factory) -> Path:
    return synthesize_hvu(tmp_path_factory.mktemp("hvu"), train=16, val=6, frames=8, size=32, seed=2)


def test_hvu_format_is_read_in_category_order(hvu):
    data = HVUData(hvu)
    assert data.categories == ["action", "attribute", "concept", "event", "object", "scene"]
    assert data.tags[:4] == list(TAGS["action"]) and len(data.tags) == sum(len(t) for t in TAGS.values())
    clips = data.clips("train")
    assert len(clips) == 16 and all(c.label.sum() >= 1 for c in clips)
    assert clips[0].path.name.startswith("hvulite00000_000000_")


def _hvu_folder(root: Path, rows: list[str], categories: str = "Tag,Category\nrun,action\nred,attribute\n") -> Path:
    (root / "videos").mkdir(parents=True, exist_ok=True)
    from actionline.data.synthetic.video import write_video

    write_video(root / "videos" / "abc.mp4", np.zeros((12, 32, 32, 3), dtype=np.uint8), 4)  # a full video, 3 s
    (root / "HVU_Tags_Categories_V1.0.csv").write_text(categories)
    (root / "HVU_Train_V1.0.csv").write_text("Tags,youtube_id,time_start,time_end\n" + "\n".join(rows) + "\n")
    return root


def test_full_videos_are_cut_and_skips_are_counted(tmp_path):
    data = HVUData(_hvu_folder(tmp_path, ["run|red,abc,1,2", ",abc,0,1", "run,missing,0,1"]))
    clips = data.clips("train")
    assert [(c.start, c.end) for c in clips] == [(1.0, 2.0)]
    assert {k: len(v) for k, v in data.skipped.items()} == {"no tags": 1, "no video file": 1}


@pytest.mark.parametrize(
    ("rows", "categories", "match"),
    [
        (["swim,abc,0,1"], None, "'swim' is not in"),
        (["run,abc,2,1"], None, "empty or negative"),
        (["run,abc,x,1"], None, "must be numbers"),
        (["run,abc,0,1"], "Tag,Category\nrun,sport\n", "unknown category"),
        (["run,abc,0,1"], "Tag,Category\nrun,action\nrun,event\n", "listed twice"),
    ],
)
def test_hvu_errors_name_the_line(tmp_path, rows, categories, match):
    folder = _hvu_folder(tmp_path, rows, categories or "Tag,Category\nrun,action\nred,attribute\n")
    with pytest.raises(DataError, match=match):
        HVUData(folder).clips("train")


def test_a_clip_outside_its_video_is_skipped_as_undecodable(tmp_path, capsys):
    folder = _hvu_folder(tmp_path, ["run|red,abc,0,2", "run,abc,10,12", "red,abc,1,3", "run,abc,0,1"])
    code = main(["train", "--model", "tagger", "--data", str(folder), "--out", str(tmp_path / "r"), "--epochs", "1",
                 *TINY, "--set", "train.val_fraction=0.3"])  # fmt: skip
    assert code == 0
    assert "1 video(s) skipped" in capsys.readouterr().err


def test_category_heads_mask_clips_without_labels():
    model = build_model("tagger", {"num_classes": 5, "category_sizes": [2, 3], "width": 4, "frames": 4, "size": 32})
    logits = torch.zeros(2, 5)
    y = torch.tensor([[1.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0, 0.0]])
    terms = model.loss({"logits": logits}, {"labels": y})
    assert float(terms["bce_0"]) == pytest.approx(math.log(2)) and float(terms["bce_1"]) == pytest.approx(math.log(2))
    sharp = torch.tensor([[9.0, -9.0, 9.0, 9.0, 9.0], [-9.0, -9.0, -9.0, 9.0, -9.0]])  # clip 0 wrong on category 1
    masked = model.loss({"logits": sharp}, {"labels": y})
    assert float(masked["bce_1"]) < 1e-3  # clip 0 has no category-1 label: left out
    model.config.missing = "negative"
    assert float(model.loss({"logits": sharp}, {"labels": y})["bce_1"]) > 1.0
    flat = build_model("tagger", {"num_classes": 5, "category_sizes": [2, 3], "heads": "flat", "width": 4, "frames": 4,
                                  "size": 32})  # fmt: skip
    assert set(flat.loss({"logits": sharp}, {"labels": y})) == {"bce", "total"}


def test_flat_loss_is_the_category_loss_with_per_tag_weights_and_negatives():
    """The flat head's BCE mean weighs a category by its tag count: per-category heads with weights n_c / N and
    missing categories as negatives give the same loss (the control of benchmarks/hvu_heads.py)."""
    sizes = [2, 3, 1]
    logits, y = torch.randn(6, 6, generator=torch.Generator().manual_seed(0)), (torch.rand(6, 6) < 0.4).float()
    y[0, :2] = 0  # a clip without labels of category 0
    common = {"num_classes": 6, "category_sizes": sizes, "width": 4, "frames": 4, "size": 32}
    flat = build_model("tagger", {**common, "heads": "flat"}).loss({"logits": logits}, {"labels": y})["total"]
    per_tag = {"category_weights": [n / 6 for n in sizes], "missing": "negative"}
    heads = build_model("tagger", {**common, **per_tag}).loss({"logits": logits}, {"labels": y})["total"]
    assert float(heads) == pytest.approx(float(flat), rel=1e-6)
    masked = build_model("tagger", {**common, **per_tag, "missing": "mask"}).loss({"logits": logits}, {"labels": y})
    assert float(masked["total"]) != pytest.approx(float(flat), rel=1e-3)


def test_hatnet_branches_align_in_time_and_space():
    net = HATNet(num_classes=7, frames=8, width=4)
    x = torch.randn(2, 3, 8, 32, 32)
    assert net(x).shape == (2, 7) and net.feature_dim == 64
    assert [m[0].in_channels for m in net.merge_2d] == [8, 16, 32, 64]  # concat of both branches, reduced back
    pooled = HATNet(num_classes=7, frames=8, width=4, max_pool=True)
    assert pooled(x).shape == (2, 7)
    from actionline.engine.profiler import MacCounter

    with torch.no_grad(), MacCounter(net) as full, MacCounter(pooled) as cheap:
        net(x), pooled(x)
    assert cheap.total < full.total


def test_tagging_end_to_end(tmp_path, hvu):
    run = tmp_path / "run"
    assert main(["train", "--model", "tagger", "--data", str(hvu), "--out", str(run), "--epochs", "1", *TINY,
                 "--set", "model.backbone=hatnet"]) == 0  # fmt: skip
    assert main(["predict", "--run", str(run), "--data", str(hvu), "--out", str(tmp_path / "p")]) == 0
    payload = json.loads((tmp_path / "p/tags.json").read_text())
    assert len(payload["videos"]) == 6 and len(payload["videos"][0]["clips"]) == 2
    from actionline.cli.commands import TaskOptions, evaluate
    from actionline.metrics.tagging import category_map

    report = evaluate(tmp_path / "p", hvu, TaskOptions())
    data = HVUData(hvu)
    truth = {c.video: c.label for c in data.clips("val")}
    scores = np.array([v["scores"] for v in payload["videos"]])
    targets = np.array([truth[v["video"]] for v in payload["videos"]])
    expected = category_map(scores, targets, data.categories, data.tag_category)
    assert report.as_dict["overall"] == pytest.approx(expected["overall"])
    every = category_map(scores, targets, data.categories, data.tag_category, clips="all")
    assert report.as_dict["all_clips"]["overall"] == pytest.approx(every["overall"])
    assert main(["predict", "--run", str(run), "--video", str(hvu / "videos"), "--out", str(tmp_path / "v")]) == 0
    assert (tmp_path / "v/tag_timeline.csv").read_text().startswith("video,tag,category,start,end")


def _tag_predictions(folder: Path, data: HVUData, noise: float, seed: int) -> Path:
    """A tags.json for the val part: the labels plus uniform noise of amplitude ``noise`` (0: perfect scores)."""
    rng = np.random.default_rng(seed)
    records = [{"video": c.video, "scores": (0.8 * c.label + noise * rng.random(len(data.tags))).round(5).tolist()}
               for c in data.clips("val")]  # fmt: skip
    folder.mkdir()
    payload = {"task": "tagging", "tags": data.tags, "categories": data.categories,
               "tag_category": data.tag_category, "videos": records}  # fmt: skip
    (folder / "tags.json").write_text(json.dumps(payload))
    return folder


def test_tagging_report_and_view(tmp_path, hvu):
    from actionline.cli.commands import TaskOptions, evaluate
    from test_report import page_parts

    data = HVUData(hvu)
    perfect, noisy = _tag_predictions(tmp_path / "a", data, 0.0, 0), _tag_predictions(tmp_path / "b", data, 2.0, 1)
    out = tmp_path / "tags.html"
    assert main(["report", "--pred", str(perfect), "--pred", str(noisy), "--data", str(hvu), "--out", str(out)]) == 0
    html, scores, _ = page_parts(out)
    assert scores["A: a"]["overall"] == evaluate(perfect, hvu, TaskOptions()).as_dict["overall"] == 100.0
    assert scores["B: b"]["overall"] == evaluate(noisy, hvu, TaskOptions()).as_dict["overall"] < 100.0
    assert "Per-tag AP" in html and "✓" in html and "http:" not in html and "https:" not in html
    image = tmp_path / "tags.png"
    assert main(["view", "--pred", str(noisy), "--data", str(hvu), "--out", str(image)]) == 0
    assert image.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    other = _tag_predictions(tmp_path / "c", data, 0.0, 0)
    payload = json.loads((other / "tags.json").read_text())
    payload["videos"] = [{"video": "elsewhere", "scores": payload["videos"][0]["scores"]}]
    (other / "tags.json").write_text(json.dumps(payload))
    assert main(["view", "--pred", str(other), "--data", str(hvu), "--out", str(tmp_path / "none.png")]) == 2
    payload["tags"] = payload["tags"][::-1]  # the right clips, over tags in another order
    payload["videos"] = json.loads((noisy / "tags.json").read_text())["videos"]
    (other / "tags.json").write_text(json.dumps(payload))
    for command in ("view", "report"):
        assert main([command, "--pred", str(other), "--data", str(hvu), "--out", str(tmp_path / "none.png")]) == 2
    assert not (tmp_path / "none.png").exists()
