"""Free ports for the local stack's parts, picked so that no other socket takes them before they bind.

A port the kernel hands out for ``bind(("", 0))`` comes from the ephemeral range, the one every
outgoing connection and every other ``bind(0)`` draws from. Released again so that a child process
can bind it, it can be taken by any of those in between: seen in CI as ``Address already in use``
when a stack's emulator bound a port its parent had just picked for another part. Picking below
the ephemeral range closes that window: only a listener that names the port itself can take it.

``DRIFTBOX_PORT_RANGE=LOW-HIGH`` narrows the pool, so that processes that pick ports side by side
(the test suite's workers) draw from pools of their own; a child process inherits its parent's.
"""

from __future__ import annotations

import os
import random
import socket
from collections.abc import Collection
from pathlib import Path

_EPHEMERAL = Path("/proc/sys/net/ipv4/ip_local_port_range")
_LOWEST = 10_000  # below this lie the well-known and registered services a machine may run
_DEFAULT_EPHEMERAL_START = 32_768  # Linux's default, and what BSD and macOS start at (49152) is above


def _pool() -> range:
    if narrowed := os.environ.get("DRIFTBOX_PORT_RANGE"):
        low, high = (int(end) for end in narrowed.split("-"))
        return range(low, high)
    try:
        start = int(_EPHEMERAL.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        start = _DEFAULT_EPHEMERAL_START
    if start - _LOWEST < 1_000:  # an unusual ephemeral range: any port the kernel offers will do
        return range(0, 0)
    return range(_LOWEST, start)


def free_ports(count: int, host: str = "127.0.0.1", *, avoid: Collection[int] = ()) -> list[int]:
    """``count`` distinct ports that ``host`` can bind now, all held until each is known.

    ``avoid``: ports already promised to parts not yet listening.
    """
    pool = _pool()
    chosen: list[socket.socket] = []
    try:
        while len(chosen) < count:
            sock = socket.socket()
            try:
                sock.bind((host, random.choice(pool) if pool else 0))
            except OSError:
                sock.close()  # taken: try another
                continue
            if sock.getsockname()[1] in avoid:
                sock.close()
                continue
            chosen.append(sock)
        return [int(sock.getsockname()[1]) for sock in chosen]
    finally:
        for sock in chosen:
            sock.close()


def free_port(host: str = "127.0.0.1", *, avoid: Collection[int] = ()) -> int:
    return free_ports(1, host, avoid=avoid)[0]
