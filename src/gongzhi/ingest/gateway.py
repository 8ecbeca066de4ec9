"""The HJ 212 TCP gateway (数据接入网关): asyncio sockets around the sync pipeline.

* one :class:`gongzhi.hj212.Decoder` per connection (buffer capped), one task
  per connection: a slow client never delays the others, and no lock is held
  while reading;
* a bounded queue between the connections and the writer: when it is full the
  readers wait in ``await queue.put`` and stop reading from their sockets
  (TCP backpressure reaches the loggers);
* ONE writer thread (Django's ORM is synchronous; the thread keeps its own
  database connection) runs :meth:`Pipeline.process_batch` on batches of up to
  ``max_batch`` items or ``max_wait`` seconds, one transaction each (group
  commit).  Replies (9014 …) are written to the connections only after the
  batch has committed;
* idle timeout, connection limit, graceful shutdown (stop accepting, stop
  reading, drain the queue, commit, acknowledge, close) and a Prometheus
  ``/metrics`` endpoint on a second port.
"""

from __future__ import annotations

import asyncio
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

_STOP = object()


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
    read_size: int = 65536
    #: a client that does not read its replies: close it when this many bytes are queued for it
    write_buffer_limit: int = 1 << 20
    decoder_mode: str = "tolerant"
    #: graceful shutdown: how long to wait for replies to flush before closing sockets
    close_timeout: float = 5.0
    #: listen with SO_REUSEPORT (several worker processes on one port, see ingest/workers.py)
    reuse_port: bool = False
    #: an already bound listening socket to accept from (inherited from the supervisor) instead of host/port
    sock: Any = None


class _Conn:
    __slots__ = ("id", "peer", "reader", "writer", "decoder", "pending", "reading", "reader_done", "closed", "task")

    def __init__(self, cid: int, peer: str, reader, writer, decoder: Decoder) -> None:
        self.id = cid
        self.peer = peer
        self.reader = reader
        self.writer = writer
        self.decoder = decoder
        self.pending = 0  # items queued or in the writer, not yet answered
        self.reading = False
        self.reader_done = False
        self.closed = False
        self.task: asyncio.Task | None = None


