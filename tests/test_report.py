"""``actionline report``: one self-contained HTML page per task whose scores equal `evaluate`'s, with SVG that
parses, no network reference, A vs B side by side, video players that seek; rendered by headless Chromium where
it is installed."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from actionline.cli import main
from actionline.cli.commands import TaskOptions, evaluate
from actionline.data.layout import SegmentationData
from actionline.data.predictions import write_mstcn_prediction


def noisy_predictions(data: SegmentationData, out: Path, flip: float, seed: int) -> Path:
    """Ground truth with a share ``flip`` of frames relabelled at random (MS-TCN prediction files)."""
    rng = np.random.default_rng(seed)
    for video in data.split("test", 1):
        labels = data.labels(video)
        noisy = np.where(rng.random(len(labels)) < flip, rng.integers(0, len(data.classes), len(labels)), labels)
        write_mstcn_prediction(out / video, [data.classes[i] for i in noisy])
    return out


def page_parts(path: Path) -> tuple[str, dict, list[ET.Element]]:
    html = path.read_text(encoding="utf-8")
    scores = json.loads(re.search(r'<script type="application/json" id="scores">(.*?)</script>', html, re.S).group(1))
    drawings = [ET.fromstring(m) for m in re.findall(r"<svg.*?</svg>", html, re.S)]  # every SVG is well-formed XML
    return html, scores, drawings


@pytest.fixture(scope="module")
def segmentation_report(toy_data, tmp_path_factory) -> tuple[Path, Path, Path, Path]:
    root = tmp_path_factory.mktemp("report")
    data = SegmentationData(toy_data)
    a = noisy_predictions(data, root / "A", 0.02, 0)
    b = noisy_predictions(data, root / "B", 0.2, 1)
    videos = root / "videos"
    from actionline.data.synthetic.video import write_video

    first = data.split("test", 1)[0]
    write_video(videos / f"{first}.mp4", np.zeros((4, 32, 32, 3), dtype=np.uint8), 10)
    out = root / "report.html"
    assert main(["report", "--pred", str(a), "--pred", str(b), "--data", str(toy_data), "--out", str(out),
                 "--videos", str(videos)]) == 0  # fmt: skip
    return out, a, b, toy_data


def test_segmentation_report_scores_equal_evaluate(segmentation_report):
    out, a, b, data = segmentation_report
    html, scores, drawings = page_parts(out)
    for name, pred in (("A: A", a), ("B: B", b)):
        expected = evaluate(pred, data, TaskOptions()).as_dict
        assert scores[name]["acc"] == expected["acc"] and scores[name]["f1@50"] == expected["f1@50"]
        assert f'<td class="num" data-v="{expected["edit"]}">{expected["edit"]:.1f}</td>' in html
    assert scores["A: A"]["acc"] > scores["B: B"]["acc"]
    assert "http" not in html and 'src="//' not in html
    timelines = [d for d in drawings if d.get("class") == "timeline"]
    assert timelines and all(len(t.findall("rect")) > 0 for t in timelines)
    assert all(r.find("title") is not None for r in timelines[0].findall("rect"))
    for title in ("Per video", "Confusion matrix", "Per-class F1@k", "boundary offsets"):
        assert title in html


def test_segmentation_report_video_players_seek(segmentation_report):
    out, *_ = segmentation_report
    html, _, drawings = page_parts(out)
    players = re.findall(r'<video id="player-([^"]+)"[^>]*src="([^"]+)"', html)
    assert len(players) == 1 and players[0][1].endswith(".mp4")
    assert (out.parent / players[0][1]).is_file()  # a relative path from the report, nothing fetched
    assert any(d.get("data-video") == players[0][0] for d in drawings)


def test_detection_report(tmp_path):
    gts = {"v1": [(0, 10, "a"), (20, 30, "b")], "v2": [(5, 8, "a")]}
    database = {
        v: {"subset": "validation", "duration": 40.0, "annotations": [{"segment": [s, e], "label": c} for s, e, c in g]}
        for v, g in gts.items()
    }
    (tmp_path / "gt.json").write_text(json.dumps({"database": database}))
    results = {
        "v1": [{"segment": [0, 10], "label": "a", "score": 0.9}, {"segment": [0, 9], "label": "a", "score": 0.8},
               {"segment": [22, 31], "label": "a", "score": 0.5}],
        "v2": [{"segment": [5, 8], "label": "a", "score": 0.7}, {"segment": [30, 35], "label": "b", "score": 0.2}],
    }  # fmt: skip
    (tmp_path / "results.json").write_text(json.dumps({"results": results}))
    out = tmp_path / "det.html"
    assert main(["report", "--pred", str(tmp_path / "results.json"), "--gt", str(tmp_path / "gt.json"),
                 "--out", str(out)]) == 0  # fmt: skip
    html, scores, _ = page_parts(out)
    expected = evaluate(tmp_path / "results.json", None, TaskOptions(gt=tmp_path / "gt.json")).as_dict
    assert scores["A: results.json"]["avg_mAP"] == expected["avg_mAP"]
    assert "double detection" in html and "Sensitivity to instance length" in html and "http" not in html


def test_classification_report(tmp_path):
    from actionline.data.synthetic.clips import CLASSES, synthesize_video_classification

    data = synthesize_video_classification(tmp_path / "d", train_per_class=2, test_per_class=1, frames=4, size=32)
    rng = np.random.default_rng(0)
    test = [line.split(",") for line in (data / "test.csv").read_text().splitlines()[1:]]
    records = []
    for path, label in test:
        scores = rng.dirichlet(np.ones(len(CLASSES)))
        scores[CLASSES.index(label)] += 0.5
        scores = (scores / scores.sum()).round(6).tolist()
        records.append({"video": str(Path(path).with_suffix("")), "clips": [{"frames": [0, 4], "scores": scores}],
                        "scores": scores, "top5": []})  # fmt: skip
    pred = tmp_path / "pred"
    pred.mkdir()
    payload = {"task": "classification", "classes": list(CLASSES), "clip_frames": 4, "videos": records}
    (pred / "classification.json").write_text(json.dumps(payload))
    out = tmp_path / "cls.html"
    assert main(["report", "--pred", str(pred), "--data", str(data), "--out", str(out)]) == 0
    html, scores, _ = page_parts(out)
    assert scores["A: pred"]["video_top1"] == evaluate(pred, data, TaskOptions()).as_dict["video_top1"] == 100.0
    assert "Per-class AP" in html and "100.0" in html


def test_report_rejects_mixed_tasks_and_bad_options(tmp_path, segmentation_report):
    _, a, _, data = segmentation_report
    (tmp_path / "results.json").write_text(json.dumps({"results": {}}))
    assert main(["report", "--pred", str(a), "--pred", str(tmp_path / "results.json"), "--data", str(data),
                 "--out", str(tmp_path / "x.html")]) == 2  # fmt: skip
    assert main(["report", "--pred", str(a), "--data", str(data), "--out", str(tmp_path / "y.html"),
                 "--max-videos", "-1"]) == 2  # fmt: skip
    assert not (tmp_path / "x.html").exists() and not (tmp_path / "y.html").exists()


BROWSER = shutil.which("chromium") or shutil.which("chromium-headless-shell") or shutil.which("chrome-headless-shell")


@pytest.mark.skipif(
    BROWSER is None, reason="no headless Chromium installed (Debian: chromium or chromium-headless-shell)"
)
def test_report_renders_in_a_real_browser_without_console_errors(segmentation_report, tmp_path):
    import matplotlib.image

    out, *_ = segmentation_report
    shot = tmp_path / "shot.png"
    run = subprocess.run(
        [BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr", "--v=0",
         "--window-size=1200,1400", f"--screenshot={shot}", out.as_uri()],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    console = [line for line in run.stderr.splitlines() if "CONSOLE" in line]
    assert not [line for line in console if "rror" in line or "Uncaught" in line], console
    image = matplotlib.image.imread(shot)[..., :3]
    orange = np.all(np.abs(image - np.array([0xF2, 0x8E, 0x2B]) / 255) < 0.02, axis=-1)  # the second class colour
    assert orange.sum() > 50  # the timelines were drawn
