"""``[metrics]``: where the daemon publishes its Prometheus metrics (nothing by default).

``listen = "127.0.0.1:9464"`` serves ``/metrics`` over HTTP on that address; an address other than loopback
is refused unless ``allow_remote = true`` (the metrics carry no personal data, but a station should not open
a port to its network by accident — the systemd unit's ``IPAddressDeny`` must be opened for it as well).
``textfile = "/var/lib/prometheus/node-exporter/station.prom"`` writes the same metrics to a file, replaced
atomically every few seconds, for node_exporter's textfile collector. Both may be set.
"""

from __future__ import annotations

import ipaddress
from typing import Self

from pydantic import BaseModel, ConfigDict, field_validator, model_validator


def split_listen(value: str) -> tuple[str, int]:
    """``HOST:PORT`` or ``[V6]:PORT`` → (host, port); ValueError naming the expected form."""
    host, sep, port = value.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError('expected HOST:PORT, e.g. "127.0.0.1:9464"')
    return host, int(port)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class MetricsSection(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    listen: str = ""
    allow_remote: bool = False
    textfile: str = ""

    @field_validator("listen")
    @classmethod
    def _listen(cls, v: str) -> str:
        if v:
            split_listen(v)
        return v

    @model_validator(mode="after")
    def _loopback_only(self) -> Self:
        if self.listen and not self.allow_remote and not is_loopback(split_listen(self.listen)[0]):
            raise ValueError(f"listen {self.listen!r} is not a loopback address; use 127.0.0.1:PORT (scrape "
                             "through a local agent), or set allow_remote = true and open the unit's "
                             "IPAddressDeny for the scraper")
        return self

    @property
    def enabled(self) -> bool:
        return bool(self.listen or self.textfile)
