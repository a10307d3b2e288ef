"""The message catalogs as ``scripts/catalogs.py`` extracts them (that script is not a package: it is loaded from
its file), and the messages a part of Station marks."""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path
from types import ModuleType

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "catalogs.py"


@functools.cache
def catalogs() -> ModuleType:
    spec = importlib.util.spec_from_file_location("catalogs", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def messages_from(*sources: str) -> list[str | tuple[str, ...]]:
    """The ids of the messages marked in the files (or directories) whose paths contain one of ``sources``,
    as "station/tui/" or "lifecycle/tap_letter.py"."""
    return [m.id for m in catalogs().template()
            if m.id and any(source in path for path, _ in m.locations for source in sources)]
