"""Station configuration: one TOML file, overridable by STATION_* environment variables, validated.

Lookup: ``--config PATH``, else ``$STATION_CONFIG``, else ``/etc/station/station.toml`` when it
exists, else embedded defaults (SQLite under the state directory) so a newcomer can try Station.
An environment variable ``STATION_<SECTION>_<KEY>`` overrides ``[section] key``.
Secrets are never in this file: it names files (or systemd credentials) that hold them.
"""

from __future__ import annotations

import errno
import math
import os
import pwd
import re
import socket
import stat
from pathlib import Path
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

from station.config_file import (
    default_runtime_dir,
    default_state_dir,
    env_value,
    read_config_file,
    resolve_config_path,
)
from station.errors import ConfigError, Reason, StationError
from station.lifecycle.delegation_settings import DelegationSection
from station.lifecycle.settings import LifecycleSection
from station.metrics.settings import MetricsSection

MIN_PIN_ENTROPY_BITS: Final = 20
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
CTAP_FEATURES = ("clientPin", "pinUvAuthToken", "authnrCfg", "credMgmt", "setMinPINLength", "rk", "ep")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class StationSection(_Section):
    id: str = Field(default_factory=socket.gethostname, min_length=1, max_length=64)
    name: str = "Station"
    state_dir: Path = Field(default_factory=default_state_dir)
    runtime_dir: Path = Field(default_factory=default_runtime_dir)
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    # The language of the dashboard and the remedies the technician reads, and of PIN letters for people whose
    # preferredLanguage Entra ID does not give (or that Station has no catalog for).
    language: Literal["en", "de", "fr", "es", "nl"] = "en"


class TenantSection(_Section):
    tenant_id: str = ""
    client_id: str = ""
    client_secret_file: str = ""
    certificate_file: str = ""
    private_key_file: str = ""
    authority_host: str = "https://login.microsoftonline.com"
    graph_host: str = "https://graph.microsoft.com"
    graph_version: Literal["v1.0", "beta"] = "v1.0"
    ca_file: str = ""
    challenge_timeout_minutes: int = Field(default=5, ge=5, le=43200)
    connect_timeout: float = Field(default=5.0, gt=0)
    read_timeout: float = Field(default=30.0, gt=0)
    # Each token or Graph call must have its whole answer (headers and body) within call_deadline seconds,
    # and the answer may be at most max_response_bytes long.
    call_deadline: float = Field(default=60.0, gt=0)
    max_response_bytes: int = Field(default=16 * 1024 * 1024, ge=64 * 1024)
    # The relying party passkeys are made for; creation options naming another are refused.
    rp_id: str = Field(default="login.microsoft.com", min_length=1)

    @field_validator("authority_host", "graph_host")
    @classmethod
    def _https(cls, v: str) -> str:
        if not v.startswith("https://"):
            raise ValueError("expected an https:// URL")
        return v.rstrip("/")

    @property
    def configured(self) -> bool:
        return bool(self.tenant_id and self.client_id)


class StoreSection(_Section):
    url: str = ""

    @field_validator("url")
    @classmethod
    def _scheme(cls, v: str) -> str:
        if v and not v.startswith(("sqlite://", "postgresql://", "postgresql+psycopg://", "postgres://")):
            raise ValueError("expected sqlite:////ABSOLUTE/PATH or postgresql://USER@HOST/DB")
        relative = relative_sqlite_path(v)
        if relative is not None:
            raise ValueError(f"names the relative path {relative!r} (three slashes), which depends on the directory "
                             f"a command runs in; for an absolute path write four slashes: sqlite:////{relative}")
        return v


def relative_sqlite_path(url: str) -> str | None:
    """The path of a SQLite URL when it is relative (``sqlite:///x.db``: SQLAlchemy reads it from the current
    directory); None for an absolute path (``sqlite:////var/…``), an in-memory database or another scheme."""
    if not url.startswith("sqlite:///"):
        return None
    path = url[len("sqlite:///"):].split("?", 1)[0]
    return None if not path or path == ":memory:" or path.startswith("/") else path


