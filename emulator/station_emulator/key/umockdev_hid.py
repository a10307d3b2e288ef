"""Virtual keys as USB hidraw devices in a umockdev test bed, for the real pyudev + fido2 Linux path.

``HidrawTestbed`` builds, per plugged key, the sysfs chain a kernel would (USB device on a port →
interface → HID device → ``hidraw/hidrawN``, with a ``/dev/hidrawN`` node), sends the uevents
``pyudev.Monitor`` listeners receive, and answers the hidraw ioctls (HIDIOCGRAWINFO, NAME, PHYS,
UNIQ, RDESCSIZE, RDESC) and read/write on the node by bridging to a ``CtapHidResponder``. fido2's
unmodified Linux backend then enumerates and talks CTAPHID to it over ``/dev/hidrawN``.

umockdev serves every emulated device from one worker thread, so no handler here ever waits: a read
is parked and completed later (``IoctlClient.complete`` is thread-safe) by the device's own pump
thread once the responder has a report ready. umockdev does not tell a handler whether the client
opened the node with O_NONBLOCK, so every read behaves as a blocking read (fido2 reads blocking).

The process creating a ``HidrawTestbed`` must run under ``umockdev-wrapper``.
"""

from __future__ import annotations

import errno
import itertools
import logging
import os
import struct
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import gi

gi.require_version("UMockdev", "1.0")
from gi.repository import UMockdev  # noqa: E402

from station_emulator.key.ctaphid import CtapHidResponder  # noqa: E402

if TYPE_CHECKING:
    from station_emulator.key import VirtualKey

log = logging.getLogger(__name__)

REPORT_SIZE = 64

#: Usage page 0xF1D0 (FIDO), usage 0x01 (CTAPHID), one 64-byte input and one 64-byte output report.
FIDO_REPORT_DESCRIPTOR = bytes.fromhex(
    "06d0f1"  # Usage Page (FIDO Alliance)
    "0901"  # Usage (CTAPHID)
    "a101"  # Collection (Application)
    "0920150026ff0075089540"
    "8102"  # Usage (Data In), 64 x 8 bit: Input
    "0921150026ff0075089540"
    "9102"  # Usage (Data Out), 64 x 8 bit: Output
    "c0"  # End Collection
)

#: A boot keyboard (usage page 0x01 Generic Desktop, usage 0x06 Keyboard).
KEYBOARD_REPORT_DESCRIPTOR = bytes.fromhex(
    "05010906a101"  # Generic Desktop, Keyboard, Collection (Application)
    "050719e029e71500250175019508810295017508810195057501"
    "05081901290591029501750391019506750815002565050719002965"
    "8100"
    "c0"
)

_BUS_USB = 0x03
_HIDRAW_MAJOR = 240
_IOC_TYPE_HID = ord("H")
_NR_RDESCSIZE = 0x01
_NR_RDESC = 0x02
_NR_RAWINFO = 0x03
_NR_RAWNAME = 0x04
_NR_RAWPHYS = 0x05
_NR_RAWUNIQ = 0x08
_PUMP_POLL = 0.05
_HUB_CONTROLLER = "/devices/pci0000:00/0000:00:14.0"


@dataclass(frozen=True)
class HidIdentity:
    """What the hidraw ioctls and sysfs report about a device."""

    vendor_id: int
    product_id: int
    manufacturer: str
    product: str
    serial: str
    report_descriptor: bytes

    @property
    def name(self) -> str:
        return f"{self.manufacturer} {self.product}"


@dataclass(eq=False)
class HidrawHandle:
    """One device plugged into the test bed; pass it to ``HidrawTestbed.remove``."""

    kind: Literal["fido", "keyboard"]
    port: str
    usb_syspath: str
    syspath: str
    devnode: str
    minor: int
    handler: _HidrawIoctl = field(repr=False)


