"""What a test needs to prove nothing was left behind: threads in SDK reads, client sockets."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any, Optional

_SDK = str(Path(__file__).resolve().parent.parent / "deepinfra_sdk")


def threads_in_sdk() -> list[str]:
    """Names of threads (other than this one) currently running SDK code."""
    import threading

    names = {t.ident: t.name for t in threading.enumerate()}
    busy = []
    for ident, frame in sys._current_frames().items():
        if ident == threading.get_ident():
            continue
        f = frame
        while f is not None:
            name = f.f_code.co_filename
            if name.startswith(_SDK) and os.sep + "emulator" + os.sep not in name:
                busy.append(names.get(ident, str(ident)))
                break
            f = f.f_back
    return busy


def wait_until_no_thread_in_sdk(limit: float = 2.0) -> float:
    """Seconds until no thread runs SDK code; fails past ``limit``."""
    started = time.monotonic()
    while True:
        busy = threads_in_sdk()
        elapsed = time.monotonic() - started
        if not busy:
            return elapsed
        assert elapsed < limit, f"threads still in SDK code after {limit}s: {busy}"
        time.sleep(0.005)


def _inodes_to(port: int) -> set[str]:
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if int(fields[2].rsplit(":", 1)[1], 16) == port:
                found.add(fields[9])
    return found


def client_sockets(port: int) -> int:
    """This process's open TCP sockets whose remote end is ``port`` (client side)."""
    targets = _inodes_to(port)
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            link = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if link.startswith("socket:[") and link[8:-1] in targets:
            count += 1
    return count


def can_count_sockets() -> bool:
    """Whether ``client_sockets`` works here (Linux /proc)."""
    return Path("/proc/net/tcp").exists() and Path("/proc/self/fd").exists()


def _pools(client: Any) -> list[Any]:
    """The urllib3 connection pools of a ``DeepInfraClient`` (none before its first call)."""
    transport = client._transport_obj
    if transport is None:
        return []
    found = []
    for adapter in {id(a): a for a in transport.session.adapters.values()}.values():
        manager = getattr(adapter, "poolmanager", None)
        if manager is None:
            continue
        for key in manager.pools.keys():  # noqa: SIM118 (iterating the container raises)
            pool = manager.pools.get(key)
            if pool is not None:
                found.append(pool)
    return found


def checked_out(client: Any) -> int:
    """Connections taken from the client's pools and not given back."""
    return sum(p.pool.maxsize - p.pool.qsize() for p in _pools(client) if p.pool is not None)


def idle_pooled(client: Any, port: Optional[int] = None) -> int:
    """Connected sockets kept by idle pooled connections (to ``port``, if given)."""
    count = 0
    for pool in _pools(client):
        queue = pool.pool
        if queue is None or (port is not None and pool.port != port):
            continue
        with queue.mutex:
            conns = list(queue.queue)
        count += sum(1 for conn in conns if conn is not None and conn.sock is not None)
    return count