class Gateway:
    """``await start()``, then ``await wait_closed()``; ``await shutdown()`` (or a signal) ends it.

    ``processor(items) -> outcomes`` runs in the writer thread; by default the
    ingest pipeline (created in that thread).  ``on_writer_exit`` runs last in
    the writer thread (default: close its database connection).
    """

    def __init__(self, config: GatewayConfig | None = None, *, processor: Callable[[list], list] | None = None) -> None:
        self.config = config or GatewayConfig()
        self._processor = processor
        self._queue: asyncio.Queue | None = None
        self._conns: dict[int, _Conn] = {}
        self._ids = itertools.count(1)
        self._server: asyncio.base_events.Server | None = None
        self._metrics_server: asyncio.base_events.Server | None = None
        self._batcher: asyncio.Task | None = None
        self._executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="gongzhi-writer")
        self._closing = False
        self._closed: asyncio.Event | None = None  # created in start(), inside the loop
        self._shutdown_task: asyncio.Task | None = None
        self.metrics = GatewayMetrics(lambda: self._queue.qsize() if self._queue else 0, lambda: len(self._conns))
        self.port: int | None = None
        self.metrics_port: int | None = None

    # -- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        cfg = self.config
        self._queue = asyncio.Queue(cfg.queue_size)
        self._closed = asyncio.Event()
        # warm the writer: Django connection and pipeline caches are created in that thread
        await self.run_in_writer(self._writer_init)
        self._batcher = asyncio.create_task(self._batch_loop(), name="gongzhi-batcher")
        backlog = min(4096, max(128, cfg.max_connections))
        if cfg.sock is not None:
            self._server = await asyncio.start_server(self._handle, sock=cfg.sock, limit=cfg.read_size,
                                                      backlog=backlog)
        else:
            self._server = await asyncio.start_server(self._handle, cfg.host, cfg.port, limit=cfg.read_size,
                                                      backlog=backlog, reuse_port=cfg.reuse_port or None)
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
        log.info("gateway shutting down: %d connection(s), %d queued", len(self._conns), self._queue.qsize())
        if self._server is not None:
            self._server.close()
        # readers blocked in read() hold no data: cancel them; readers putting finish their put
        for c in list(self._conns.values()):
            if c.reading and c.task is not None:
                c.task.cancel()
        tasks = [c.task for c in self._conns.values() if c.task is not None]
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        await self._queue.put(_STOP)
        if self._batcher is not None:
            await self._batcher
        # replies are written; let them flush, then close every connection
        deadline = time.monotonic() + self.config.close_timeout
        for c in list(self._conns.values()):
            with contextlib.suppress(Exception):
                async with asyncio.timeout(max(0.01, deadline - time.monotonic())):
                    await c.writer.drain()
            self._close(c, "shutdown")
        if self._metrics_server is not None:
            self._metrics_server.close()
        with contextlib.suppress(Exception):
            await self.run_in_writer(self._writer_exit)
        self._executor.shutdown(wait=True)
        self._closed.set()
        log.info("gateway stopped")

    # -- connections ----------------------------------------------------------------------------

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        cfg = self.config
        m = self.metrics
        if self._closing or len(self._conns) >= cfg.max_connections:
            m.connections_refused.inc()
            writer.close()  # polite: a FIN, not a reset; the logger retries later
            return
        addr = writer.get_extra_info("peername")
        peer = f"{addr[0]}:{addr[1]}" if isinstance(addr, tuple) else str(addr or "")
        conn = _Conn(next(self._ids), peer, reader, writer, Decoder(cfg.decoder_mode, max_buffer=cfg.max_buffer))
        conn.task = asyncio.current_task()
        transport = writer.transport
        transport.set_write_buffer_limits(high=cfg.write_buffer_limit)
        self._conns[conn.id] = conn
        m.connections_total.inc()
        queue = self._queue
        cause = "eof"
        events: list = []
        try:
            while not self._closing:
                conn.reading = True
                try:
                    async with asyncio.timeout(cfg.idle_timeout):
                        data = await reader.read(cfg.read_size)
                except TimeoutError:
                    cause = "idle"
                    break
                finally:
                    conn.reading = False
                if not data:
                    events = conn.decoder.close()  # a packet cut short by the peer closing: archived
                    break
                m.bytes_received.inc(len(data))
                events = conn.decoder.feed(data)
                if events:
                    now = timezone.now()
                    t0 = time.monotonic()
                    for ev in events:
                        conn.pending += 1
                        if queue.full():
                            await queue.put((conn, now, ev, t0))  # backpressure: stop reading meanwhile
                        else:
                            queue.put_nowait((conn, now, ev, t0))
                    events = []
        except asyncio.CancelledError:
            cause = "shutdown"
            events = []
        except (ConnectionError, OSError):
            cause = "error"
            events = []
        finally:
            conn.reader_done = True
        if events and not self._closing:
            now = timezone.now()
            t0 = time.monotonic()
            for ev in events:
                conn.pending += 1
                await queue.put((conn, now, ev, t0))
        if conn.pending == 0:
            self._close(conn, cause)
        # otherwise the connection is closed once its last reply is written (_run_batch)

    def _close(self, conn: _Conn, cause: str) -> None:
        if conn.closed:
            return
        conn.closed = True
        self._conns.pop(conn.id, None)
        self.metrics.connections_closed.inc(label=cause)
        with contextlib.suppress(Exception):
            conn.writer.close()

    # -- the writer -----------------------------------------------------------------------------

    async def _batch_loop(self) -> None:
        cfg = self.config
        q = self._queue
        loop = asyncio.get_running_loop()
        stop = False
        while not stop:
            first = await q.get()
            if first is _STOP:
                break
            batch = [first]
            deadline = loop.time() + cfg.max_wait
            while len(batch) < cfg.max_batch:
                try:
                    item = q.get_nowait()
                except asyncio.QueueEmpty:
                    rest = deadline - loop.time()
                    if rest <= 0:
                        break
                    try:
                        async with asyncio.timeout(rest):
                            item = await q.get()
                    except TimeoutError:
                        break
                if item is _STOP:
                    stop = True
                    break
                batch.append(item)
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
                    if conn.closed or conn.writer.is_closing():
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
        for conn, replies in out_bytes.items():
            conn.writer.write(b"".join(replies))
            if conn.writer.transport.get_write_buffer_size() > self.config.write_buffer_limit:
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