class _ReportPipe:
    """Parks hidraw reads and completes them with reports from a CtapHidResponder, on its own thread."""

    def __init__(self, responder: CtapHidResponder | None, label: str) -> None:
        self._responder = responder
        self._pending: deque[tuple[Any, Any, int]] = deque()
        self._ready: deque[bytes] = deque()
        self._cond = threading.Condition()
        self._gone = False
        self._thread: threading.Thread | None = None
        if responder is not None:
            self._thread = threading.Thread(target=self._pump, name=f"hidraw-pump {label}", daemon=True)
            self._thread.start()

    @property
    def gone(self) -> bool:
        return self._gone

    def park_read(self, client: Any, arg: Any, length: int) -> None:
        with self._cond:
            if self._gone:
                client.complete(-1, errno.EIO)
                return
            self._pending.append((client, arg, length))
            self._cond.notify_all()

    def write(self, report: bytes) -> None:
        if self._responder is not None:
            self._responder.write_packet(report)

    def unplug(self) -> None:
        """The device lost power: parked reads fail with EIO, as hidraw does after a disconnect."""
        with self._cond:
            self._gone = True
            pending = list(self._pending)
            self._pending.clear()
            self._cond.notify_all()
        for client, _arg, _length in pending:
            if client.get_connected():
                client.complete(-1, errno.EIO)
        if self._thread is not None:
            self._thread.join(timeout=2.0)
        if self._responder is not None:
            self._responder.close()

    def _pump(self) -> None:
        assert self._responder is not None
        while True:
            with self._cond:
                while not self._gone and not self._pending:
                    self._cond.wait()
                if self._gone:
                    return
            report = self._ready.popleft() if self._ready else self._responder.read_packet(_PUMP_POLL)
            if report is None:
                continue
            with self._cond:
                while self._pending and not self._pending[0][0].get_connected():
                    self._pending.popleft()
                if not self._pending:
                    self._ready.appendleft(report)
                    continue
                client, arg, length = self._pending.popleft()
            data = bytes(report[:length])
            arg.update(0, list(data))
            client.complete(len(data), 0)


class _HidrawIoctl(UMockdev.IoctlBase):
    """Answers the hidraw ioctls and read/write for one emulated device (on umockdev's worker thread)."""

    def __init__(self, identity: HidIdentity, phys: str, pipe: _ReportPipe) -> None:
        super().__init__()
        self.identity = identity
        self.phys = phys
        self.pipe = pipe

    def do_handle_ioctl(self, client: Any) -> bool:
        request = client.get_request()
        nr = request & 0xFF
        ioc_type = (request >> 8) & 0xFF
        size = (request >> 16) & 0x3FFF
        if ioc_type != _IOC_TYPE_HID:
            client.complete(-1, errno.ENOTTY)
            return True
        if self.pipe.gone:
            client.complete(-1, errno.ENODEV)
            return True
        arg = client.get_arg()
        ident = self.identity
        if nr == _NR_RAWINFO:
            data = arg.resolve(0, 8)
            data.update(0, list(struct.pack("<Ihh", _BUS_USB, *_signed16(ident.vendor_id, ident.product_id))))
            client.complete(0, 0)
        elif nr == _NR_RDESCSIZE:
            arg.resolve(0, 4).update(0, list(struct.pack("<I", len(ident.report_descriptor))))
            client.complete(0, 0)
        elif nr == _NR_RDESC:
            rdesc = ident.report_descriptor
            data = arg.resolve(0, 4 + len(rdesc))
            wanted = struct.unpack("<I", bytes(data.retrieve()[:4]))[0]
            if wanted > 4096:
                client.complete(-1, errno.EINVAL)
            else:
                data.update(4, list(rdesc[: min(wanted, len(rdesc))]))
                client.complete(0, 0)
        elif nr in (_NR_RAWNAME, _NR_RAWPHYS, _NR_RAWUNIQ):
            text = {_NR_RAWNAME: ident.name, _NR_RAWPHYS: self.phys, _NR_RAWUNIQ: ident.serial}[nr]
            raw = text.encode()[: max(size - 1, 0)] + b"\0"
            arg.resolve(0, len(raw)).update(0, list(raw))
            client.complete(len(raw), 0)
        else:
            client.complete(-1, errno.ENOTTY)
        return True

    def do_handle_read(self, client: Any) -> bool:
        arg = client.get_arg()
        self.pipe.park_read(client, arg, len(arg.retrieve()))
        return True

    def do_handle_write(self, client: Any) -> bool:
        if self.pipe.gone:
            client.complete(-1, errno.ENODEV)
            return True
        data = bytes(client.get_arg().retrieve())
        report = data[1:] if data[:1] == b"\0" else data
        if len(report) > REPORT_SIZE:
            client.complete(-1, errno.EINVAL)
            return True
        self.pipe.write(report.ljust(REPORT_SIZE, b"\0"))
        client.complete(len(data), 0)
        return True


