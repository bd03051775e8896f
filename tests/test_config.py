import pytest

from actionline.config import build, parse_overrides
from actionline.engine.trainer import TrainConfig
from actionline.errors import ConfigError
from actionline.models.registry import build_model


def test_overrides_are_parsed_as_yaml():
    assert parse_overrides(["train.lr=1e-3", "model.num_stages=2", "train.milestones=[10, 20]"]) == {
        "train": {"lr": "1e-3", "milestones": [10, 20]},
        "model": {"num_stages": 2},
    }
    assert build(TrainConfig, parse_overrides(["lr=1e-3"])).lr == 1e-3  # YAML 1.1 leaves "1e-3" a string
    with pytest.raises(ConfigError):
        parse_overrides(["train.lr"])


def test_build_checks_names_and_types():
    assert build(TrainConfig, {"lr": 1, "clip_grad_norm": None}).lr == 1.0
    with pytest.raises(ConfigError, match="unknown setting"):
        build(TrainConfig, {"learning_rate": 1e-3})
    with pytest.raises(ConfigError, match="expected int"):
        build(TrainConfig, {"epochs": "many"})
    with pytest.raises(ConfigError, match="optimizer"):
        build(TrainConfig, {"optimizer": "lion"})


def test_unknown_model():
    with pytest.raises(ConfigError, match="unknown model 'tcnformer'"):
        build_model("tcnformer")
