"""Store URLs as an operator types them: SQLAlchemy reads ``sqlite:///var/lib/station/station.db`` (three
slashes) as a path relative to the current directory, so two commands run from two directories would use two
stores. Station refuses it — in the configuration (``station config check``) and in ``--store`` — naming the
four-slash form, and shows the absolute URL it uses."""

from __future__ import annotations

from pathlib import Path

import pytest

from station.cli import main

RELATIVE = "sqlite:///var/lib/station/station.db"
FOUR_SLASHES = "sqlite:////var/lib/station/station.db"


def test_config_check_refuses_a_relative_sqlite_path_and_names_the_four_slash_form(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    config = tmp_path / "station.toml"
    config.write_text(f'[store]\nurl = "{RELATIVE}"\n')
    assert main(["--config", str(config), "config", "check"]) == 2
    err = capsys.readouterr().err
    assert f"store.url: '{RELATIVE}' is not valid" in err and FOUR_SLASHES in err
    assert "Traceback" not in err
    assert not (tmp_path / "var").exists(), "nothing was created relative to the current directory"


def test_a_relative_store_option_is_refused_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("STATION_STATE_DIR", str(tmp_path / "state"))
    assert main(["queue", "list", "--store", "sqlite:///here.db"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "station: --store is not a store URL"
    assert "--store: 'sqlite:///here.db' is not valid" in err[1] and "sqlite:////here.db" in err[1]
    assert not (tmp_path / "here.db").exists()
    assert main(["queue", "list", "--store", "mysql://x"]) == 2, "a wrong scheme is one line too, not a traceback"
    assert "expected sqlite:////ABSOLUTE/PATH" in capsys.readouterr().err


def test_config_show_gives_the_absolute_store_url(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("STATION_STATE_DIR", "state")
    monkeypatch.delenv("STATION_CONFIG", raising=False)
    assert main(["config", "show"]) == 0
    assert f'url = "sqlite:///{tmp_path / "state" / "station.db"}"' in capsys.readouterr().out
