"""Prometheus text exposition (format 0.0.4) for the gateway, with no dependency.

The gateway updates these from its event loop only (the writer thread returns
its timings with the outcomes), so no locks are needed.  prometheus-client
would work too, but the gateway needs five metric shapes and a 30-line HTTP
responder; not adding a dependency keeps offline installs simple.
"""

from __future__ import annotations

import asyncio
import math
from bisect import bisect_left
from typing import Awaitable, Callable


def _fmt(v: float) -> str:
    if v == math.inf:
        return "+Inf"
    if float(v).is_integer():
        return str(int(v))
    return repr(float(v))


def _labels(labels: dict[str, str]) -> str:
    if not labels:
        return ""
    inner = ",".join(f'{k}="{str(v).replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"'
                     for k, v in sorted(labels.items()))
    return "{" + inner + "}"


class Counter:
    def __init__(self, name: str, help: str, label: str | None = None) -> None:
        self.name, self.help, self.label = name, help, label
        self.values: dict[str, float] = {}
        if label is None:
            self.values[""] = 0.0

    def inc(self, amount: float = 1.0, label: str = "") -> None:
        self.values[label] = self.values.get(label, 0.0) + amount

    def get(self, label: str = "") -> float:
        return self.values.get(label, 0.0)

    def render(self) -> list[str]:
        out = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} counter"]
        for label, v in sorted(self.values.items()):
            lab = _labels({self.label: label}) if self.label else ""
            out.append(f"{self.name}{lab} {_fmt(v)}")
        return out


class Gauge:
    def __init__(self, name: str, help: str, fn: Callable[[], float] | None = None) -> None:
        self.name, self.help, self.fn = name, help, fn
        self.value = 0.0

    def set(self, v: float) -> None:
        self.value = v

    def render(self) -> list[str]:
        v = self.fn() if self.fn is not None else self.value
        return [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} gauge", f"{self.name} {_fmt(v)}"]


class Histogram:
    def __init__(self, name: str, help: str, buckets: tuple[float, ...]) -> None:
        self.name, self.help = name, help
        self.buckets = tuple(sorted(buckets))
        self.counts = [0] * (len(self.buckets) + 1)
        self.sum = 0.0
        self.count = 0

    def observe(self, v: float) -> None:
        self.counts[bisect_left(self.buckets, v)] += 1
        self.sum += v
        self.count += 1

    def render(self) -> list[str]:
        out = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} histogram"]
        acc = 0
        for b, c in zip(self.buckets, self.counts):
            acc += c
            out.append(f'{self.name}_bucket{{le="{_fmt(b)}"}} {acc}')
        out.append(f'{self.name}_bucket{{le="+Inf"}} {self.count}')
        out.append(f"{self.name}_sum {_fmt(self.sum)}")
        out.append(f"{self.name}_count {self.count}")
        return out


class GatewayMetrics:
    def __init__(self, queue_depth: Callable[[], float], connections: Callable[[], float]) -> None:
        p = "gongzhi_gateway_"
        self.connections = Gauge(p + "connections", "Open device connections.", connections)
        self.connections_total = Counter(p + "connections_total", "Device connections accepted.")
        self.connections_refused = Counter(p + "connections_refused_total", "Connections closed at once: limit reached or shutting down.")
        self.connections_closed = Counter(p + "connections_closed_total", "Connections closed, by cause.", "cause")
        self.bytes_received = Counter(p + "bytes_received_total", "Bytes received from devices.")
        self.packets = Counter(p + "packets_total", "Packets (and framing errors) processed, by verdict.", "verdict")
        self.errors = Counter(p + "errors_total", "Packets not accepted, by reason code.", "reason")
        self.values_stored = Counter(p + "values_stored_total", "Observation values stored.")
        self.values_duplicate = Counter(p + "values_duplicate_total", "Values received again and not stored twice.")
        self.unknown_codes = Counter(p + "unknown_codes_total", "Factor values with a code the catalog does not know.")
        self.replies = Counter(p + "replies_total", "Reply packets sent (9014, 9011, 1012).")
        self.replies_dropped = Counter(p + "replies_dropped_total", "Replies not sent: the connection had closed.")
        self.batch_failures = Counter(p + "batch_failures_total", "Batches whose processing raised (items not acknowledged).")
        self.queue_depth = Gauge(p + "queue_depth", "Items waiting for the writer.", queue_depth)
        self.batch_size = Histogram(p + "batch_size", "Items per committed batch.",
                                    (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000))
        self.commit_seconds = Histogram(p + "commit_seconds", "Time to process and commit one batch.",
                                        (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5))
        self.ack_seconds = Histogram(p + "ack_seconds", "From the read that completed a packet to its reply being written.",
                                     (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1, 2.5, 5))

    def all(self):
        return [v for v in vars(self).values() if hasattr(v, "render")]

    def render(self) -> str:
        lines: list[str] = []
        for m in self.all():
            lines.extend(m.render())
        return "\n".join(lines) + "\n"


async def answer_metrics_request(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, render: Callable[[], Awaitable[str]]
) -> None:
    """Answer one HTTP/1.0 request: GET or HEAD /metrics → the text exposition from
    ``render``, anything else 404. Used by a single gateway and by the worker supervisor."""
    try:
        async with asyncio.timeout(5):
            head = await reader.readuntil(b"\r\n\r\n")
        parts = head.split(b"\r\n", 1)[0].split()
        path = parts[1].split(b"?", 1)[0] if len(parts) >= 2 else b""
        if len(parts) >= 2 and parts[0] in (b"GET", b"HEAD") and path == b"/metrics":
            body = (await render()).encode()
            status, ctype = b"200 OK", b"text/plain; version=0.0.4; charset=utf-8"
        else:
            body, status, ctype = b"not found: try /metrics\n", b"404 Not Found", b"text/plain"
        writer.write(b"HTTP/1.0 " + status + b"\r\nContent-Type: " + ctype
                     + b"\r\nContent-Length: " + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n")
        if parts[0] != b"HEAD":
            writer.write(body)
        await writer.drain()
    except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError, IndexError):
        pass
    finally:
        writer.close()


async def serve_metrics(metrics: GatewayMetrics, host: str, port: int) -> asyncio.base_events.Server:
    """A minimal HTTP/1.0 responder: GET /metrics -> text exposition, anything else 404."""

    async def render() -> str:
        return metrics.render()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await answer_metrics_request(reader, writer, render)

    return await asyncio.start_server(handle, host, port)
