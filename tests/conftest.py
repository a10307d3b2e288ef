"""Shared fixtures: an isolated state directory and environment for every test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from station.store import Store, open_store


def pytest_configure(config: pytest.Config) -> None:
    from realstack import claim_pcsc_socket

    claim_pcsc_socket()


def pytest_unconfigure(config: pytest.Config) -> None:
    from realstack import release_pcsc_socket

    release_pcsc_socket()


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("STATION_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("STATION_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("STATION_RUNTIME_DIR", str(tmp_path / "run"))
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = open_store(f"sqlite:///{tmp_path / 'station.db'}", "test-station")
    yield s
    s.close()
