"""`station emulate key` on the command line."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography import x509

from station.cli import main
from station_emulator.key import attestation_root_pem


def test_export_root_writes_the_attestation_root(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "out" / "root.pem"
    assert main(["emulate", "key", "--export-root", str(target)]) == 0
    assert target.read_bytes() == attestation_root_pem()
    root = x509.load_pem_x509_certificate(target.read_bytes())
    assert root.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True
    assert str(target) in capsys.readouterr().out


def test_key_needs_something_to_do(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        main(["emulate", "key"])
    assert e.value.code == 2
    assert "--export-root" in capsys.readouterr().err


@pytest.mark.parametrize("args", [["--touch-delay", "soon"], ["--profile", "fido3"], ["--aaguid", "nope"]])
def test_bad_arguments_are_refused(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        main(["emulate", "key", "--nfc", *args])
    assert e.value.code == 2


@pytest.mark.parametrize("args", [["--quirk", "teleports"], ["--profile", "yubikey9"]])
def test_unknown_quirks_and_models_are_refused(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        main(["emulate", "key", "--nfc", *args])
    assert e.value.code == 2 and "invalid choice" in capsys.readouterr().err


def test_every_profile_and_quirk_is_offered(capsys: pytest.CaptureFixture[str]) -> None:
    from station_emulator.key.profiles import PROFILES, Quirk

    with pytest.raises(SystemExit):
        main(["emulate", "key", "--help"])
    help_text = "".join(capsys.readouterr().out.split())  # argparse wraps lines, also at hyphens
    for name in PROFILES:
        assert f"{name}(" in help_text
    for quirk in Quirk:
        assert quirk.value in help_text
