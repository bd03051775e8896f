"""Issue 34, the parts of the corpus that need more than one command: injection strings in every field that reaches
the HTML report (the page is parsed), a file-size limit in a subprocess (``resource.setrlimit``), checkpoints of the
previous code loading through the safe path, and valid-but-odd input giving the clean input's result."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import json
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

import numpy as np
import pytest
import torch

from actionline.cli import main
from actionline.data.layout import SegmentationData
from actionline.data.predictions import write_mstcn_prediction
from actionline.data.synthetic.features import synthesize_segmentation
from actionline.data.synthetic.video import write_video
from actionline.viz.html import JS
from test_malformed_inputs import SMALL, snapshot, world  # noqa: F401  (world: the shared trained run)

INJECTED_ID = 'vid"><img src=x onerror=alert(1)>'
INJECTED_LABEL = "</script><svg/onload=alert(2)>"
INJECTED_FOLDER = "A<iframe src=javascript:alert(3)>"


class Page(HTMLParser):
    """Every element with its attributes, the text, and the content of each script."""

    def __init__(self, html: str):
        super().__init__()
        self.elements: list[tuple[str, dict]] = []
        self.text: list[str] = []
        self.scripts: list[str] = []
        self._in_script = False
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))
        self._in_script = tag == "script"
        if self._in_script:
            self.scripts.append("")

    def handle_endtag(self, tag):
        self._in_script = False if tag == "script" else self._in_script

    def handle_data(self, data):
        if self._in_script:
            self.scripts[-1] += data
        else:
            self.text.append(data)


def assert_nothing_injected(html: str, *shown: str) -> Page:
    page = Page(html)
    tags = {tag for tag, _ in page.elements}
    assert not tags & {"img", "iframe", "object", "embed", "base", "form"}, tags
    assert not [(t, a) for t, attrs in page.elements for a in attrs if a.lower().startswith("on")]
    assert [t for t, _ in page.elements].count("script") == 2 and page.scripts[1] == JS
    csp = next(
        a["content"] for t, a in page.elements if t == "meta" and a.get("http-equiv") == "Content-Security-Policy"
    )
    digest = base64.b64encode(hashlib.sha256(JS.encode()).digest()).decode()
    assert f"script-src 'sha256-{digest}'" in csp and "default-src 'none'" in csp
    json.loads(page.scripts[0])  # the embedded scores are still JSON
    text = "".join(page.text)
    for value in shown:
        assert value in text, value  # shown as text, not interpreted
    return page


def injected_dataset(root: Path) -> tuple[Path, Path, Path]:
    """A segmentation dataset whose first test video is named `INJECTED_ID` and one class `INJECTED_LABEL`,
    ground-truth predictions of its test split in a folder named `INJECTED_FOLDER`, and a videos folder."""
    data = synthesize_segmentation(root / "data", num_videos=8, feature_dim=4, seed=0, length_scale=0.3)
    classes = (data / "mapping.txt").read_text().split()[1::2]
    old_label = classes[1]
    (data / "mapping.txt").write_text(
        "".join(f"{i} {INJECTED_LABEL if c == old_label else c}\n" for i, c in enumerate(classes))
    )
    for gt in (data / "groundTruth").glob("*.txt"):
        gt.write_text("\n".join(INJECTED_LABEL if x == old_label else x for x in gt.read_text().split()) + "\n")
    video = (data / "splits" / "test.split1.bundle").read_text().split()[0].removesuffix(".txt")
    (data / "features" / f"{video}.npy").rename(data / "features" / f"{INJECTED_ID}.npy")
    (data / "groundTruth" / f"{video}.txt").rename(data / "groundTruth" / f"{INJECTED_ID}.txt")
    for bundle in (data / "splits").glob("*.bundle"):
        bundle.write_text(bundle.read_text().replace(f"{video}.txt", f"{INJECTED_ID}.txt"))
    dataset = SegmentationData(data)
    pred = root / INJECTED_FOLDER
    for v in dataset.split("test", 1):
        write_mstcn_prediction(pred / v, dataset.label_names(v))
    videos = root / "videos"
    write_video(videos / f"{INJECTED_ID}.mp4", np.zeros((2, 32, 32, 3), np.uint8), 5)
    return data, pred, videos


def test_segmentation_report_escapes_ids_labels_and_names(tmp_path):
    data, pred, videos = injected_dataset(tmp_path)
    out = tmp_path / "report.html"
    assert main(["report", "--pred", str(pred), "--data", str(data), "--out", str(out), "--videos", str(videos)]) == 0
    page = assert_nothing_injected(out.read_text(encoding="utf-8"), INJECTED_ID, INJECTED_LABEL, INJECTED_FOLDER)
    players = [a for t, a in page.elements if t == "video"]
    assert players and players[0]["id"] == f"player-{INJECTED_ID}"  # the attribute round-trips exactly
    assert (out.parent / unquote(players[0]["src"])).exists()
    assert any(a.get("data-video") == INJECTED_ID for t, a in page.elements if t == "svg")


def test_detection_report_escapes_ids_and_labels(tmp_path):
    gt = {"database": {INJECTED_ID: {"duration": 10.0, "subset": "test", "annotations": [
        {"segment": [1, 3], "label": INJECTED_LABEL}, {"segment": [5, 8], "label": "b"}]}}}  # fmt: skip
    sub = {"results": {INJECTED_ID: [{"segment": [1.0, 3.0], "label": INJECTED_LABEL, "score": 0.9}]}}
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    (tmp_path / INJECTED_FOLDER).mkdir()
    (tmp_path / INJECTED_FOLDER / "results.json").write_text(json.dumps(sub))
    out = tmp_path / "report.html"
    args = ["report", "--pred", str(tmp_path / INJECTED_FOLDER), "--gt", str(tmp_path / "gt.json"), "--out", str(out)]
    assert main(args) == 0
    assert_nothing_injected(out.read_text(encoding="utf-8"), INJECTED_LABEL, INJECTED_FOLDER)


LIMITED = """
import contextlib, io, json, resource, sys
from actionline.cli import main
resource.setrlimit(resource.RLIMIT_FSIZE, (BYTES, BYTES))
results = {}
for name, argv in json.loads(sys.argv[1]).items():
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(argv)
    results[name] = [code, err.getvalue()]
