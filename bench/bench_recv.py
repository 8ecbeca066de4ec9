"""Benchmark: what one read costs the gateway's event loop, by how the connection reads.

Run:  .venv/bin/python bench/bench_recv.py [--connections 200] [--rounds 50] [--size 420]

asyncio's socket transport gives a plain ``Protocol`` each read as a new ``bytes`` made by
``sock.recv(256 KiB)``; a ``BufferedProtocol`` (what the gateway's connections are,
``gongzhi.ingest.gateway._Conn``) is read into a buffer it hands out, and copies only what
arrived. The bench serves ``--connections`` loopback connections with both kinds in turn, in
one process and one event loop: each client sends a packet-sized message (``--size`` bytes,
an HJ 212 upload of 10 values is ≈ 420) and waits for a 60-byte reply, ``--rounds`` times.
The server side only counts bytes and answers, and the client is the same both times, so
the difference between the two runs is the cost of the server's read itself. Each run is a new
process, as a gateway is: whether a 256 KiB allocation is mapped and unmapped each time
depends on the history of the process's heap (glibc raises its mmap threshold after freeing a
large mapped block), and a new process has not raised it. Printed: CPU µs per round trip of each kind (client and server
together, the same client both times), and the plain ``socket.recv`` of a 420-byte message
into a 256 KiB and a 64 KiB buffer and ``recv_into`` (the same syscall, no event loop) as the
baseline that explains the difference.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import subprocess
import sys
import time

REPLY = b"##0061QN=20261206000000000;ST=91;CN=9014;PW=123456;MN=X;Flag=4;CP=&&&&ABCD\r\n"


class _Counting(asyncio.Protocol):
    def __init__(self, size: int) -> None:
        self.size, self.got, self.transport = size, 0, None

    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self._count(len(data))

    def _count(self, n: int) -> None:
        self.got += n
        while self.got >= self.size:
            self.got -= self.size
            self.transport.write(REPLY)


class _BufferedCounting(asyncio.BufferedProtocol, _Counting):
    view = memoryview(bytearray(65536))

    def get_buffer(self, sizehint: int) -> memoryview:
        return self.view

    def buffer_updated(self, nbytes: int) -> None:
        self._count(nbytes)


class _Client(asyncio.BufferedProtocol):
    """The same client for both servers (a buffered read: its cost does not vary with the heap)."""

    view = memoryview(bytearray(65536))

    def __init__(self) -> None:
        self.got, self.transport, self.replied = 0, None, None

    def connection_made(self, transport) -> None:
        self.transport = transport

    def get_buffer(self, sizehint: int) -> memoryview:
        return self.view

    def buffer_updated(self, nbytes: int) -> None:
        self.got += nbytes
        if self.got >= len(REPLY) and self.replied is not None:
            self.got -= len(REPLY)
            self.replied.set_result(None)

    async def rounds(self, msg: bytes, n: int) -> None:
        for _ in range(n):
            self.replied = asyncio.get_running_loop().create_future()
            self.transport.write(msg)
            await self.replied


async def _run(kind, connections: int, rounds: int, size: int) -> float:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: kind(size), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    clients = [(await loop.create_connection(_Client, "127.0.0.1", port))[1] for _ in range(connections)]
    msg = b"#" * size
    await asyncio.gather(*(c.rounds(msg, rounds) for c in clients[:10]))  # warm
    t0 = time.process_time()
    await asyncio.gather(*(c.rounds(msg, rounds) for c in clients))
    cpu = time.process_time() - t0
    for c in clients:
        c.transport.close()
    server.close()
    await server.wait_closed()
    return cpu / (connections * rounds) * 1e6


def _plain(size: int, bufsize: int | None, n: int = 50000) -> float:
    a, b = socket.socketpair()
    msg, buf = b"#" * size, bytearray(65536)
    t0 = time.process_time()
    for _ in range(n):
        a.send(msg)
        if bufsize is None:
            b.recv_into(buf)
        else:
            b.recv(bufsize)
    a.close(), b.close()
    return (time.process_time() - t0) / n * 1e6


KINDS = {"Protocol (asyncio default read)": _Counting, "BufferedProtocol (the gateway)": _BufferedCounting}


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "_one":  # one measurement in a fresh process
        kind, connections, rounds, size = sys.argv[2], *map(int, sys.argv[3:6])
        print(asyncio.run(_run(KINDS[kind], connections, rounds, size)))
        return 0
    p = argparse.ArgumentParser()
    p.add_argument("--connections", type=int, default=200)
    p.add_argument("--rounds", type=int, default=50)
    p.add_argument("--size", type=int, default=420)
    a = p.parse_args()
    print(f"bench_recv: {a.connections} loopback connections x {a.rounds} round trips of {a.size} bytes", flush=True)
    res = {}
    runs: dict[str, list[float]] = {k: [] for k in KINDS}
    for _ in range(3):  # alternated, each in a new process (a gateway is one: see the module's doc)
        for label in KINDS:
            out = subprocess.run([sys.executable, __file__, "_one", label, str(a.connections), str(a.rounds),
                                  str(a.size)], check=True, capture_output=True, text=True).stdout
            runs[label].append(float(out))
    for label, got in runs.items():
        res[label] = min(got)
        print(f"  {label}: {res[label]:.1f} µs CPU per round trip (best of 3, each in a new process; client and "
              f"server)", flush=True)
    (l0, v0), (l1, v1) = res.items()
    print(f"  saved per read: {v0 - v1:.1f} µs ({100 * (v0 - v1) / v0:.0f} % of the round trip)", flush=True)
    big, small, into = _plain(a.size, 262144), _plain(a.size, 65536), _plain(a.size, None)
    print(f"  baseline, plain socketpair send+recv of {a.size} bytes in this process: recv(256 KiB) {big:.1f} µs, "
          f"recv(64 KiB) {small:.1f} µs, recv_into {into:.1f} µs", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