class EnrolmentSection(_Section):
    pin_length: int = Field(default=8, ge=4, le=63)
    pin_alphabet: str = Field(default="0123456789", min_length=2)
    min_pin_length: int = Field(default=0, ge=0, le=63)
    min_pin_length_rp_ids: list[str] = Field(default_factory=list)
    # Each PIN rule is applied when the key supports it ("when_supported"), or keys that cannot are refused.
    pin_change: Literal["when_supported", "require", "off"] = "when_supported"
    min_pin_length_mode: Literal["when_supported", "require"] = "when_supported"
    force_pin_change: bool | None = None  # deprecated: true means pin_change = "require", false "off"
    required_features: list[str] = Field(default_factory=lambda: ["clientPin", "rk"])
    allowed_aaguids: list[str] = Field(default_factory=list)
    used_key: Literal["refuse", "reset"] = "refuse"
    display_name_template: str = "{model} {date}"
    escrow_public_key: str = ""
    show_pin: bool = False
    enterprise_attestation: bool = False
    attestation: Literal["off", "verify"] = "off"
    touch_timeout_seconds: float = Field(default=30.0, gt=0)
    lease_seconds: int = Field(default=600, ge=30)
    # Graph calls in flight at once across the station's keys (creation options, registrations); 429s are waited out.
    # Prefetched creation options hold at most half of them, and wait while a session's own call waits.
    max_concurrent_graph_calls: int = Field(default=8, ge=1, le=64)
    prefetch: int = Field(default=4, ge=0, le=64)
    # Failed attempts per person (key, touch or registration failures) before they are marked failed.
    max_attempts: int = Field(default=3, ge=1, le=100)

    @model_validator(mode="before")
    @classmethod
    def _deprecated_force_pin_change(cls, data: Any) -> Any:
        """``force_pin_change`` (before ``pin_change``) keeps meaning what it meant, unless pin_change is set."""
        if isinstance(data, dict) and data.get("force_pin_change") is not None and "pin_change" not in data:
            return {**data, "pin_change": "require" if data["force_pin_change"] else "off"}
        return data

    @field_validator("required_features")
    @classmethod
    def _features(cls, v: list[str]) -> list[str]:
        bad = [f for f in v if f not in CTAP_FEATURES]
        if bad:
            raise ValueError(f"unknown feature(s) {', '.join(bad)}; expected any of {', '.join(CTAP_FEATURES)}")
        return v

    @field_validator("allowed_aaguids")
    @classmethod
    def _aaguids(cls, v: list[str]) -> list[str]:
        bad = [a for a in v if not _UUID.match(a)]
        if bad:
            raise ValueError(f"not an AAGUID: {', '.join(bad)}; expected xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx")
        return [a.lower() for a in v]

    @field_validator("pin_alphabet")
    @classmethod
    def _alphabet(cls, v: str) -> str:
        if len(set(v)) != len(v):
            raise ValueError("characters repeat; list each allowed character once")
        return v

    @field_validator("pin_alphabet")
    @classmethod
    def _entropy(cls, v: str, info: ValidationInfo) -> str:
        """A PIN must be one of at least 2^20 (about a million) equally likely ones: alphabet size ^ length."""
        length = info.data.get("pin_length")
        if isinstance(length, int) and length * math.log2(len(v)) < MIN_PIN_ENTROPY_BITS:
            needed = math.ceil(MIN_PIN_ENTROPY_BITS / math.log2(len(v)))
            raise ValueError(f"with enrolment.pin_length = {length}, {len(v)} characters give "
                             f"{length * math.log2(len(v)):.1f} bits of PIN entropy; at least "
                             f"{MIN_PIN_ENTROPY_BITS} are needed: set enrolment.pin_length to {needed} or more, "
                             f"or allow more characters")
        return v


class FeedbackSection(_Section):
    leds: list[str] = Field(default_factory=list)
    sound_device: str = "none"
    volume: float = Field(default=0.5, ge=0.0, le=1.0)
    wink: bool = True


