"""``gongzhi gateway``: the HJ 212 TCP gateway (see docs/ingest.md)."""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    p = subparsers.add_parser("gateway", help="receive HJ 212 data from loggers over TCP")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1; 0.0.0.0 for all)")
    p.add_argument("--port", type=int, default=9212, help="HJ 212 port (default 9212; 0 = any free port)")
    p.add_argument("--metrics-host", default="127.0.0.1")
    p.add_argument("--metrics-port", type=int, default=9213,
                   help="Prometheus /metrics port (default 9213; 0 = any free port; -1 = none)")
    p.add_argument("--workers", type=int, default=None,
                   help="gateway processes sharing the port (SO_REUSEPORT); default: 1 on SQLite, "
                        "the number of CPUs otherwise")
    p.add_argument("--max-connections", type=int, default=10000, help="per worker process")
    p.add_argument("--idle-timeout", type=float, default=300.0, help="seconds without data before a connection is closed")
    p.add_argument("--max-batch", type=int, default=500, help="items per transaction (group commit)")
    p.add_argument("--max-wait-ms", type=float, default=0.0, help="longest wait to fill a batch (0: a batch is what arrived while the writer was busy)")
    p.add_argument("--queue-size", type=int, default=20000, help="items between readers and the writer (backpressure)")
    p.add_argument("--strict", action="store_true", help="reject every deviation from HJ 212-2017")
    p.add_argument("--no-migrate", action="store_true", help="do not apply pending migrations first")
    # internal: how the supervisor of --workers N starts each worker
    p.add_argument("--worker-index", type=int, default=None, help=argparse.SUPPRESS)
    p.add_argument("--reuse-port", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--listen-fd", type=int, default=None, help=argparse.SUPPRESS)
    p.set_defaults(func=run)


def _worker_args(args) -> list[str]:
    """The options every worker process gets from the supervisor's command line."""
    out = ["--max-connections", str(args.max_connections), "--idle-timeout", str(args.idle_timeout),
           "--max-batch", str(args.max_batch), "--max-wait-ms", str(args.max_wait_ms),
           "--queue-size", str(args.queue_size)]
    if args.strict:
        out.append("--strict")
    return out


def run(args) -> int:
    import asyncio
    import logging
    import sys

    from gongzhi.cli import _django

    _django.setup()
    if not args.no_migrate:
        _django.migrate(verbosity=0)
    from django.conf import settings
    from django.db import connections

    from gongzhi.ingest.gateway import GatewayConfig, run_gateway
    from gongzhi.ingest.workers import Supervisor, default_workers, run_supervisor

    logging.getLogger("gongzhi").setLevel(logging.INFO)
    engine = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    workers = args.workers if args.workers is not None else default_workers(engine)
    if workers < 1:
        print("gongzhi gateway: --workers must be at least 1", flush=True)
        return 2
    sock = None
    if args.listen_fd is not None:
        import socket

        sock = socket.socket(fileno=args.listen_fd)
    config = GatewayConfig(
        host=args.host, port=args.port, metrics_host=args.metrics_host,
        metrics_port=None if args.metrics_port < 0 else args.metrics_port,
        max_connections=args.max_connections, idle_timeout=args.idle_timeout, max_batch=args.max_batch,
        max_wait=args.max_wait_ms / 1000.0, queue_size=args.queue_size,
        decoder_mode="strict" if args.strict else "tolerant", reuse_port=args.reuse_port, sock=sock,
    )
    if workers > 1:
        connections.close_all()  # the supervisor needs no database; each worker opens its own

        def ready_sup(sup) -> None:
            metrics = f", metrics on http://{config.metrics_host}:{sup.metrics_port}/metrics" if sup.metrics_port else ""
            print(f"gongzhi gateway: listening on {config.host}:{sup.port}{metrics} (database {engine}, "
                  f"{workers} workers)", flush=True)

        asyncio.run(run_supervisor(Supervisor(config, workers, _worker_args(args)), ready=ready_sup))
        print("gongzhi gateway: stopped", flush=True)
        return 0

    def ready(gw) -> None:
        metrics = f", metrics on http://{config.metrics_host}:{gw.metrics_port}/metrics" if gw.metrics_port else ""
        who = f", worker {args.worker_index}" if args.worker_index is not None else ""
        print(f"gongzhi gateway: listening on {config.host}:{gw.port}{metrics} (database {engine}{who})", flush=True)

    parent_fd = sys.stdin.fileno() if args.worker_index is not None else None
    asyncio.run(run_gateway(config, ready=ready, parent_fd=parent_fd))
    print("gongzhi gateway: stopped", flush=True)
    return 0
