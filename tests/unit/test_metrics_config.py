"""``[metrics]``: off by default, loopback unless explicitly allowed, one line per bad value; and the label
values the metrics may carry stay in bounded sets whatever the keys and Graph send."""

from __future__ import annotations

from pathlib import Path

import pytest

from station.config import load_config
from station.errors import ConfigError
from station.metrics.labels import MAX_MODELS, OTHER, UNKNOWN_MODEL, ModelLabels, reason_label, status_label

AAGUID = "cb69481e-8ff7-4039-93ec-0a2729a154a8"


def config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "station.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_metrics_are_off_by_default(tmp_path: Path) -> None:
    cfg = load_config(config(tmp_path, ""), environ={})
    assert not cfg.metrics.enabled and cfg.metrics.listen == "" and cfg.metrics.textfile == ""


@pytest.mark.parametrize("listen", ["127.0.0.1:9464", "[::1]:9464", "localhost:9464"])
def test_a_loopback_address_is_taken(tmp_path: Path, listen: str) -> None:
    cfg = load_config(config(tmp_path, f'[metrics]\nlisten = "{listen}"\n'), environ={})
    assert cfg.metrics.enabled and cfg.metrics.listen == listen


def test_another_address_is_refused_unless_allowed_and_the_line_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as refused:
        load_config(config(tmp_path, '[metrics]\nlisten = "0.0.0.0:9464"\n'), environ={})
    (line,) = refused.value.problems
    assert line.startswith("metrics:") and "not a loopback address" in line and "allow_remote = true" in line
    cfg = load_config(config(tmp_path, '[metrics]\nlisten = "0.0.0.0:9464"\nallow_remote = true\n'), environ={})
    assert cfg.metrics.listen == "0.0.0.0:9464"


@pytest.mark.parametrize("listen", ["9464", "127.0.0.1", "127.0.0.1:http", "127.0.0.1:70000", ":9464"])
def test_a_malformed_address_names_the_form(tmp_path: Path, listen: str) -> None:
    with pytest.raises(ConfigError) as refused:
        load_config(config(tmp_path, f'[metrics]\nlisten = "{listen}"\n'), environ={})
    assert any("metrics.listen" in p and "HOST:PORT" in p for p in refused.value.problems)


def test_the_environment_turns_them_on(tmp_path: Path) -> None:
    cfg = load_config(config(tmp_path, ""), environ={"STATION_METRICS_LISTEN": "127.0.0.1:0"})
    assert cfg.metrics.listen == "127.0.0.1:0"


def test_labels_stay_bounded() -> None:
    assert reason_label("pin_already_set") == "pin_already_set"
    assert reason_label("kim@contoso.com") == OTHER
    assert status_label(429) == "429" and status_label(999) == OTHER
    models = ModelLabels()
    assert models.label(f"Security key (AAGUID {AAGUID})", AAGUID) == UNKNOWN_MODEL
    assert models.label("YubiKey 5", "not-an-aaguid") == OTHER
    names = [f"Model {i}" for i in range(MAX_MODELS + 5)]
    labels = [models.label(name, AAGUID) for name in names]
    assert labels[:MAX_MODELS] == names[:MAX_MODELS]
    assert labels[MAX_MODELS:] == [OTHER] * 5
    assert models.label("Model 0", AAGUID) == "Model 0", "a model seen before keeps its label"
