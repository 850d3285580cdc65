"""Training configs: YAML < flags, unknown keys refused with a suggestion, bad values refused before work."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from rewardlab.cli import app
from rewardlab.cli.train import RECIPES, recipe_command
from rewardlab.train.config import BTConfig, ConfigError, OrdinalConfig, RegressionConfig, build_config


def test_yaml_then_flags(tmp_path):
    path = tmp_path / "bt.yaml"
    path.write_text("data: a.jsonl\nout: runs/x\nlearning-rate: 0.001\nepochs: 3\nlora_target_modules: query,value\n")
    cfg = build_config(BTConfig, path, {"epochs": 5, "center_coef": None})
    assert (cfg.data, cfg.learning_rate, cfg.epochs, cfg.center_coef) == ("a.jsonl", 0.001, 5, 0.0)
    assert cfg.lora_target_modules == ["query", "value"]


def test_unknown_yaml_key_is_named_with_a_suggestion(tmp_path):
    path = tmp_path / "bt.yaml"
    path.write_text("data: a.jsonl\nout: o\nlerning_rate: 0.1\n")
    with pytest.raises(ConfigError, match=r"unknown config key 'lerning_rate'.*did you mean 'learning_rate'"):
        build_config(BTConfig, path)


@pytest.mark.parametrize("lr", [0.0, -1e-5, float("inf")])
def test_learning_rate_must_be_positive(lr):
    with pytest.raises(ConfigError, match="learning_rate"):
        build_config(BTConfig, None, {"data": "a", "out": "b", "learning_rate": lr})


def test_missing_required_setting_names_the_flag():
    with pytest.raises(ConfigError, match=r"missing required setting 'out' \(--out\)"):
        build_config(BTConfig, None, {"data": "a"})


def test_recipe_specific_fields():
    reg = build_config(RegressionConfig, None, {"data": "a", "out": "b", "attributes": "helpfulness, verbosity"})
    assert reg.attributes == ["helpfulness", "verbosity"]
    with pytest.raises(ConfigError, match="repeat"):
        build_config(RegressionConfig, None, {"data": "a", "out": "b", "attributes": "x,x"})
    with pytest.raises(ConfigError, match="levels"):
        build_config(OrdinalConfig, None, {"data": "a", "out": "b", "levels": 1})
    with pytest.raises(ConfigError, match="unknown config key 'levels'"):
        build_config(BTConfig, None, {"data": "a", "out": "b", "levels": 5})


@pytest.mark.parametrize("recipe", ["bt", "regression", "ordinal", "genrm"])
def test_cli_flags_mirror_config_fields(recipe):
    import importlib

    module = importlib.import_module(RECIPES[recipe])
    command = recipe_command(recipe, module)
    flags = {opt for param in command.params for opt in param.opts}
    assert flags == {"--config"} | {"--" + name.replace("_", "-") for name in module.Config.model_fields}
    result = CliRunner().invoke(app, ["train", recipe, "--help"])
    assert result.exit_code == 0 and "--learning-rate" in result.output


def test_cli_refuses_zero_learning_rate_before_any_work(tmp_path):
    out = tmp_path / "never"
    result = CliRunner().invoke(app, ["train", "bt", "--data", str(tmp_path / "missing.jsonl"), "--out", str(out),
                                      "--learning-rate", "0"])
    assert isinstance(result.exception, ConfigError)
    assert "learning_rate must be a positive" in str(result.exception)
    assert not out.exists()
