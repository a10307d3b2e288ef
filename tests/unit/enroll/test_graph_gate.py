"""The Graph gate: a call a session waits for goes before any prefetch, and prefetches leave permits free."""

from __future__ import annotations

import threading

from support.waiting import wait_until

from station.enroll.graph_gate import GraphGate


def test_prefetches_leave_half_the_permits_to_sessions() -> None:
    gate = GraphGate(4)
    release = threading.Event()
    inside: list[str] = []

    def prefetch(n: int) -> None:
        with gate.background():
            inside.append(f"prefetch {n}")
            release.wait(5)

    prefetches = [threading.Thread(target=prefetch, args=(n,)) for n in range(4)]
    for t in prefetches:
        t.start()
    wait_until(lambda: len(inside) == 2, "two prefetches under way")
    with gate, gate:  # the two permits the prefetches leave: a registration and a session's own options
        assert len(inside) == 2
    release.set()
    for t in prefetches:
        t.join(5)
    assert len(inside) == 4


def test_a_waiting_session_call_goes_before_a_waiting_prefetch() -> None:
    gate = GraphGate(1)
    order: list[str] = []

    def prefetch() -> None:
        with gate.background():
            order.append("prefetch")

    def registration() -> None:
        with gate:
            order.append("registration")

    with gate:
        waiting = [threading.Thread(target=prefetch), threading.Thread(target=registration)]
        for t in waiting:
            t.start()
        wait_until(lambda: gate._waiting == 1, "the registration waits for the permit")
    for t in waiting:
        t.join(5)
    assert order == ["registration", "prefetch"]