class Config(_Section):
    """The whole validated configuration. ``source`` is the file it came from, if any."""

    station: StationSection = Field(default_factory=StationSection)
    tenant: TenantSection = Field(default_factory=TenantSection)
    store: StoreSection = Field(default_factory=StoreSection)
    enrolment: EnrolmentSection = Field(default_factory=EnrolmentSection)
    feedback: FeedbackSection = Field(default_factory=FeedbackSection)
    metrics: MetricsSection = Field(default_factory=MetricsSection)
    lifecycle: LifecycleSection = Field(default_factory=LifecycleSection)
    delegation: DelegationSection = Field(default_factory=DelegationSection)
    source: Path | None = None

    @property
    def store_url(self) -> str:
        return self.store.url or f"sqlite:///{self.station.state_dir.absolute() / 'station.db'}"

    def redacted(self) -> dict[str, Any]:
        """The configuration as plain data for display. It holds secret *paths* only, never secrets."""
        data = self.model_dump(mode="json", exclude={"source"})
        data["store"]["url"] = redact_url(self.store_url)
        return data


def redact_url(url: str) -> str:
    """Hide a password in a database URL."""
    return re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", url)


def _env_overrides(environ: dict[str, str],
                   names: dict[tuple[str, str], str] | None = None) -> dict[str, dict[str, Any]]:
    """The ``[section] key`` values STATION_* variables set; ``names`` learns which variable set each."""
    out: dict[str, dict[str, Any]] = {}
    sections = {name: model for name, model in Config.model_fields.items() if name != "source"}
    for key, value in environ.items():
        if not key.startswith("STATION_") or key in ("STATION_CONFIG", "STATION_STATE_DIR", "STATION_RUNTIME_DIR"):
            continue
        rest = key[len("STATION_") :].lower()
        for section in sections:
            if rest.startswith(section + "_"):
                field_name = rest[len(section) + 1 :]
                out.setdefault(section, {})[field_name] = env_value(value)
                if names is not None:
                    names[(section, field_name)] = key
                break
    return out


def _merge(base: dict[str, Any], over: dict[str, dict[str, Any]]) -> dict[str, Any]:
    merged = dict(base)
    for section, values in over.items():
        current = merged.get(section)
        merged[section] = {**(current if isinstance(current, dict) else {}), **values}
    return merged


def format_validation_error(err: ValidationError, env_names: dict[tuple[str, str], str] | None = None) -> list[str]:
    """One line per problem: the key (or the environment variable that set it), the bad value, what is expected."""
    lines = []
    for e in err.errors():
        key = ".".join(str(p) for p in e["loc"])
        variable = (env_names or {}).get((str(e["loc"][0]), str(e["loc"][1]))) if len(e["loc"]) >= 2 else None
        if variable:
            key = f"{variable} (environment variable, for {key})"
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            lines.append(f"{key}: unknown key; remove it or check its spelling")
        elif e["type"] == "missing":
            lines.append(f"{key}: missing; it is required")
        else:
            lines.append(f"{key}: {e.get('input')!r} is not valid: {msg}")
    return lines


def load_config(path: str | os.PathLike[str] | None = None, environ: dict[str, str] | None = None) -> Config:
    """Load, merge and validate. Raises ConfigError (exit code 2) listing every problem."""
    env = dict(os.environ if environ is None else environ)
    cfg_path = resolve_config_path(path)
    data: dict[str, Any] = read_config_file(cfg_path) if cfg_path is not None else {}
    env_names: dict[tuple[str, str], str] = {}
    data = _merge(data, _env_overrides(env, env_names))
    try:
        cfg = Config.model_validate(data)
    except ValidationError as e:
        problems = format_validation_error(e, env_names)
        from_env = sum(1 for line in problems if line.startswith("STATION_"))
        if not from_env:
            raise ConfigError(f"{len(problems)} problem(s) in {cfg_path or 'the embedded defaults'}",
                              problems=problems) from None
        where = "the environment" if from_env == len(problems) else f"{cfg_path} and the environment"
        raise ConfigError(f"{len(problems)} problem(s) in {where}", problems=problems,
                          remedy="Fix the STATION_* environment variable named (for the service: "
                                 "systemctl edit station), or unset it.") from None
    cfg.source = cfg_path
    if cfg_path is not None:
        _resolve_relative_paths(cfg, cfg_path.parent)
    return cfg


