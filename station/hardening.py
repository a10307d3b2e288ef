"""Process hardening for the processes that hold PINs, tokens and keys: no core dumps, no ptrace by peers.

``disable_core_dumps`` sets the core file size limit to 0 (soft and hard, so a child cannot raise it) and
marks the process not dumpable (``prctl(PR_SET_DUMPABLE, 0)``): no core file is written when it crashes,
``/proc/<pid>/`` files such as ``environ`` and ``mem`` belong to root, and processes of the same user cannot
attach to it. The systemd units set ``LimitCORE=0`` as well; this covers a station started by hand.
"""

from __future__ import annotations

import ctypes
import logging
import resource
from typing import Final

log = logging.getLogger(__name__)

PR_SET_DUMPABLE: Final = 4


def disable_core_dumps() -> None:
    """No core file and no ptrace by same-user processes from here on; a failure is logged, never raised."""
    try:
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    except (ValueError, OSError) as e:
        log.warning("cannot set the core file size limit to 0: %s", e)
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0:
            log.warning("cannot mark the process not dumpable: errno %d", ctypes.get_errno())
    except (OSError, AttributeError) as e:
        log.warning("cannot mark the process not dumpable: %s", e)