class HidrawTestbed:
    """A umockdev test bed holding emulated hidraw devices: FIDO keys (CTAPHID) and keyboards."""

    def __init__(self) -> None:
        if "umockdev" not in os.environ.get("LD_PRELOAD", ""):
            raise RuntimeError("HidrawTestbed needs the process to run under umockdev-wrapper")
        self._testbed = UMockdev.Testbed.new()
        self._handles: list[HidrawHandle] = []
        self._hid_seq = itertools.count(1)
        # umockdev 0.17 keeps a removed node's name reserved, so minors are never reused.
        self._minors = itertools.count(0)
        self._lock = threading.Lock()

    @property
    def root_dir(self) -> str:
        return str(self._testbed.get_root_dir())

    def add_fido_key(
        self,
        key: VirtualKey,
        port: str = "1-1.2",
        *,
        identity: HidIdentity | None = None,
        udev_tagged: bool = True,
        mode: int | None = None,
    ) -> HidrawHandle:
        """Plug ``key`` (a VirtualKey) into USB ``port`` ("<bus>-<port>[.<port>…]").

        ``udev_tagged`` sets ``ID_FIDO_TOKEN=1`` as systemd's fido_id would; without it, only the
        report descriptor says the device is FIDO. ``mode`` sets the node's permission bits
        (e.g. ``0o000`` for a node the station may not open).
        """
        ident = identity or HidIdentity(0x1050, 0x0407, "Station", "Virtual FIDO Key", "", FIDO_REPORT_DESCRIPTOR)
        responder = CtapHidResponder(key)
        props = {"ID_FIDO_TOKEN": "1", "ID_SECURITY_TOKEN": "1"} if udev_tagged else {}
        return self._plug("fido", port, ident, responder, props, mode)

    def add_keyboard(self, port: str = "1-1.3", *, identity: HidIdentity | None = None) -> HidrawHandle:
        """Plug a USB keyboard: a hidraw device that is not FIDO and must be ignored."""
        ident = identity or HidIdentity(0x046D, 0xC31C, "Logitech", "USB Keyboard", "", KEYBOARD_REPORT_DESCRIPTOR)
        return self._plug("keyboard", port, ident, None, {"ID_INPUT": "1", "ID_INPUT_KEYBOARD": "1"}, None)

    def remove(self, handle: HidrawHandle) -> None:
        """Unplug: reads in flight fail, ``remove`` uevents go out, the sysfs tree and node disappear."""
        with self._lock:
            if handle not in self._handles:
                return
            self._handles.remove(handle)
        handle.handler.pipe.unplug()
        self._testbed.detach_ioctl(handle.devnode)
        hid_path = os.path.dirname(os.path.dirname(handle.syspath))
        for path in (handle.syspath, hid_path, os.path.dirname(hid_path), handle.usb_syspath):
            self._testbed.uevent(path, "remove")
            self._testbed.remove_device(path)
        log.debug("unplugged %s from port %s", handle.devnode, handle.port)

    def uevent(self, handle: HidrawHandle, action: str) -> None:
        """Send an extra uevent (e.g. ``change``) for the hidraw node."""
        self._testbed.uevent(handle.syspath, action)

    def close(self) -> None:
        for handle in list(self._handles):
            self.remove(handle)

    def __enter__(self) -> HidrawTestbed:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _plug(
        self,
        kind: Literal["fido", "keyboard"],
        port: str,
        ident: HidIdentity,
        responder: CtapHidResponder | None,
        props: dict[str, str],
        mode: int | None,
    ) -> HidrawHandle:
        bus, _, chain = port.partition("-")
        if not bus.isdigit() or not chain or any(not p.isdigit() for p in chain.split(".")):
            raise ValueError(f"not a USB port path: {port!r} (expected e.g. '1-1.2')")
        with self._lock:
            if any(h.port == port for h in self._handles):
                raise ValueError(f"port {port} is already in use")
            minor = next(self._minors)
            parts = chain.split(".")
            hops = [f"{bus}-{'.'.join(parts[: i + 1])}" for i in range(len(parts))]
            usb_path = f"{_HUB_CONTROLLER}/usb{bus}/" + "/".join(hops)
            intf_name = f"{port}:1.0"
            hid_name = f"0003:{ident.vendor_id:04X}:{ident.product_id:04X}.{next(self._hid_seq):04X}"
            hid_path = f"{usb_path}/{intf_name}/{hid_name}"
            node = f"hidraw{minor}"
            phys = f"usb-0000:00:14.0-{chain}/input0"
            parents, node_record = _umockdev_records(usb_path, intf_name, hid_path, node, minor, ident, phys, props)
            if not self._testbed.add_from_string(parents):
                raise RuntimeError(f"umockdev refused the device record for port {port}")
            syspath = f"/sys{hid_path}/hidraw/{node}"
            self._testbed.set_attribute_binary(f"/sys{hid_path}", "report_descriptor", list(ident.report_descriptor))
            handler = _HidrawIoctl(ident, phys, _ReportPipe(responder, node))
            devnode = f"/dev/{node}"
            self._testbed.attach_ioctl(devnode, handler)
            # umockdev announces the node ("add" uevent) as it creates it; udev would only after
            # applying permissions, so a listener may briefly see the node with its default mode.
            self._testbed.add_from_string(node_record)
            if mode is not None:
                _chmod_node(os.path.join(self.root_dir, "dev", node), mode)
            handle = HidrawHandle(kind, port, f"/sys{usb_path}", syspath, devnode, minor, handler)
            self._handles.append(handle)
        log.debug("plugged %s %s into port %s as %s", kind, ident.name, port, devnode)
        return handle