def _resolve_relative_paths(cfg: Config, base: Path) -> None:
    """Relative file names in the config are relative to the config file (credential names excepted)."""
    if not cfg.station.state_dir.is_absolute():
        cfg.station.state_dir = base.absolute() / cfg.station.state_dir
    t = cfg.tenant
    for name in ("certificate_file", "private_key_file", "ca_file", "client_secret_file"):
        value = getattr(t, name)
        if value and not Path(value).is_absolute() and (base / value).exists():
            setattr(t, name, str(base / value))
    e = cfg.enrolment
    if e.escrow_public_key and not Path(e.escrow_public_key).is_absolute():
        e.escrow_public_key = str(base / e.escrow_public_key)


def secret_path(name: str) -> Path:
    """Where a secret named in the config lives: a path, or a systemd credential name."""
    creds = os.environ.get("CREDENTIALS_DIRECTORY")
    p = Path(name)
    if creds and not p.is_absolute() and "/" not in name:
        return Path(creds) / name
    return p


def read_secret(name: str, what: str) -> bytes:
    """Read a secret file. It is opened first, without following a symbolic link, and the open file is then
    checked (what is checked is what is read): a regular file owned by this user or root that group and others
    cannot read — the mode is not checked in the systemd credentials directory, whose files systemd makes."""
    path = secret_path(name)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise StationError(f"{what} file {path} does not exist", reason=Reason.SECRET_MISSING,
                           remedy=f"Put the {what} in {path} (mode 0600), or fix the path in the configuration.") \
            from None
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise StationError(f"{what} file {path} is a symbolic link", reason=Reason.SECRET_INSECURE,
                               remedy=f"Name the file itself ({os.path.realpath(path)}) in the configuration, "
                                      f"not a link to it.") from None
        raise StationError(f"cannot read the {what} file {path}: {e.strerror}", reason=Reason.SECRET_MISSING,
                           remedy="Run as the user that owns it, or as root.") from None
    try:
        _check_secret_file(os.fstat(fd), path, what)
        chunks = []
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
        secret = b"".join(chunks)
        if not secret.strip():
            raise StationError(f"{what} file {path} is empty", reason=Reason.SECRET_MISSING,
                               remedy=f"Put the {what} in {path} (mode 0600).")
        return secret
    finally:
        os.close(fd)


def _check_secret_file(st: os.stat_result, path: Path, what: str) -> None:
    if not stat.S_ISREG(st.st_mode):
        raise StationError(f"{what} file {path} is not a regular file", reason=Reason.SECRET_INSECURE,
                           remedy=f"Put the {what} in a plain file (mode 0600).")
    me = os.geteuid()
    if st.st_uid not in (0, me):
        raise StationError(f"{what} file {path} belongs to uid {st.st_uid}, not to this user or root",
                           reason=Reason.SECRET_INSECURE, remedy=f"Run: chown {_user_name(me)} {path}")
    if not _in_credentials_directory(path) and st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise StationError(
            f"{what} file {path} is readable by group or others (mode {stat.S_IMODE(st.st_mode):04o})",
            reason=Reason.SECRET_INSECURE,
            remedy=f"Run: chmod 600 {path}",
        )


def _in_credentials_directory(path: Path) -> bool:
    """Whether ``path`` lies in $CREDENTIALS_DIRECTORY, both resolved (not a string prefix: /run/creds-x is not
    in /run/creds)."""
    creds = os.environ.get("CREDENTIALS_DIRECTORY")
    if not creds:
        return False
    return Path(os.path.realpath(path.parent)).is_relative_to(os.path.realpath(creds))


def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)
