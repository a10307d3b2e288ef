"""USB security keys: FIDO hidraw devices found through udev (pyudev), opened with fido2's Linux backend.

``UsbWatcher`` reports keys already plugged in when it starts, then follows ``hidraw`` add/remove
uevents on its own thread, which sleeps in poll(2) on the udev monitor and a wake-up pipe (written by
``stop``), with no timeout unless an addition is waiting out its debounce window. A hidraw device is a
key when udev set ``ID_FIDO_TOKEN=1`` (systemd's fido_id) or, failing that, when its HID report
descriptor declares usage page 0xF1D0. A device that vanishes within the debounce window of appearing
is never announced. A key is named by the USB port it sits in ("usb-1-1.2"), so the same port keeps
the same identity across re-insertions.

A key node the station may not open gets one warning per port naming the udev rule that grants
access, and the watcher's status says so until the node becomes accessible or goes away.
"""

from __future__ import annotations

import errno
import logging
import os
import select
import threading
import time
from collections.abc import Callable
from typing import Any

import pyudev
from fido2.ctap import CtapDevice

from station.errors import KeyOperationError
from station.hid.candidate import KeyCandidate
from station.hid.rdesc import is_fido

log = logging.getLogger(__name__)

UDEV_RULE = "udev/70-station-fido.rules"
DEFAULT_DEBOUNCE = 0.2


def access_remedy(group: str) -> str:
    return (
        f"Install {UDEV_RULE} into /etc/udev/rules.d/, run 'udevadm control --reload' and "
        f"'udevadm trigger --subsystem-match=hidraw', and add the station's service user to the "
        f"'{group}' group; then re-insert the key."
    )