def _umockdev_records(
    usb_path: str,
    intf_name: str,
    hid_path: str,
    node: str,
    minor: int,
    ident: HidIdentity,
    phys: str,
    props: dict[str, str],
) -> tuple[str, str]:
    """umockdev device records: the usb_device → usb_interface → hid chain, then the hidraw node."""
    vid, pid = f"{ident.vendor_id:04x}", f"{ident.product_id:04x}"
    busnum = int(usb_path.rsplit("/usb", 1)[1].split("/", 1)[0])
    parents = (
        f"P: {usb_path}\n"
        f"E: SUBSYSTEM=usb\nE: DEVTYPE=usb_device\nE: DRIVER=usb\n"
        f"E: PRODUCT={ident.vendor_id:x}/{ident.product_id:x}/100\nE: BUSNUM={busnum:03d}\n"
        f"E: ID_VENDOR_ID={vid}\nE: ID_MODEL_ID={pid}\n"
        f"A: idVendor={vid}\nA: idProduct={pid}\nA: manufacturer={ident.manufacturer}\n"
        f"A: product={ident.product}\nA: serial={ident.serial}\nA: busnum={busnum}\nA: devnum={minor + 2}\n\n"
        f"P: {usb_path}/{intf_name}\n"
        f"E: SUBSYSTEM=usb\nE: DEVTYPE=usb_interface\nE: DRIVER=usbhid\nE: INTERFACE=3/0/0\n"
        f"A: bInterfaceClass=03\nA: bInterfaceSubClass=00\nA: bInterfaceProtocol=00\nA: bInterfaceNumber=00\n\n"
        f"P: {hid_path}\n"
        f"E: SUBSYSTEM=hid\nE: DRIVER=hid-generic\n"
        f"E: HID_ID=0003:0000{vid.upper()}:0000{pid.upper()}\nE: HID_NAME={ident.name}\n"
        f"E: HID_PHYS={phys}\nE: HID_UNIQ={ident.serial}\n"
        f"E: MODALIAS=hid:b0003g0001v0000{vid.upper()}p0000{pid.upper()}\n"
    )
    extra = "".join(f"E: {k}={v}\n" for k, v in props.items())
    node_record = (
        f"P: {hid_path}/hidraw/{node}\n"
        f"N: {node}\n"
        f"L: device=../../../{os.path.basename(hid_path)}\n"
        f"E: DEVNAME=/dev/{node}\nE: SUBSYSTEM=hidraw\nE: MAJOR={_HIDRAW_MAJOR}\nE: MINOR={minor}\n"
        f"{extra}"
        f"A: dev={_HIDRAW_MAJOR}:{minor}\n"
    )
    return parents, node_record


def _chmod_node(testbed_node: str, mode: int) -> None:
    """Set the mode of a node's backing pty, which umockdev allocated for this device alone."""
    target = os.path.realpath(testbed_node)
    if not target.startswith("/dev/pts/"):
        raise RuntimeError(f"unexpected umockdev node backing {testbed_node} -> {target}")
    os.chmod(target, mode)


def _signed16(*values: int) -> tuple[int, ...]:
    return tuple(v - 0x10000 if v >= 0x8000 else v for v in values)