print(json.dumps(results))
"""


def test_a_file_size_limit_is_one_error_line_for_every_writer(world, tmp_path):  # noqa: F811
    """Under ``RLIMIT_FSIZE`` (as on a full disk, writes fail part-way): training says its checkpoint cannot be
    written, report / export / view say their file cannot be written; nothing is left half-written."""
    w = world
    commands = {
        "train": ["train", "--model", "mstcn", "--data", str(w["data"]), "--out", str(tmp_path / "r"), *SMALL],
        "report": ["report", "--pred", str(w["pred"]), "--data", str(w["data"]), "--out", str(tmp_path / "r.html")],
        "export": ["export", "--pred", str(w["pred"] / "timelines.json"), "--out", str(tmp_path / "e.csv")],
        "view": ["view", "--pred", str(w["pred"]), "--data", str(w["data"]), "--out", str(tmp_path / "v.png")],
    }
    commands["train"] += ["--epochs", "1"]
    before = snapshot(w["root"])
    script = LIMITED.replace("BYTES", "1500")  # below every output here, above the run's config.yaml
    done = subprocess.run([sys.executable, "-c", script, json.dumps(commands)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-800:]
    results = json.loads(done.stdout.splitlines()[-1])
    for name, (code, err) in results.items():
        errors = [line for line in err.splitlines() if line.startswith("error:")]
        assert code == 2 and len(errors) == 1 and "Traceback" not in err, (name, code, err[-600:])
        assert "too large" in errors[0].lower(), (name, errors[0])
    assert "checkpoint" in next(e for e in results["train"][1].splitlines() if e.startswith("error:"))
    assert (
        not (tmp_path / "r.html").exists() and not (tmp_path / "e.csv").exists() and not (tmp_path / "v.png").exists()
    )
    assert not list(tmp_path.rglob("*.tmp")), "a temporary file was left"
    assert snapshot(w["root"]) == before


def test_checkpoints_of_the_previous_code_load_safely_and_new_ones_need_no_allow_list(world, tmp_path, capsys):  # noqa: F811
    """The previous code pickled numpy's random state (an ndarray) and wrote no digest: such a file predicts and
    resumes through the weights-only path; what training writes now holds only plain data."""
    w = world
    ckpt = torch.load(w["run"] / "checkpoints" / "last.pt", weights_only=True)
    ckpt["rng"]["numpy"] = np.random.get_state()  # as the previous code stored it
    run = tmp_path / "run"
    shutil.copytree(w["run"], run)
    for which in ("best.pt", "last.pt"):
        torch.save(ckpt, run / "checkpoints" / which)
    assert torch.serialization.get_unsafe_globals_in_checkpoint(run / "checkpoints" / "last.pt")  # numpy's types
    assert main(["predict", "--run", str(run), "--data", str(w["data"]), "--out", str(tmp_path / "p")]) == 0
    assert (tmp_path / "p" / "timelines.json").read_text() == (w["pred"] / "timelines.json").read_text()
    assert (
        main(
            [
                "train",
                "--model",
                "mstcn",
                "--data",
                str(w["data"]),
                "--out",
                str(run),
                "--resume",
                "--epochs",
                "2",
                *SMALL,
            ]
        )
        == 0
    )
    assert torch.serialization.get_unsafe_globals_in_checkpoint(run / "checkpoints" / "last.pt") == []


def test_a_checkpoint_with_another_object_is_refused_naming_it(world, tmp_path, capsys):  # noqa: F811
    w = world
    ckpt = torch.load(w["run"] / "checkpoints" / "best.pt", weights_only=True)
    ckpt["source"] = Path("/somewhere")  # an object weights-only loading refuses, and nothing else unpickles
    torch.save(ckpt, tmp_path / "old.pt")
    predict = ["predict", "--data", str(w["data"])]
    assert main([*predict, "--run", str(tmp_path / "old.pt"), "--out", str(tmp_path / "p")]) == 2
    assert "Path" in capsys.readouterr().err
    assert not (tmp_path / "p").exists()


@pytest.mark.parametrize("odd", ["crlf_and_blank_lines", "no_txt_suffix"])
def test_valid_but_odd_split_files_give_the_clean_result(odd, world, tmp_path):  # noqa: F811
    w = world
    data = tmp_path / "data"
    shutil.copytree(w["data"], data)
    bundle = data / "splits" / "test.split1.bundle"
    names = bundle.read_text().split()
    if odd == "crlf_and_blank_lines":
        bundle.write_bytes(("\r\n\r\n".join(names) + "\r\n\r\n").encode())
    else:
        bundle.write_text("\n".join(n.removesuffix(".txt") for n in names) + "\n")
    with contextlib.redirect_stderr(io.StringIO()):
        assert main(["predict", "--run", str(w["run"]), "--data", str(data), "--out", str(tmp_path / "p")]) == 0
    assert (tmp_path / "p" / "timelines.json").read_text() == (w["pred"] / "timelines.json").read_text()
