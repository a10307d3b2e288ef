"""A small udev rules evaluator for checking udev/70-station-fido.rules against umockdev devices.

There is no udevd here, so ``udevadm test`` cannot run. This evaluates the subset of the rules
language the file uses — ACTION, SUBSYSTEM, KERNEL, ENV{}, ATTRS{}, TEST, IMPORT{program}, GROUP,
MODE, GOTO, LABEL with ==, !=, =, := and "|"-alternatives with shell globs — in udev's order: tokens
left to right, a failing match ends the line, GOTO jumps forward to its LABEL. Any other key is an
error, so the rules file cannot quietly use something this evaluator would ignore.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pyudev

_TOKEN = re.compile(r'\s*([A-Z_]+)(?:\{([^}]*)\})?\s*(==|!=|\+=|:=|=)\s*"((?:[^"\\]|\\.)*)"\s*,?')
_MATCH_KEYS = {"ACTION", "SUBSYSTEM", "KERNEL", "ENV", "ATTRS", "TEST"}
_ASSIGN_KEYS = {"GROUP", "MODE", "GOTO", "LABEL", "IMPORT", "ENV"}

Program = Callable[[pyudev.Device], Mapping[str, str] | None]


@dataclass(frozen=True)
class Token:
    key: str
    attr: str | None
    op: str
    value: str


@dataclass
class Outcome:
    """What the rules decided for one device event."""

    env: dict[str, str]
    group: str | None = None
    mode: str | None = None
    programs_run: list[str] = field(default_factory=list)


def parse_rules(path: Path) -> list[list[Token]]:
    rules: list[list[Token]] = []
    for lineno, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        tokens: list[Token] = []
        pos = 0
        while pos < len(line):
            m = _TOKEN.match(line, pos)
            if m is None:
                raise ValueError(f"{path}:{lineno}: cannot parse {line[pos:]!r}")
            key, attr, op, value = m.groups()
            allowed = _MATCH_KEYS if op in ("==", "!=") else _ASSIGN_KEYS
            if key not in allowed:
                raise ValueError(f"{path}:{lineno}: {key} {op} is not understood by this evaluator")
            tokens.append(Token(key, attr, op, value))
            pos = m.end()
        rules.append(tokens)
    return rules


def evaluate(
    rules: list[list[Token]],
    device: pyudev.Device,
    *,
    action: str = "add",
    existing_files: frozenset[str] = frozenset(),
    programs: Mapping[str, Program] | None = None,
) -> Outcome:
    """Run ``rules`` for ``device`` as udev would for ``action``.

    ``existing_files`` answers TEST; ``programs`` stand in for IMPORT{program} helpers (each returns
    the properties the program would print, or None when it fails).
    """
    programs = programs or {}
    out = Outcome(env=dict(device.properties))
    goto: str | None = None
    for tokens in rules:
        if goto is not None:
            if tokens[0].key == "LABEL" and tokens[0].value == goto:
                goto = None
            continue
        for token in tokens:
            if token.op in ("==", "!="):
                if _matches(token, device, action, out.env, existing_files) != (token.op == "=="):
                    break
            elif token.key == "IMPORT":
                out.programs_run.append(token.value)
                printed = programs[token.value](device) if token.value in programs else None
                if printed is None:
                    break
                out.env.update(printed)
            elif token.key == "ENV":
                out.env[str(token.attr)] = token.value
            elif token.key == "GROUP":
                out.group = token.value
            elif token.key == "MODE":
                out.mode = token.value
            elif token.key == "GOTO":
                goto = token.value
                break
    if goto is not None:
        raise ValueError(f"GOTO {goto!r} has no LABEL after it")
    return out


def _matches(
    token: Token, device: pyudev.Device, action: str, env: Mapping[str, str], existing: frozenset[str]
) -> bool:
    if token.key == "ACTION":
        return _glob(action, token.value)
    if token.key == "SUBSYSTEM":
        return _glob(device.subsystem or "", token.value)
    if token.key == "KERNEL":
        return _glob(device.sys_name, token.value)
    if token.key == "ENV":
        return _glob(env.get(str(token.attr), ""), token.value)
    if token.key == "TEST":
        return token.value in existing
    if token.key == "ATTRS":
        for dev in (device, *device.ancestors):
            raw = dev.attributes.get(str(token.attr))
            if raw is not None and _glob(raw.decode(errors="replace").strip(), token.value):
                return True
        return False
    raise ValueError(f"unexpected match key {token.key}")


def _glob(text: str, pattern: str) -> bool:
    return any(fnmatch.fnmatchcase(text, alt) for alt in pattern.split("|"))
