"""Several gateway worker processes behind one port (``gongzhi gateway --workers N``).

Python runs one thread of Python code at a time per process, so one gateway
process uses at most one core for decoding, the pipeline and the database
driver together.  With ``--workers N`` the command becomes a small supervisor:

* it reserves the port (a socket bound with ``SO_REUSEPORT``, never listening),
  then starts N worker processes, each an ordinary single-process gateway
  (its own event loop, a decoder per connection, its own writer thread and
  database connection) listening on the same port with ``SO_REUSEPORT``: the
  kernel spreads new connections over the workers;
* without ``SO_REUSEPORT`` (not Linux/BSD) the supervisor creates the listening
  socket itself and the workers inherit it (they all accept from it);
* ``/metrics`` on the supervisor's metrics port is the sum of the workers'
  metrics (each worker serves its own on an ephemeral loopback port, which the
  supervisor reads);
* SIGTERM/SIGINT are passed on to every worker, each shuts down gracefully
  (drain, commit, acknowledge); the supervisor exits when they all have;
* a worker that dies (it should not: bad input never raises out of a
  connection) is started again after a short pause;
* a worker whose supervisor dies (its stdin pipe closes) shuts down gracefully.

The pipeline is multi-writer safe (archive ids from the sequence, keys and
values inserted with ``ON CONFLICT DO NOTHING``); see docs/ingest.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import sys
import time
from dataclasses import dataclass, field

from gongzhi.ingest.gateway import GatewayConfig
from gongzhi.ingest.metrics import answer_metrics_request

log = logging.getLogger("gongzhi.ingest.workers")

HAVE_REUSEPORT = hasattr(socket, "SO_REUSEPORT") and sys.platform.startswith("linux")


def default_workers(vendor: str) -> int:
    """One writer process on SQLite (its write lock serialises writers anyway); one per CPU otherwise."""
    if vendor.startswith("sqlite"):
        return 1
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def reserve_socket(host: str, port: int, *, listen: bool, backlog: int = 4096) -> socket.socket:
    """The supervisor's socket: bound with SO_REUSEPORT (``listen=False``), or a shared listening socket."""
    infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    family, type_, proto, _, addr = infos[0]
    sock = socket.socket(family, type_, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(addr)
        if not listen:
            # set after bind: port 0 then gets a port nobody else uses, not one shared with another
            # SO_REUSEPORT socket of the same user; the workers' binds still join this one
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        if listen:
            sock.listen(backlog)
            sock.set_inheritable(True)
    except BaseException:
        sock.close()
        raise
    return sock


# --- metrics aggregation -----------------------------------------------------------------------


def merge_metrics(texts: list[str]) -> str:
    """Sum Prometheus text expositions sample by sample (counters, gauges and histogram series
    of the workers all add up); HELP/TYPE lines kept once, in first-seen order."""
    order: list[str] = []
    meta: dict[str, list[str]] = {}
    samples: dict[str, dict[str, float]] = {}
    for text in texts:
        family = ""
        for line in text.splitlines():
            if not line:
                continue
            if line.startswith("#"):
                parts = line.split(" ", 3)
                if len(parts) >= 3 and parts[1] in ("HELP", "TYPE"):
                    family = parts[2]
                    if family not in meta:
                        meta[family] = []
                        samples[family] = {}
                        order.append(family)
                    if not any(m.split(" ", 3)[1] == parts[1] for m in meta[family]):
                        meta[family].append(line)
                continue
            key, _, value = line.rpartition(" ")
            try:
                v = float(value)
            except ValueError:
                continue
            fam = samples.setdefault(family, {})
            if family not in meta:
                meta[family] = []
                order.append(family)
            fam[key] = fam.get(key, 0.0) + v
    out: list[str] = []
    for family in order:
        out.extend(meta[family])
        for key, v in samples.get(family, {}).items():
            out.append(f"{key} {int(v) if float(v).is_integer() else repr(v)}")
    return "\n".join(out) + "\n"


async def _fetch(port: int, timeout: float = 2.0) -> str:
    async with asyncio.timeout(timeout):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            writer.write(b"GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
            await writer.drain()
            data = await reader.read()
        finally:
            writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.0 200"):
        raise OSError("worker metrics: " + head[:40].decode("latin-1"))
    return body.decode()


# --- the supervisor -----------------------------------------------------------------------------


@dataclass
class _Worker:
    index: int
    proc: asyncio.subprocess.Process | None = None
    metrics_port: int | None = None
    started: float = 0.0
    restarts: int = 0
    task: asyncio.Task | None = None


@dataclass
class Supervisor:
    """Runs ``workers`` gateway processes on ``config.port``; ``extra_args`` go to every worker
    (batching, limits, --strict)."""

    config: GatewayConfig
    workers: int
    extra_args: list[str] = field(default_factory=list)
    restart_delay: float = 1.0
    start_timeout: float = 120.0

    def __post_init__(self) -> None:
        self.port: int | None = None
        self.metrics_port: int | None = None
        self._sock: socket.socket | None = None
        self._workers = [_Worker(i) for i in range(self.workers)]
        self._stopping = False
        self._done: asyncio.Event | None = None
        self._metrics_server = None

    def _argv(self, w: _Worker) -> list[str]:
        cfg = self.config
        argv = [sys.executable, "-m", "gongzhi.cli", "gateway", "--workers", "1", "--no-migrate",
                "--worker-index", str(w.index), "--host", cfg.host, "--port", str(self.port),
                "--metrics-host", "127.0.0.1", "--metrics-port", "0", *self.extra_args]
        if HAVE_REUSEPORT:
            argv.append("--reuse-port")
        else:
            argv += ["--listen-fd", str(self._sock.fileno())]
        return argv

    async def _start_worker(self, w: _Worker) -> None:
        pass_fds = () if HAVE_REUSEPORT else (self._sock.fileno(),)
        # stdin is a pipe the worker only watches: when the supervisor dies (even by SIGKILL)
        # the pipe closes and the worker shuts down gracefully instead of running on orphaned
        w.proc = await asyncio.create_subprocess_exec(*self._argv(w), stdin=asyncio.subprocess.PIPE,
                                                      stdout=asyncio.subprocess.PIPE, pass_fds=pass_fds)
        w.started = time.monotonic()
        try:
            line = (await asyncio.wait_for(w.proc.stdout.readline(), self.start_timeout)).decode(errors="replace")
        except TimeoutError:
            line = ""
        try:
            w.metrics_port = int(line.split("metrics on http://", 1)[1].split("/", 1)[0].rsplit(":", 1)[1])
        except (IndexError, ValueError):
            w.metrics_port = None
            with contextlib.suppress(ProcessLookupError):
                w.proc.kill()
            await w.proc.wait()
            raise RuntimeError(f"gateway worker {w.index} did not start: {line!r}") from None
        w.task = asyncio.create_task(self._watch(w))

    async def _watch(self, w: _Worker) -> None:
        proc = w.proc
        # keep reading (and echo) the worker's stdout so that it never blocks on a full pipe
        while True:
            line = await proc.stdout.readline()
            if not line:
                break
        code = await proc.wait()
        if self._stopping:
            return
        log.error("gateway worker %d exited with %s; restarting", w.index, code)
        w.metrics_port = None
        await asyncio.sleep(self.restart_delay)
        if self._stopping:
            return
        w.restarts += 1
        try:
            await self._start_worker(w)
        except Exception:
            log.exception("restarting gateway worker %d failed", w.index)
            if not self._stopping:
                self._done.set()  # give up: the supervisor exits with an error

    async def start(self) -> None:
        cfg = self.config
        self._done = asyncio.Event()
        self._sock = reserve_socket(cfg.host, cfg.port, listen=not HAVE_REUSEPORT,
                                    backlog=min(4096, max(128, cfg.max_connections)))
        self.port = self._sock.getsockname()[1]
        try:
            await asyncio.gather(*(self._start_worker(w) for w in self._workers))
        except BaseException:
            await self.stop()
            raise
        if cfg.metrics_port is not None:
            self._metrics_server = await asyncio.start_server(self._serve_metrics, cfg.metrics_host, cfg.metrics_port)
            self.metrics_port = self._metrics_server.sockets[0].getsockname()[1]

    async def metrics_text(self) -> str:
        ports = [w.metrics_port for w in self._workers if w.metrics_port]
        texts = await asyncio.gather(*(_fetch(p) for p in ports), return_exceptions=True)
        ok = [t for t in texts if isinstance(t, str)]
        body = merge_metrics(ok)
        body += ("# HELP gongzhi_gateway_workers Gateway worker processes answering (configured: "
                 f"{self.workers}).\n# TYPE gongzhi_gateway_workers gauge\ngongzhi_gateway_workers {len(ok)}\n")
        restarts = sum(w.restarts for w in self._workers)
        body += ("# HELP gongzhi_gateway_worker_restarts_total Worker processes started again after dying.\n"
                 f"# TYPE gongzhi_gateway_worker_restarts_total counter\ngongzhi_gateway_worker_restarts_total {restarts}\n")
        return body

    async def _serve_metrics(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await answer_metrics_request(reader, writer, self.metrics_text)

    def install_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, lambda: asyncio.ensure_future(self.stop()))

    async def stop(self) -> None:
        """SIGTERM to every worker (each drains, commits and acknowledges), then wait for them."""
        if self._stopping:
            return
        self._stopping = True
        if self._metrics_server is not None:
            self._metrics_server.close()
        procs = [w.proc for w in self._workers if w.proc is not None and w.proc.returncode is None]
        for p in procs:
            with contextlib.suppress(ProcessLookupError):
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                await asyncio.wait_for(p.wait(), 60)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    p.kill()
                await p.wait()
        for w in self._workers:
            if w.task is not None and w.task is not asyncio.current_task():
                w.task.cancel()
        if self._sock is not None:
            self._sock.close()
        if self._done is not None:
            self._done.set()

    async def wait_closed(self) -> None:
        await self._done.wait()
        if not self._stopping:  # a worker could not be restarted
            await self.stop()
            raise RuntimeError("a gateway worker could not be restarted")


async def run_supervisor(sup: Supervisor, *, ready=None) -> None:
    await sup.start()
    sup.install_signal_handlers()
    if ready is not None:
        ready(sup)
    await sup.wait_closed()