class UsbWatcher:
    """KeyWatcher for USB: FIDO hidraw devices, present at start and hot-plugged."""

    def __init__(
        self,
        *,
        group: str = "station",
        debounce: float = DEFAULT_DEBOUNCE,
        context: pyudev.Context | None = None,
    ) -> None:
        self._group = group
        self._debounce = debounce
        self._context = context or pyudev.Context()
        self._pending: dict[str, tuple[pyudev.Device, float]] = {}
        self._present: dict[str, KeyCandidate] = {}
        self._denied: dict[str, str] = {}
        self._warned: set[str] = set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._wake: tuple[int, int] | None = None
        self._lock = threading.Lock()
        self._failure: str | None = None
        self._on_attached: Callable[[KeyCandidate], None] = lambda c: None
        self._on_removed: Callable[[str], None] = lambda f: None

    def start(
        self,
        on_attached: Callable[[KeyCandidate], None],
        on_removed: Callable[[str], None],
    ) -> None:
        """Report keys present now, then follow hotplug on a thread until ``stop``."""
        if self._thread is not None:
            raise RuntimeError("UsbWatcher already started")
        self._on_attached, self._on_removed = on_attached, on_removed
        self._stop.clear()
        self._failure = None
        with self._lock:
            self._pending.clear()
            self._present.clear()
            self._denied.clear()
        monitor = pyudev.Monitor.from_netlink(self._context)
        monitor.filter_by("hidraw")
        monitor.start()
        for device in self._context.list_devices(subsystem="hidraw"):
            self._settle(device)
        self._wake = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
        self._thread = threading.Thread(target=self._run, args=(monitor, self._wake[0]), name="usb-watcher",
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop following hotplug: wakes the watcher thread and waits for it."""
        self._stop.set()
        if self._wake is not None:
            os.write(self._wake[1], b"\0")
        if self._thread is not None:
            self._thread.join(timeout=5.0)
            self._thread = None
        if self._wake is not None:
            for fd in self._wake:
                os.close(fd)
            self._wake = None

    def status(self) -> str:
        with self._lock:
            keys = len(self._present)
            denied = len(self._denied)
        if self._failure:
            return f"USB: not watching — {self._failure}"
        if self._thread is None:
            return "USB: stopped"
        text = f"USB: {keys} key{'s' if keys != 1 else ''}"
        if denied:
            text += (
                f" · {denied} key{'s' if denied != 1 else ''} not accessible (permission denied)"
                f" — install {UDEV_RULE} and add the service user to the '{self._group}' group"
            )
        return text

    def _run(self, monitor: pyudev.Monitor, wake: int) -> None:
        poller = select.poll()
        poller.register(monitor.fileno(), select.POLLIN)
        poller.register(wake, select.POLLIN)
        try:
            while not self._stop.is_set():
                timeout = self._next_timeout()
                ready = {fd for fd, _event in poller.poll(None if timeout is None else timeout * 1000)}
                if monitor.fileno() in ready:
                    while (device := monitor.poll(timeout=0)) is not None:
                        self._handle(device)
                self._settle_due(time.monotonic())
        except Exception as exc:
            self._failure = f"udev monitor failed: {exc}"
            log.exception("USB key watcher stopped")

    def _next_timeout(self) -> float | None:
        """Seconds until the next debounce window ends; None (wait for a uevent) when none is open."""
        now = time.monotonic()
        with self._lock:
            dues = [due for _device, due in self._pending.values()]
        return max(0.0, min(due - now for due in dues)) if dues else None

    def _handle(self, device: pyudev.Device) -> None:
        """A uevent: additions wait out the debounce window before they are looked at."""
        sys_path = device.sys_path
        if device.action == "remove":
            self._forget(sys_path)
            return
        if device.action not in ("add", "change", "bind"):
            return
        with self._lock:
            if sys_path not in self._present and sys_path not in self._pending:
                self._pending[sys_path] = (device, time.monotonic() + self._debounce)

    def _settle_due(self, now: float) -> None:
        with self._lock:
            due = [device for device, at in self._pending.values() if at <= now]
            for device in due:
                del self._pending[device.sys_path]
        for device in due:
            self._settle(device)

    def _settle(self, device: pyudev.Device) -> None:
        """Decide about a hidraw device that stayed: announce a FIDO key, or explain why it cannot be used."""
        node = device.device_node
        if not node or not _is_fido_device(device):
            return
        port = port_identity(device)
        if not _may_open(node):
            self._deny(device.sys_path, port, node)
            return
        candidate = self._candidate(device, node, port)
        with self._lock:
            self._denied.pop(device.sys_path, None)
            self._present[device.sys_path] = candidate
        log.info("security key in %s (%s)", candidate.slot, candidate.name)
        _notify(self._on_attached, candidate)

    def _forget(self, sys_path: str) -> None:
        with self._lock:
            self._denied.pop(sys_path, None)
            bounced = self._pending.pop(sys_path, None)
            candidate = self._present.pop(sys_path, None)
        if bounced is not None:
            log.debug("%s vanished within the debounce window; not announced", sys_path)
        if candidate is not None:
            log.info("security key removed from %s", candidate.slot)
            _notify(self._on_removed, candidate.fingerprint)

    def _deny(self, sys_path: str, port: str, node: str) -> None:
        with self._lock:
            self._denied[sys_path] = port
            first = port not in self._warned
            self._warned.add(port)
        if first:
            log.warning(
                "security key in %s: %s is not accessible to this user (permission denied). %s",
                slot_name(port),
                node,
                access_remedy(self._group),
            )

    def _candidate(self, device: pyudev.Device, node: str, port: str) -> KeyCandidate:
        group = self._group

        def open_key() -> CtapDevice:
            # python-fido2's HID code (and cryptography with it) loads with the first key, not at start.
            from fido2.hid.linux import get_descriptor, open_connection

            from station.hid.key_devices import open_usb_key

            try:
                descriptor = get_descriptor(node)
                return open_usb_key(descriptor, open_connection(descriptor))
            except PermissionError as exc:
                raise KeyOperationError(f"{node}: permission denied", remedy=access_remedy(group)) from exc
            except (OSError, ValueError) as exc:
                raise KeyOperationError(f"cannot open the key at {node}: {exc}", retryable=True) from exc

        return KeyCandidate(
            fingerprint=port,
            transport="usb",
            slot=slot_name(port),
            name=_product_name(device),
            open=open_key,
        )


def _notify(listener: Callable[[Any], None], payload: object) -> None:
    """Call a listener; its failure is logged and never stops the watcher."""
    try:
        listener(payload)
    except Exception:
        log.exception("key listener failed on %r", payload)


def port_identity(device: pyudev.Device) -> str:
    """A stable name for where a hidraw device sits: its USB port ("usb-1-1.2"), else its HID device."""
    usb = device.find_parent("usb", "usb_device")
    if usb is not None:
        return f"usb-{usb.sys_name}"
    hid = device.find_parent("hid")
    return f"hid-{(hid or device).sys_name}"


def slot_name(port: str) -> str:
    kind, _, where = port.partition("-")
    return f"{kind.upper()} {where}"


def _is_fido_device(device: pyudev.Device) -> bool:
    if device.properties.get("ID_FIDO_TOKEN") == "1":
        return True
    hid = device.find_parent("hid")
    descriptor: bytes | None = None
    if hid is not None:
        try:
            descriptor = bytes(hid.attributes.get("report_descriptor") or b"")
        except (OSError, KeyError):
            descriptor = None
    if not descriptor:
        return False
    return is_fido(descriptor)


def _may_open(node: str) -> bool:
    try:
        fd = os.open(node, os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC)
    except PermissionError:
        return False
    except OSError as exc:
        return exc.errno != errno.EACCES
    os.close(fd)
    return True


def _product_name(device: pyudev.Device) -> str:
    usb = device.find_parent("usb", "usb_device")
    if usb is not None:
        maker = _attribute(usb, "manufacturer")
        product = _attribute(usb, "product")
        name = " ".join(p for p in (maker, product) if p)
        if name:
            return name
    hid = device.find_parent("hid")
    return (hid.properties.get("HID_NAME") if hid is not None else None) or "USB security key"


def _attribute(device: pyudev.Device, name: str) -> str:
    try:
        value = device.attributes.get(name)
    except (OSError, KeyError):
        return ""
    return value.decode(errors="replace").strip() if value else ""
