"""What SIGHUP changes in a running daemon: the safe part of an edited configuration, applied in place.

Enrolment policy and the log level apply at once; anything else is named in the log as needing a restart.
The tenant credential files are re-read by the daemon itself (``TokenProvider.reload_credential``);
``uses_systemd_credential`` tells it when systemd, not the file, is what a rotation must go through.
"""

from __future__ import annotations

import logging
import os

from station.config import Config, EnrolmentSection, secret_path
from station.enroll.display_name import check_template

log = logging.getLogger(__name__)

# Enrolment settings a running engine picks up on SIGHUP; the others are sized or loaded once at start.
RELOADABLE = frozenset({"pin_length", "pin_alphabet", "min_pin_length", "min_pin_length_rp_ids", "force_pin_change",
                        "pin_change", "min_pin_length_mode",
                        "required_features", "allowed_aaguids", "used_key", "display_name_template", "show_pin",
                        "touch_timeout_seconds", "lease_seconds", "max_attempts"})
LOG_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}


def apply_reload(running: Config, fresh: Config) -> list[str]:
    """Apply the safe differences of ``fresh`` to ``running`` in place; log the rest. The applied changes."""
    applied: list[str] = []
    if fresh.station.log_level != running.station.log_level:
        running.station.log_level = fresh.station.log_level
        logging.getLogger().setLevel(LOG_LEVELS[fresh.station.log_level])
        applied.append(f"station.log_level = {fresh.station.log_level}")
    applied += _reload_enrolment(running.enrolment, fresh.enrolment)
    for section in ("station", "tenant", "store", "feedback"):
        old = getattr(running, section).model_dump(exclude={"log_level"})
        new = getattr(fresh, section).model_dump(exclude={"log_level"})
        changed = sorted(k for k in new if new[k] != old.get(k))
        if changed:
            log.warning("reload: %s need a restart to take effect (systemctl restart station)",
                        ", ".join(f"{section}.{k}" for k in changed))
    for change in applied:
        log.info("reload: %s", change)
    return applied


def _reload_enrolment(running: EnrolmentSection, fresh: EnrolmentSection) -> list[str]:
    applied, later = [], []
    for name in EnrolmentSection.model_fields:
        value = getattr(fresh, name)
        if value == getattr(running, name):
            continue
        if name not in RELOADABLE:
            later.append(f"enrolment.{name}")
            continue
        if name == "display_name_template":
            try:
                check_template(value)
            except ValueError as e:
                log.error("reload: enrolment.display_name_template not applied: %s", e)
                continue
        setattr(running, name, value)
        applied.append(f"enrolment.{name} = {value!r}")
    if later:
        log.warning("reload: %s need a restart to take effect (systemctl restart station)", ", ".join(later))
    return applied


def uses_systemd_credential(cfg: Config) -> bool:
    """Whether the tenant's secret or key comes from $CREDENTIALS_DIRECTORY (systemd's LoadCredential=)."""
    t = cfg.tenant
    names = [n for n in (t.client_secret_file, t.private_key_file) if n]
    creds = os.environ.get("CREDENTIALS_DIRECTORY") or None
    return creds is not None and any(secret_path(n).is_relative_to(creds) for n in names)
