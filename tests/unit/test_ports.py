"""The local stack's ports are picked clear of the range the kernel hands out by itself."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from infra.local import ports
from infra.local.ports import free_port, free_ports


def _ephemeral_start() -> int:
    return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])


def test_ports_are_distinct_bindable_and_below_the_ephemeral_range() -> None:
    picked = free_ports(50)
    assert len(set(picked)) == 50
    assert all(10_000 <= port < _ephemeral_start() for port in picked)
    for port in picked:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))


def test_a_taken_port_is_never_picked(monkeypatch: pytest.MonkeyPatch) -> None:
    taken, free = free_ports(2)
    monkeypatch.setattr(ports, "_pool", lambda: (taken, free))
    with socket.socket() as held:
        held.bind(("127.0.0.1", taken))
        assert {free_port() for _ in range(20)} == {free}


def test_promised_ports_are_avoided() -> None:
    promised = set(free_ports(3))
    assert all(free_port(avoid=promised) not in promised for _ in range(200))


def test_a_narrowed_pool_is_kept_to(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRIFTBOX_PORT_RANGE", "20000-20100")
    assert all(20_000 <= port < 20_100 for port in free_ports(20))
