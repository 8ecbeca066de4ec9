"""The HJ 212 TCP gateway (数据接入网关): asyncio sockets around the sync pipeline.

* one :class:`asyncio.Protocol` and one :class:`gongzhi.hj212.Decoder` (buffer capped) per
  connection: the event loop hands each read straight to the connection's decoder, no task,
  future or timer per read, and a slow client never delays the others;
* a bounded queue between the connections and the writer: when it is full, a connection keeps
  the packets of its last read itself and stops reading from its socket (TCP backpressure
  reaches the loggers) until the writer has taken them;
* ONE writer thread (Django's ORM is synchronous; the thread keeps its own
  database connection) runs :meth:`Pipeline.process_batch` on what queued while it was busy
  (up to ``max_batch`` items; ``max_wait`` adds a fill timer), one transaction each (group
  commit). Replies (9014 …) are written to the connections only after the batch has
  committed;
* idle timeout (a sweep, not a timer per read), connection limit, graceful shutdown (stop
  accepting, stop reading, drain the queue, commit, acknowledge, close) and a Prometheus
  ``/metrics`` endpoint on a second port.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextlib
import gc
import itertools
import logging
import os
import signal
import time
from dataclasses import dataclass
from typing import Any, Callable

from django.utils import timezone

from gongzhi.hj212 import DEFAULT_MAX_BUFFER, Decoder
from gongzhi.ingest.metrics import GatewayMetrics, serve_metrics

log = logging.getLogger("gongzhi.ingest.gateway")

@dataclass
class GatewayConfig:
    host: str = "127.0.0.1"
    port: int = 9212
    metrics_host: str = "127.0.0.1"
    metrics_port: int | None = 9213  # None: no metrics endpoint; 0: an ephemeral port
    max_connections: int = 10000
    idle_timeout: float = 300.0
    queue_size: int = 20000
    max_batch: int = 500
    max_wait: float = 0.0
    max_buffer: int = DEFAULT_MAX_BUFFER
    #: a client that does not read its replies: close it when this many bytes are queued for it
    write_buffer_limit: int = 1 << 20
    decoder_mode: str = "tolerant"
    #: graceful shutdown: how long to wait for replies to flush before closing sockets
    close_timeout: float = 5.0
    #: listen with SO_REUSEPORT (several worker processes on one port, see ingest/workers.py)
    reuse_port: bool = False
    #: an already bound listening socket to accept from (inherited from the supervisor) instead of host/port
    sock: Any = None


#: Bytes read per ``recv`` (the gateway's one read buffer). asyncio's default transport reads
#: into a new 256 KiB ``bytes`` on every read; until the heap's history has raised glibc's mmap
#: threshold (a new process), each read of a 400-byte packet maps and unmaps memory (≈ 15 µs;
#: bench/bench_recv.py).
READ_BUFFER = 65536


class _Conn(asyncio.BufferedProtocol):
    """One logger's connection: decodes what it reads, queues the events for the writer.

    A buffered protocol: the transport reads into the gateway's one read buffer (shared by
    every connection of the event loop: it is filled and consumed within one callback) and
    the decoder copies what arrived into its own buffer."""

    __slots__ = ("gw", "id", "peer", "transport", "decoder", "pending", "held", "paused", "reader_done", "closed",
                 "last_read")

    def __init__(self, gw: "Gateway") -> None:
        self.gw = gw
        self.id = 0
        self.peer = ""
        self.transport: asyncio.Transport | None = None
        self.decoder: Decoder | None = None
        self.pending = 0  # items queued, held or in the writer, not yet answered
        self.held: collections.deque = collections.deque()  # items waiting for room in the queue
        self.paused = False  # reading paused: the queue is full
        self.reader_done = False  # end of file or connection lost: nothing more will arrive
        self.closed = False
        self.last_read = 0.0

    # -- asyncio.BufferedProtocol ----------------------------------------------------------------

    def connection_made(self, transport) -> None:
        gw = self.gw
        cfg = gw.config
        self.transport = transport
        if gw._closing or len(gw._conns) >= cfg.max_connections:
            gw.metrics.connections_refused.inc()
            self.closed = True
            transport.close()  # polite: a FIN, not a reset; the logger retries later
            return
        addr = transport.get_extra_info("peername")
        self.peer = f"{addr[0]}:{addr[1]}" if isinstance(addr, tuple) else str(addr or "")
        self.id = next(gw._ids)
        self.decoder = Decoder(cfg.decoder_mode, max_buffer=cfg.max_buffer)
        self.last_read = time.monotonic()
        transport.set_write_buffer_limits(high=cfg.write_buffer_limit)
        gw._conns[self.id] = self
        gw.metrics.connections_total.inc()
        if gw._stop_reading:  # shutting down between accept and here
            transport.pause_reading()

    def get_buffer(self, sizehint: int) -> memoryview:
        return self.gw._read_view

    def buffer_updated(self, nbytes: int) -> None:
        if self.closed:
            return
        self.last_read = time.monotonic()
        self.gw.metrics.bytes_received.inc(nbytes)
        events = self.decoder.feed(self.gw._read_view[:nbytes])
        if events:
            self.gw._enqueue(self, events)

    def eof_received(self) -> bool:
        # a packet cut short by the peer closing is archived; the socket stays open for the
        # replies still due, and is closed once the last one is written
        if not self.closed and not self.reader_done:
            self.reader_done = True
            events = self.decoder.close()
            if events:
                self.gw._enqueue(self, events)
            if self.pending == 0:
                self.gw._close(self, "eof")
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        self.reader_done = True
        if not self.closed:
            self.gw._close(self, "error" if exc is not None else "eof")


class Gateway:
    """``await start()``, then ``await wait_closed()``; ``await shutdown()`` (or a signal) ends it.

    ``processor(items) -> outcomes`` runs in the writer thread; by default the
    ingest pipeline (created in that thread).  ``on_writer_exit`` runs last in
    the writer thread (default: close its database connection).
    """

    def __init__(self, config: GatewayConfig | None = None, *, processor: Callable[[list], list] | None = None) -> None:
        self.config = config or GatewayConfig()
        self._processor = processor
        #: items for the writer: (connection, received, event, monotonic time of arrival)
        self._queue: collections.deque = collections.deque()
        #: connections holding items because the queue was full, in the order they filled up
        self._waiting: collections.deque = collections.deque()
        self._wakeup: asyncio.Future | None = None  # the batcher waits on it when the queue is empty
        self._stopped = False  # no more batches after the queue is drained (shutdown)
        self._stop_reading = False
        self._conns: dict[int, _Conn] = {}
        self._ids = itertools.count(1)
        self._read_view = memoryview(bytearray(READ_BUFFER))  # every connection reads into it (_Conn)
        self._server: asyncio.base_events.Server | None = None
        self._metrics_server: asyncio.base_events.Server | None = None
        self._batcher: asyncio.Task | None = None
        self._sweeper: asyncio.Task | None = None
        self._executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="gongzhi-writer")
        self._closing = False
        self._closed: asyncio.Event | None = None  # created in start(), inside the loop
        self._shutdown_task: asyncio.Task | None = None
        self.metrics = GatewayMetrics(lambda: len(self._queue), lambda: len(self._conns))
        self.port: int | None = None
        self.metrics_port: int | None = None

    # -- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        cfg = self.config
        loop = asyncio.get_running_loop()
        self._closed = asyncio.Event()
        # warm the writer: Django connection and pipeline caches are created in that thread
        await self.run_in_writer(self._writer_init)
        self._batcher = asyncio.create_task(self._batch_loop(), name="gongzhi-batcher")
        self._sweeper = asyncio.create_task(self._sweep_idle(), name="gongzhi-idle-sweep")
        backlog = min(4096, max(128, cfg.max_connections))
        factory = lambda: _Conn(self)  # noqa: E731
        if cfg.sock is not None:
            self._server = await loop.create_server(factory, sock=cfg.sock, backlog=backlog)
        else:
            self._server = await loop.create_server(factory, cfg.host, cfg.port, backlog=backlog,
                                                    reuse_port=cfg.reuse_port or None)
        self.port = self._server.sockets[0].getsockname()[1]
        if cfg.metrics_port is not None:
            self._metrics_server = await serve_metrics(self.metrics, cfg.metrics_host, cfg.metrics_port)
            self.metrics_port = self._metrics_server.sockets[0].getsockname()[1]

    def install_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, self.request_shutdown)

    def request_shutdown(self) -> None:
        if self._shutdown_task is None:
            self._shutdown_task = asyncio.get_running_loop().create_task(self.shutdown())

    async def wait_closed(self) -> None:
        await self._closed.wait()

    async def run_in_writer(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run ``fn`` in the writer thread (serialised with the batches; tests use it to read the store)."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    def _writer_init(self) -> None:
        if self._processor is None:
            from gongzhi.ingest.pipeline import Pipeline

            pipeline = Pipeline()
            self._processor = pipeline.process_batch

    def _writer_exit(self) -> None:
        from django.db import connection

        connection.close()

    async def shutdown(self) -> None:
        """Stop accepting, stop reading, process what was received, acknowledge, close."""
        if self._closing:
            await self._closed.wait()
            return
        self._closing = True
        log.info("gateway shutting down: %d connection(s), %d queued", len(self._conns), len(self._queue))
        if self._server is not None:
            self._server.close()
        # what was read is queued or held and will be answered; what was not read stays unacked
        self._stop_reading = True
        for c in list(self._conns.values()):
            with contextlib.suppress(Exception):
                c.transport.pause_reading()
        if self._sweeper is not None:
            self._sweeper.cancel()
        self._stopped = True
        self._wake()
        if self._batcher is not None:
            await self._batcher
        # replies are written; let them flush, then close every connection
        deadline = time.monotonic() + self.config.close_timeout
        for c in list(self._conns.values()):
            while c.transport.get_write_buffer_size() and time.monotonic() < deadline and not c.transport.is_closing():
                await asyncio.sleep(0.01)
            self._close(c, "shutdown")
        if self._metrics_server is not None:
            self._metrics_server.close()
        with contextlib.suppress(Exception):
            await self.run_in_writer(self._writer_exit)
        self._executor.shutdown(wait=True)
        self._closed.set()
        log.info("gateway stopped")

    # -- connections ----------------------------------------------------------------------------

    def _enqueue(self, conn: _Conn, events: list) -> None:
        """Queue a read's events for the writer; what does not fit waits in the connection, which
        stops reading until the writer has taken it (TCP backpressure)."""
        now = timezone.now()
        t0 = time.monotonic()
        q = self._queue
        room = self.config.queue_size - len(q)
        conn.pending += len(events)
        if not conn.held and room >= len(events):
            q.extend([(conn, now, ev, t0) for ev in events])
        else:
            held = conn.held
            for ev in events:
                if room > 0 and not held:
                    q.append((conn, now, ev, t0))
                    room -= 1
                else:
                    held.append((conn, now, ev, t0))
            if held and not conn.paused:
                conn.paused = True
                conn.transport.pause_reading()
                self._waiting.append(conn)
        self._wake()

    def _refill(self) -> None:
        """Move held items into the queue as far as there is room, in the order the connections
        filled up; a connection whose items are all queued reads again."""
        q = self._queue
        room = self.config.queue_size - len(q)
        waiting = self._waiting
        while waiting and room > 0:
            conn = waiting[0]
            held = conn.held
            while held and room > 0:
                q.append(held.popleft())
                room -= 1
            if held:
                break
            waiting.popleft()
            conn.paused = False
            if not conn.closed and not self._stop_reading:
                conn.transport.resume_reading()

    def _wake(self) -> None:
        w = self._wakeup
        if w is not None and not w.done():
            w.set_result(None)

    async def _sweep_idle(self) -> None:
        """Close connections that sent nothing for ``idle_timeout`` (those waiting for room in the
        queue, or for their replies, are not idle)."""
        timeout = self.config.idle_timeout
        period = min(max(timeout / 4, 0.02), 5.0)
        while True:
            await asyncio.sleep(period)
            cutoff = time.monotonic() - timeout
            for c in [c for c in self._conns.values() if c.last_read <= cutoff and not c.paused and c.pending == 0]:
                self._close(c, "idle")

    def _close(self, conn: _Conn, cause: str) -> None:
        if conn.closed:
            return
        conn.closed = True
        conn.reader_done = True
        if self._conns.pop(conn.id, None) is not None:
            self.metrics.connections_closed.inc(label=cause)
        with contextlib.suppress(Exception):
            conn.transport.close()

    # -- the writer -----------------------------------------------------------------------------

    async def _batch_loop(self) -> None:
        cfg = self.config
        q = self._queue
        loop = asyncio.get_running_loop()
        while True:
            if not q:
                self._refill()
            if not q:
                if self._stopped:
                    break
                self._wakeup = loop.create_future()
                await self._wakeup
                self._wakeup = None
                continue
            if cfg.max_wait > 0 and len(q) < cfg.max_batch and not self._stopped:
                deadline = loop.time() + cfg.max_wait
                while len(q) < cfg.max_batch and not self._stopped:
                    rest = deadline - loop.time()
                    if rest <= 0:
                        break
                    self._wakeup = loop.create_future()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wakeup, rest)
                    self._wakeup = None
                    self._refill()
            n = min(len(q), cfg.max_batch)
            batch = [q.popleft() for _ in range(n)]
            self._refill()
            await self._run_batch(batch)

    def _process(self, items: list) -> tuple[list, float]:
        t0 = time.perf_counter()
        outcomes = self._processor(items)
        return outcomes, time.perf_counter() - t0

    async def _run_batch(self, batch: list) -> None:
        m = self.metrics
        items = [(c.peer, t, ev) for c, t, ev, _ in batch]
        try:
            outcomes, seconds = await self.run_in_writer(self._process, items)
        except Exception:
            log.exception("writer failed on a batch of %d; nothing acknowledged", len(batch))
            m.batch_failures.inc()
            outcomes = [None] * len(batch)
            seconds = None
        if seconds is not None:
            m.batch_size.observe(len(batch))
            m.commit_seconds.observe(seconds)
        now = time.monotonic()
        # replies are gathered per connection and written once per connection per batch (in
        # the order of the items): a logger that sent both parts of an upload in one write
        # gets both 9014 in one segment, and the gateway makes one send call, not one per packet
        out_bytes: dict[_Conn, list[bytes]] = {}
        verdicts: dict[str, int] = {}
        stored = duplicates = replies = 0
        observe = m.ack_seconds.observe
        for (conn, _t, _ev, t0), out in zip(batch, outcomes):
            conn.pending -= 1
            if out is not None:
                verdict = out.verdict
                verdicts[verdict] = verdicts.get(verdict, 0) + 1
                if verdict != "accepted" and verdict != "duplicate":
                    m.errors.inc(label=out.reason or "unknown")
                stored += out.values_stored
                duplicates += out.duplicates
                if out.unknown_codes:
                    m.unknown_codes.inc(len(out.unknown_codes))
                if out.replies:
                    if conn.closed or conn.transport.is_closing():
                        m.replies_dropped.inc(len(out.replies))
                    else:
                        pending = out_bytes.get(conn)
                        if pending is None:
                            out_bytes[conn] = list(out.replies)
                        else:
                            pending.extend(out.replies)
                        replies += len(out.replies)
                        observe(now - t0)
        for verdict, n in verdicts.items():
            m.packets.inc(n, label=str(verdict))
        m.values_stored.inc(stored)
        m.values_duplicate.inc(duplicates)
        m.replies.inc(replies)
        limit = self.config.write_buffer_limit
        for conn, replies in out_bytes.items():
            transport = conn.transport
            transport.write(b"".join(replies))
            if transport.get_write_buffer_size() > limit:
                self._close(conn, "slow_reader")
        for conn, _t, _ev, _t0 in batch:
            if conn.reader_done and conn.pending == 0 and not conn.closed:
                self._close(conn, "eof")


def tune_gc(gen0: int = 50_000) -> None:
    """Fewer, cheaper cyclic garbage collections for a server process.

    Every decoded packet allocates dozens of small objects (records, tuples, strings) and
    under load tens of thousands of them are alive in the queue at once; with the default
    thresholds a collection runs every 700 allocations and the full ones walk every live
    object (Django, the catalog, the queue): measured as a quarter of the event loop's
    time under load.  The packet path creates no reference cycles, so collecting rarely
    loses nothing; objects alive after start-up (modules, settings, caches) are frozen out
    of the collector's walks altogether."""
    gc.collect()
    gc.freeze()
    _, g1, g2 = gc.get_threshold()
    gc.set_threshold(gen0, g1, g2)


async def run_gateway(config: GatewayConfig, *, ready: Callable[[Gateway], None] | None = None,
                      parent_fd: int | None = None) -> None:
    """Run until SIGTERM/SIGINT, then shut down gracefully.

    ``parent_fd``: a pipe from a supervisor (``--workers``); when it reaches end of file (the
    supervisor died) the gateway shuts down gracefully as on SIGTERM."""
    gw = Gateway(config)
    await gw.start()
    gw.install_signal_handlers()
    tune_gc()
    if parent_fd is not None:
        loop = asyncio.get_running_loop()

        def parent_readable() -> None:
            try:
                data = os.read(parent_fd, 4096)
            except BlockingIOError:
                return
            except OSError:
                data = b""
            if not data:
                loop.remove_reader(parent_fd)
                log.warning("gateway worker: the supervisor is gone; shutting down")
                gw.request_shutdown()

        os.set_blocking(parent_fd, False)
        loop.add_reader(parent_fd, parent_readable)
    if ready is not None:
        ready(gw)
    await gw.wait_closed()
