"""Clip classification (dissertation ch. 4): STC block, Hara-layout 3D ResNets, inflation, clip datasets and
sampling, the task end to end through the CLI (train, resume, predict, evaluate, predict --video), and 2D -> 3D
correspondence pre-training with a frozen teacher."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from actionline.cli import main
from actionline.data.clips import ClipData, clip_indices, uniform_starts
from actionline.data.synthetic.clips import CLASSES, synthesize_video_classification
from actionline.data.synthetic.video import write_video
from actionline.engine.checkpoint import load_checkpoint
from actionline.errors import CheckpointError, ConfigError, DataError
from actionline.metrics.classification import confusion_matrix, top_k_accuracy
from actionline.models.registry import build_model
from actionline.models.video.resnet2d import ResNet18
from actionline.nn.networks.hara_resnet3d import ResNet3D, STCSettings
from actionline.nn.networks.stc import STCBlock, stc_parameters
from actionline.nn.weights.inflation import inflate_state, load_network_state

TINY = ["--set", "model.width=4", "--set", "model.size=32", "--set", "model.frames=8"]
TINY_TRAIN = ["--set", "train.batch_size=4", "--set", "clips.short_side=32", "--set", "clips.test_clips=2"]


@pytest.fixture(scope="module")
def motion(tmp_path_factory) -> Path:
    return synthesize_video_classification(
        tmp_path_factory.mktemp("motion"), train_per_class=3, test_per_class=1, frames=12, size=32, seed=1
    )


# --- STC block --------------------------------------------------------------------------------------------
def test_stc_output_is_the_mean_of_both_gates_times_the_input():
    torch.manual_seed(0)
    block = STCBlock(8, 4, reduction=2)
    x = torch.randn(2, 8, 4, 3, 3)
    s_t = block.tcb(x.mean(dim=(2, 3, 4)))
    s_s = block.scb(x.mean(dim=(3, 4)).transpose(1, 2).reshape(2, 32))
    torch.testing.assert_close(block(x), 0.5 * (s_t + s_s)[:, :, None, None, None] * x)


@pytest.mark.parametrize(("channels", "frames", "r"), [(8, 4, 2), (64, 8, 16), (32, 1, 4)])
def test_stc_parameter_counts_follow_the_closed_forms(channels, frames, r):
    block = STCBlock(channels, frames, r)
    tcb, scb = stc_parameters(channels, frames, r)
    assert sum(p.numel() for p in block.tcb.parameters()) == tcb
    assert sum(p.numel() for p in block.scb.parameters()) == scb
    weights_only = sum(p.numel() for p in block.parameters() if p.ndim == 2)
    assert weights_only == 2 * channels**2 // r + frames * channels**2 * (frames + 1) // r


def test_stc_spatial_branch_rejects_another_length_and_gradients_reach_every_fc():
    block = STCBlock(8, 4, 2)
    with pytest.raises(ConfigError, match="built for T = 4"):
        block(torch.randn(1, 8, 5, 2, 2))
    block(torch.randn(2, 8, 4, 2, 2)).square().sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in block.parameters())


def test_stc_resnet101_overhead_matches_the_spec():
    """Spec A: STC-ResNet101 at r = 4, 16 frames: TCB 19M + SCB 51M parameters; ResNet-18 at r = 16: 0.28M."""
    base = sum(p.numel() for p in ResNet3D(101).parameters())
    stc = sum(p.numel() for p in ResNet3D(101, stc=STCSettings(4)).parameters())
    assert (stc - base) / 1e6 == pytest.approx(70.3, abs=0.2)
    net18 = ResNet3D(18, stc=STCSettings(16))
    extra = sum(p.numel() for n, p in net18.named_parameters() if ".stc." in n)
    expected = sum(
        sum(stc_parameters(u.stc.tcb[0].in_features, u.stc.frames, 16))
        for u in net18.modules()
        if getattr(u, "stc", None) is not None
    )
    assert extra == expected and extra / 1e6 == pytest.approx(0.28, abs=0.01)


# --- 3D ResNets in Hara's layout --------------------------------------------------------------------------
def test_hara_layout_keys_shapes_and_parameter_counts():
    net = ResNet3D(18)
    state = net.state_dict()
    assert tuple(state["conv1.weight"].shape) == (64, 3, 7, 7, 7)
    assert tuple(state["layer2.0.downsample.0.weight"].shape) == (128, 64, 1, 1, 1)
    assert tuple(state["fc.weight"].shape) == (400, 512)
    assert not any("downsample" in k for k in ResNet3D(18, shortcut="A").state_dict())
    assert tuple(ResNet3D(101, cardinality=32).state_dict()["layer1.0.conv2.weight"].shape) == (128, 4, 3, 3, 3)
    counts = {d: sum(p.numel() for p in ResNet3D(d).parameters()) for d in (18, 34, 50)}
    assert counts == {18: 33_409_104, 34: 63_718_736, 50: 47_018_576}
    assert ResNet3D(18, width=8, frames=8)(torch.randn(2, 3, 8, 32, 32)).shape == (2, 400)


def test_a_hara_checkpoint_loads_and_gets_a_new_classifier(tmp_path):
    """A DataParallel checkpoint ({'state_dict': {'module.*'}}) with 400 classes starts a 6-class model."""
    source = ResNet3D(18, width=4, frames=8)
    torch.save({"state_dict": {f"module.{k}": v for k, v in source.state_dict().items()}}, tmp_path / "hara.pth")
    model = build_model("resnet3d_18", {"width": 4, "frames": 8, "num_classes": 6})
    from actionline.engine.initial_weights import initialise

    assert "new classifier" in initialise(model, str(tmp_path / "hara.pth"))
    torch.testing.assert_close(model.net.layer3[0].conv1.weight, source.layer3[0].conv1.weight)
    torch.save({"conv1.weight": torch.zeros(3)}, tmp_path / "bad.pth")
    with pytest.raises(CheckpointError, match="missing"):
        initialise(model, str(tmp_path / "bad.pth"))


def test_inflated_weights_reproduce_the_2d_network_on_a_static_clip():
    """Each 2D kernel repeated over t and divided by t: on identical frames a 3D conv gives the 2D conv's output
    at every frame whose temporal window lies inside the clip."""
    torch.manual_seed(0)
    net2d, net3d = ResNet18(width=8), ResNet3D(18, width=8, frames=8)
    state = inflate_state(net2d.state_dict(), net3d)
    assert set(state) == {k for k in net3d.state_dict() if not k.startswith("fc.") and "num_batches" not in k}
    torch.testing.assert_close(state["conv1.weight"].sum(dim=2), net2d.conv1.weight)
    load_network_state(net3d, state, "test")
    frame = torch.randn(1, 8, 6, 6)
    conv2d, conv3d = net2d.layer1[0].conv1, net3d.layer1[0].conv1
    out3d = conv3d(frame[:, :, None].repeat(1, 1, 5, 1, 1))
    torch.testing.assert_close(out3d[:, :, 2], conv2d(frame), atol=1e-5, rtol=1e-5)
    with pytest.raises(CheckpointError, match="lack"):
        inflate_state({}, net3d)


# --- data -------------------------------------------------------------------------------------------------
def test_clip_indices_loop_or_pad_short_videos_and_uniform_starts():
    assert clip_indices(5, 4, 2, 0, "loop").tolist() == [0, 2, 4, 1]
    assert clip_indices(5, 4, 2, 0, "pad").tolist() == [0, 2, 4, 4]
    assert uniform_starts(20, 8, 3).tolist() == [0, 6, 12]
    assert uniform_starts(4, 8, 3).tolist() == [0, 0, 0]


def _ucf(root: Path, train_lines: list[str], test_lines: list[str]) -> None:
    video = np.zeros((4, 32, 32, 3), dtype=np.uint8)
    for cls in ("Run", "Jump"):
        write_video(root / "UCF-101" / cls / f"v_{cls}_g01_c01.avi", video, 10)
    (root / "classInd.txt").write_text("1 Jump\n2 Run\n")
    (root / "trainlist01.txt").write_text("\n".join(train_lines) + "\n")
    (root / "testlist01.txt").write_text("\n".join(test_lines) + "\n")


def test_ucf101_lists_are_read_unchanged(tmp_path):
    _ucf(tmp_path, ["Run/v_Run_g01_c01.avi 2", "Jump/v_Jump_g01_c01.avi 1"], ["Run/v_Run_g01_c01.avi"])
    data = ClipData(tmp_path)
    assert data.layout == "ucf101" and data.classes == ["Jump", "Run"]
    assert [(v.video, v.label) for v in data.videos("train")] == [("Run/v_Run_g01_c01", 1), ("Jump/v_Jump_g01_c01", 0)]
    assert data.videos("test")[0].label == 1


@pytest.mark.parametrize(
    ("train", "match"),
    [
        (["Run/v_Run_g01_c01.avi 3"], "class index '3'"),
        (["Run/v_Run_g01_c01.avi x"], "class index 'x'"),
        (["Swim/v_Swim_g01_c01.avi"], "'Swim' is not in the class list"),
        (["Run/v_Run_g09_c01.avi 2"], "not found"),
        (["Run/v_Run_g01_c01.avi 2", "Run/v_Run_g01_c01.avi 2"], "listed twice"),
    ],
)
def test_ucf101_list_errors_name_the_line(tmp_path, train, match):
    _ucf(tmp_path, train, ["Run/v_Run_g01_c01.avi"])
    with pytest.raises(DataError, match=match):
        ClipData(tmp_path).videos("train")


def test_csv_layout_errors(tmp_path, motion):
    (tmp_path / "train.csv").write_text("file,class\na.mp4,x\n")
    with pytest.raises(DataError, match="missing column"):
        ClipData(tmp_path)
    (tmp_path / "train.csv").write_text("path,label\n")
    with pytest.raises(DataError, match="no rows"):
        ClipData(tmp_path)
    with pytest.raises(DataError, match="not a clip dataset"):
        ClipData(tmp_path / "..")
    data = ClipData(motion)
    assert data.classes == list(CLASSES) and data.eval_part(None) == "test"


# --- metrics ----------------------------------------------------------------------------------------------
def test_top_k_accuracy_by_hand():
    scores = np.array([[0.1, 0.7, 0.2], [0.5, 0.3, 0.2], [0.2, 0.2, 0.6], [1 / 3, 1 / 3, 1 / 3]])
    labels = np.array([1, 1, 0, 2])
    assert top_k_accuracy(scores, labels, 1) == 25.0
    assert top_k_accuracy(scores, labels, 2) == 75.0  # the tie ranks class 0 then 1: label 2 is third
    assert top_k_accuracy(scores, labels, 3) == 100.0
    assert confusion_matrix(np.array([1, 0, 2]), np.array([1, 1, 0]), 3).tolist() == [[0, 0, 1], [1, 1, 0], [0, 0, 0]]


# --- the task through the CLI -----------------------------------------------------------------------------
def test_train_resume_predict_evaluate_and_predict_video(tmp_path, motion):
    common = ["train", "--model", "stc_resnet3d_18", "--data", str(motion), "--config", "motion", *TINY, *TINY_TRAIN]
    assert main([*common, "--out", str(tmp_path / "a"), "--epochs", "2"]) == 0
    assert main([*common, "--out", str(tmp_path / "b"), "--epochs", "1"]) == 0
    assert main([*common, "--out", str(tmp_path / "b"), "--epochs", "2", "--resume"]) == 0
    a = load_checkpoint(tmp_path / "a/checkpoints/last.pt")["model_state"]
    b = load_checkpoint(tmp_path / "b/checkpoints/last.pt")["model_state"]
    assert all(torch.equal(a[k], b[k]) for k in a)  # random clips and crops resume bit-exactly

    assert main(["predict", "--run", str(tmp_path / "a"), "--data", str(motion), "--out", str(tmp_path / "p")]) == 0
    payload = json.loads((tmp_path / "p/classification.json").read_text())
    assert len(payload["videos"]) == len(CLASSES) and all(len(v["clips"]) == 2 for v in payload["videos"])
    truth = {v.video: v.label for v in ClipData(motion).videos("test")}
    scores = np.array([v["scores"] for v in payload["videos"]])
    expected = top_k_accuracy(scores, np.array([truth[v["video"]] for v in payload["videos"]]), 1)
    assert main(["evaluate", "--pred", str(tmp_path / "p"), "--data", str(motion), "--json"]) == 0
    from actionline.cli.commands import TaskOptions, evaluate

    report = evaluate(tmp_path / "p", motion, TaskOptions())
    assert report.as_dict["video_top1"] == pytest.approx(expected)
    assert np.allclose(
        scores, [np.mean([c["scores"] for c in v["clips"]], axis=0) for v in payload["videos"]], atol=1e-5
    )

    videos = motion / "videos" / "moves_up"
    assert main(["predict", "--run", str(tmp_path / "a"), "--video", str(videos), "--out", str(tmp_path / "v")]) == 0
    by_video = json.loads((tmp_path / "v/classification.json").read_text())["videos"]
    assert {v["video"] for v in by_video} == {p.stem for p in videos.glob("*.mp4")}
    assert all(c["seconds"][1] > c["seconds"][0] for v in by_video for c in v["clips"])


def test_undecodable_videos_are_skipped_counted_and_listed(tmp_path, motion, capsys):
    import shutil

    data = tmp_path / "data"
    shutil.copytree(motion, data)
    (data / "videos/moves_up/train_000.mp4").write_bytes(b"not a video")
    run = ["train", "--model", "resnet3d_10", "--data", str(data), "--config", "motion", *TINY, *TINY_TRAIN]
    assert main([*run, "--out", str(tmp_path / "r"), "--epochs", "1"]) == 0
    err = capsys.readouterr().err
    assert "1 video(s) skipped" in err and "train_000" in err


def test_bad_inputs_get_clear_errors_and_write_nothing(tmp_path, motion):
    run = tmp_path / "r"
    base = ["train", "--model", "stc_resnet3d_18", "--data", str(motion), "--out", str(run), "--config", "motion"]
    assert main([*base, *TINY, "--set", "model.frames=0"]) == 2
    assert main([*base, "--set", "model.init=/nonexistent.pth", *TINY]) == 2
    assert main([*base, *TINY, "--set", "clips.scale_min=0"]) == 2
    assert not (run / "config.yaml").exists()
    assert main(["predict", "--run", str(run), "--data", str(motion), "--out", str(tmp_path / "p")]) == 2


# --- 2D -> 3D transfer ------------------------------------------------------------------------------------
def test_pretrain_negatives_are_not_background_matched(motion):
    """`pretrain` draws a negative's clip from another video at random, as Sec. 4.3 does, not from one on the same
    background (unlabeled videos name none; benchmarks/transfer_init.py matches them on videos generated in
    background groups). On videos that differ in background, as every `synth clips` video does (its grey level is
    drawn per video), the pretext is then solved by the background alone: comparing the colour of the frames'
    corners with the clip's separates every held-out pair (docs/models/stc.md)."""
    from actionline.data.clips import ClipSampling, DecodedVideos
    from actionline.models.backbone import MEAN_STD
    from actionline.tasks.transfer import CorrespondencePairs

    paths = sorted((motion / "videos").rglob("*.mp4"))
    pairs = CorrespondencePairs(paths, ClipSampling(short_side=32), 8, 32, False, DecodedVideos(None, 32, 2**26))
    mean, std = (torch.tensor(v)[:, None, None, None] for v in MEAN_STD["kinetics"])

    def corners(x: torch.Tensor) -> torch.Tensor:  # [3, T, S, S] in 0..255 -> the corners' median colour
        patches = [x[..., :4, :4], x[..., :4, -4:], x[..., -4:, :4], x[..., -4:, -4:]]
        return torch.cat(patches, -1).reshape(3, -1).median(1).values

    distance, positive = [], []
    for i in range(len(pairs)):
        item = pairs[i]
        frames, clip = item["frames"].permute(1, 0, 2, 3).float(), (item["features"] * std + mean) * 255
        distance.append(float((corners(frames) - corners(clip)).abs().max()))
        positive.append(item["label"] == 1)
    distance, positive = np.array(distance), np.array(positive)
    assert len(distance) == 2 * len(paths) and positive.sum() == len(paths)
    assert distance[positive].max() < distance[~positive].min()  # a threshold on the background alone: 100 %


