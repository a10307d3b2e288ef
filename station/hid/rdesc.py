"""HID report descriptors: recognise a FIDO (CTAPHID) interface by its top-level usage.

A FIDO authenticator declares an application collection with usage page 0xF1D0 and usage 0x01
(CTAP 2.1 §11.2.8.1). This is the same test systemd's ``fido_id`` applies to set ``ID_FIDO_TOKEN``;
Station uses it where udev did not set that property.
"""

from __future__ import annotations

FIDO_USAGE_PAGE = 0xF1D0
FIDO_USAGE_CTAPHID = 0x01

_TYPE_MAIN = 0
_TYPE_GLOBAL = 1
_TYPE_LOCAL = 2
_TAG_COLLECTION = 0xA
_TAG_END_COLLECTION = 0xC
_TAG_USAGE_PAGE = 0x0
_TAG_USAGE = 0x0
_COLLECTION_APPLICATION = 0x01
_LONG_ITEM = 0xFE


def application_usages(descriptor: bytes) -> list[tuple[int, int]]:
    """(usage page, usage) of every top-level application collection in a report descriptor.

    Parses short and long items; a truncated descriptor yields what was complete before the cut.
    A 4-byte local Usage carries its own page in the high 16 bits, as the HID spec allows.
    """
    usages: list[tuple[int, int]] = []
    usage_page = 0
    local_usages: list[int] = []
    depth = 0
    i = 0
    while i < len(descriptor):
        prefix = descriptor[i]
        if prefix == _LONG_ITEM:
            if i + 1 >= len(descriptor):
                break
            i += 3 + descriptor[i + 1]
            continue
        size = (0, 1, 2, 4)[prefix & 0x03]
        if i + 1 + size > len(descriptor):
            break
        value = int.from_bytes(descriptor[i + 1 : i + 1 + size], "little")
        item_type = (prefix >> 2) & 0x03
        tag = prefix >> 4
        i += 1 + size
        if item_type == _TYPE_GLOBAL and tag == _TAG_USAGE_PAGE:
            usage_page = value
        elif item_type == _TYPE_LOCAL and tag == _TAG_USAGE:
            local_usages.append(value)
        elif item_type == _TYPE_MAIN:
            if tag == _TAG_COLLECTION:
                if depth == 0 and value == _COLLECTION_APPLICATION and local_usages:
                    usages.append(_full_usage(usage_page, local_usages[0]))
                depth += 1
            elif tag == _TAG_END_COLLECTION:
                depth = max(depth - 1, 0)
            local_usages = []
    return usages


def is_fido(descriptor: bytes) -> bool:
    """True when the descriptor declares the FIDO CTAPHID application collection."""
    return (FIDO_USAGE_PAGE, FIDO_USAGE_CTAPHID) in application_usages(descriptor)


def _full_usage(usage_page: int, usage: int) -> tuple[int, int]:
    if usage > 0xFFFF:
        return usage >> 16, usage & 0xFFFF
    return usage_page, usage
