"""Fakes for the engine's Entra port: a passkeys service kept in memory, counting its calls."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from station.errors import GraphError, GraphUncertainError, Reason


@dataclass(frozen=True)
class FakeOptions:
    user_id: str
    challenge: bytes
    expires_at: datetime
    rp_id: str = "login.microsoft.com"
    user_handle: bytes = b"user"
    exclude_credentials: tuple[bytes, ...] = ()
    public_key: dict[str, Any] = field(default_factory=dict)

    def expired(self, now: datetime | None = None, margin: timedelta = timedelta(0)) -> bool:
        return (now or datetime.now(UTC)) + margin >= self.expires_at


class FakePasskeys:
    def __init__(self, lifetime: timedelta = timedelta(minutes=5)) -> None:
        self.lifetime = lifetime
        self.option_calls: list[str] = []
        self.posts: list[str] = []
        self.methods: dict[str, dict[bytes, str]] = {}
        self.gone: set[str] = set()
        self.fail_post: GraphError | None = None
        self.fail_list: GraphError | None = None
        self.slow = threading.Event()
        self.slow.set()
        self.entered = threading.Event()
        self.under_way = 0  # creation_options calls in progress, and the most there were at once
        self.most_at_once = 0
        self._lock = threading.Lock()

    def creation_options(self, user_id: str) -> FakeOptions:
        with self._lock:
            self.under_way += 1
            self.most_at_once = max(self.most_at_once, self.under_way)
        self.entered.set()
        self.slow.wait(5)
        with self._lock:
            self.under_way -= 1
            self.option_calls.append(user_id)
            n = len(self.option_calls)
        if user_id in self.gone:
            raise GraphError("gone", status=404, reason=Reason.USER_NOT_FOUND)
        return FakeOptions(user_id, n.to_bytes(4, "big"), datetime.now(UTC) + self.lifetime)

    def register(self, user_id: str, display_name: str, credential_id: bytes, client_data_json: bytes,
                 attestation_object: bytes, client_extension_results: Mapping[str, Any] | None = None) -> str:
        self.posts.append(user_id)
        if self.fail_post is not None:
            raise self.fail_post
        method = f"m-{credential_id.hex()}"
        self.methods.setdefault(user_id, {})[credential_id] = method
        return method

    def find_method_for_credential(self, user_id: str, credential_id: bytes) -> str | None:
        if self.fail_list is not None:
            raise self.fail_list
        if user_id in self.gone:
            raise GraphError("gone", status=404, reason=Reason.USER_NOT_FOUND)
        return self.methods.get(user_id, {}).get(credential_id)

    def delete(self, user_id: str, method_id: str) -> bool:
        return False


UNCERTAIN = GraphUncertainError("lost", status=None)
