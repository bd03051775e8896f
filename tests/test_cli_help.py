"""Help text that follows the code: the --model help comes from the registry, and `synth video` is a deprecated
alias of `synth clips` (same files, a warning)."""

import actionline.models  # noqa: F401  (registers every model)
from actionline.cli import main
from actionline.cli.options import Model
from actionline.models.registry import available_models, model_class


def test_model_help_names_every_registered_model_under_its_task():
    text = Model.__metadata__[0].help
    assert len(available_models()) > 20
    for name in available_models():
        task = model_class(name).task
        assert f"{task}: " in text and name in text.split(f"{task}: ", 1)[1].split(";")[0], name


def test_synth_video_is_a_deprecated_alias_of_synth_clips(tmp_path, capsys):
    small = ["--train-per-class", "2", "--test-per-class", "1", "--frames", "4", "--size", "32"]
    assert main(["synth", "clips", "--out", str(tmp_path / "a"), *small]) == 0
    assert "deprecated" not in capsys.readouterr().err
    assert main(["synth", "video", "--out", str(tmp_path / "b"), *small]) == 0
    assert "`actionline synth video` is deprecated" in capsys.readouterr().err
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    assert files and all((tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes() for f in files)