def test_transfer_keeps_the_teacher_bit_identical_and_starts_fine_tuning(tmp_path, motion):
    torch.manual_seed(0)
    teacher = ResNet18(width=4)
    torch.save(teacher.state_dict(), tmp_path / "teacher.pth")
    pre = tmp_path / "pre"
    code = main([
        "pretrain", "--data", str(motion / "videos"), "--out", str(pre), "--student", "resnet3d_18",
        "--teacher", "resnet18", "--teacher-weights", str(tmp_path / "teacher.pth"), "--epochs", "2",
        "--config", "motion", *TINY, *TINY_TRAIN, "--set", "model.teacher_width=4",
    ])  # fmt: skip
    assert code == 0
    state = load_checkpoint(pre / "checkpoints/last.pt")["model_state"]
    for key, value in teacher.state_dict().items():
        assert torch.equal(state[f"teacher.{key}"], value), key  # weights and batch-norm statistics
    untrained = build_model(
        "transfer", {"student": "resnet3d_18", "teacher": "efficientnet_lite0", "width": 4, "frames": 8, "size": 32}
    )
    clips, frames = torch.randn(8, 3, 8, 32, 32), torch.randint(0, 256, (8, 8, 3, 32, 32), dtype=torch.uint8)
    start = untrained.loss(untrained(clips), {"frames": frames, "labels": torch.tensor([0, 1] * 4)})["total"]
    assert abs(float(start.detach()) - math.log(2)) < 0.05  # the two-way decision starts at chance
    ft = tmp_path / "ft"
    common = ["--data", str(motion), "--config", "motion", *TINY, *TINY_TRAIN, "--set", "train.lr=1e-12"]
    assert main(["train", "--model", "resnet3d_18", "--out", str(ft), "--epochs", "1", *common,
                 "--set", f"model.init={pre}"]) == 0  # fmt: skip
    tuned = load_checkpoint(ft / "checkpoints/last.pt")["model_state"]
    torch.testing.assert_close(
        tuned["net.layer4.1.conv2.weight"], state["student.layer4.1.conv2.weight"], atol=1e-6, rtol=0
    )
    file_init = pre / "checkpoints/last.pt"  # the checkpoint file itself, not the run folder
    assert main(["train", "--model", "resnet3d_18", "--out", str(tmp_path / "ft2"), "--epochs", "1", *common,
                 "--set", f"model.init={file_init}"]) == 0  # fmt: skip
    tuned = load_checkpoint(tmp_path / "ft2/checkpoints/last.pt")["model_state"]
    torch.testing.assert_close(
        tuned["net.layer4.1.conv2.weight"], state["student.layer4.1.conv2.weight"], atol=1e-6, rtol=0
    )
    assert main(["predict", "--run", str(pre), "--data", str(motion), "--out", str(tmp_path / "x")]) == 2


def test_step_wise_average_precision_by_hand():
    from actionline.metrics.classification import average_precision

    # ranks: + - + -  -> P@1 = 1, P@3 = 2/3; AP = 0.5 * 1 + 0.5 * 2/3
    assert average_precision(np.array([0.9, 0.8, 0.7, 0.1]), np.array([1, 0, 1, 0])) == pytest.approx(5 / 6)
    # a tie between a positive and a negative enters together: P = 1/2 at recall 1
    assert average_precision(np.array([0.5, 0.5]), np.array([1, 0])) == pytest.approx(0.5)
    assert np.isnan(average_precision(np.array([0.3]), np.array([0])))
