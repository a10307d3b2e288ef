"""Control socket admission: per-user limits for peers outside the control group, slots kept for privileged
peers, and refusals logged once per interval instead of once each."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import pytest

from station.control_guard import Admission, RateLimitedWarning


@dataclass(frozen=True)
class FakePeer:
    uid: int
    may_control: bool = False


ROOT = FakePeer(0, may_control=True)


def test_one_user_outside_the_group_gets_at_most_its_share() -> None:
    admission = Admission(total=64, per_user=8, reserve=16)
    nobody = FakePeer(65534)
    assert all(admission.admit(nobody) is None for _ in range(8))
    refusal = admission.admit(nobody)
    assert refusal is not None and "uid 65534 has 8 control connections open" in refusal.message
    assert admission.admit(FakePeer(1000)) is None, "another user still gets a connection"
    admission.release(nobody)
    assert admission.admit(nobody) is None, "a closed connection gives its slot back"


def test_the_reserve_is_kept_for_privileged_peers() -> None:
    admission = Admission(total=64, per_user=8, reserve=16)
    users = [FakePeer(1000 + i) for i in range(6)]
    for user in users:
        assert all(admission.admit(user) is None for _ in range(8))
    refusal = admission.admit(FakePeer(2000))
    assert refusal is not None and "48 control connections for users outside the control group" in refusal.message
    assert all(admission.admit(ROOT) is None for _ in range(16)), "root, the station user and its group get the rest"
    full = admission.admit(ROOT)
    assert full is not None and "64 control connections at once" in full.message


def test_refusals_are_logged_once_per_interval_with_a_count(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="test.refusals")
    now = [100.0]
    limited = RateLimitedWarning(logging.getLogger("test.refusals"), interval=10.0, clock=lambda: now[0])
    for i in range(100):
        limited.warn(f"refusal {i}")
    assert [r.getMessage() for r in caplog.records] == ["refusal 0"]
    now[0] += 10.0
    limited.warn("later")
    assert caplog.records[-1].getMessage() == "later (99 more refused in the 10 s before)"
    assert len(caplog.records) == 2
