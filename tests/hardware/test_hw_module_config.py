"""A robot file's ``[modules.<name>]`` ``model``: optional, one of its kind's models,
refused otherwise in one line naming the file and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from hardware.config import ConfigError, load_config


def robot_file(tmp_path: Path, table: str) -> Path:
    path = tmp_path / "robot.toml"
    path.write_text(f'[modules.mag]\nkind = "magnetic"\nport = "/dev/ttyACM1"\n{table}\n')
    return path


def test_a_module_table_may_name_its_model(tmp_path: Path) -> None:
    config = load_config(robot_file(tmp_path, 'model = "magneticModuleV1"'))
    assert config.modules["mag"].model == "magneticModuleV1"
    assert load_config(robot_file(tmp_path, "")).modules["mag"].model is None


@pytest.mark.parametrize(("value", "said"), [
    ('"magneticModuleV3"', "'magneticModuleV3' is not a model of a magnetic module; "
                           "expected one of 'magneticModuleV1', 'magneticModuleV2'"),
    ('"temperatureModuleV1"', "'temperatureModuleV1' is not a model of a magnetic module; "
                              "expected one of 'magneticModuleV1', 'magneticModuleV2'"),
    ('"magdeck"', "'magdeck' is not a model of a magnetic module; expected one of "
                  "'magneticModuleV1', 'magneticModuleV2'"),
    ("1", "expected str, got 1"),
])
def test_a_model_not_of_the_modules_kind_is_refused_naming_the_file_and_key(
        tmp_path: Path, value: str, said: str) -> None:
    path = robot_file(tmp_path, f"model = {value}")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value) == f"{path}:4: modules.mag.model: {said}"  # its line
