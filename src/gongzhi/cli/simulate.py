"""``gongzhi simulate``: virtual HJ 212 loggers for the demo devices, or a back-fill of history.

* live (default): one TCP connection per enabled device to the gateway, HJ 212-2017 real-time,
  minute and hourly uploads with acknowledgement and resend (docs/simulator.md);
* ``--backfill DAYS``: hourly history of every enabled device straight into the store, then the
  aggregates (no TCP).
"""

from __future__ import annotations

import datetime as dt
import sys
import time


def register(subparsers) -> None:
    p = subparsers.add_parser("simulate", help="simulated loggers for the demo devices (live over HJ 212, or --backfill)")
    p.add_argument("--gateway", default="127.0.0.1:9212", help="HOST:PORT of the HJ 212 gateway (default 127.0.0.1:9212)")
    p.add_argument("--devices", default="all", help="how many devices (N, picked round-robin over the kinds) or 'all'")
    p.add_argument("--speed", type=float, default=1.0,
                   help="divide each device's real-time interval by this (timestamps stay on the real clock)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--fault-rate", type=float, default=0.01, help="random instrument faults per series per day")
    p.add_argument("--no-faults", action="store_true", help="no random faults, calibration or outages")
    p.add_argument("--duration", type=float, default=None, help="stop after this many seconds (default: run until Ctrl-C)")
    p.add_argument("--clock-offset", type=float, default=0.0,
                   help="start the loggers' clocks off by this many seconds (the gateway corrects them with 1012)")
    p.add_argument("--backfill", type=float, default=None, metavar="DAYS",
                   help="instead of running live: store DAYS days of hourly history and compute the aggregates")
    p.add_argument("--no-migrate", action="store_true", help="do not apply pending migrations first")
    p.set_defaults(func=run)


def _config(args, **extra):
    from gongzhi.simulator import SimConfig

    if args.no_faults:
        return SimConfig(seed=args.seed, fault_rate=0.0, offline_rate=0.0, maintenance=False, **extra)
    return SimConfig(seed=args.seed, fault_rate=args.fault_rate, **extra)


def _devices(value: str) -> int | None:
    if value == "all":
        return None
    n = int(value)
    if n < 1:
        raise SystemExit("--devices must be a positive number or 'all'")
    return n


def run(args) -> int:
    from gongzhi.cli import _django

    _django.setup()
    if not args.no_migrate:
        _django.migrate(verbosity=0)
    if args.backfill is not None:
        return run_backfill(days=args.backfill, config=_config(args), devices=_devices(args.devices))
    host, _, port = args.gateway.rpartition(":")
    return run_live(host=host or "127.0.0.1", port=int(port), devices=_devices(args.devices), speed=args.speed,
                    config=_config(args),
                    duration=args.duration, clock_offset=args.clock_offset)


def progress_printer(prefix: str = "gongzhi simulate"):
    """A progress callback printing one updating line per stage."""
    state = {"stage": None, "t": 0.0}

    def show(stage: str, frac: float) -> None:
        now = time.monotonic()
        if stage == state["stage"] and frac < 1.0 and now - state["t"] < 0.5:
            return
        if state["stage"] is not None and stage != state["stage"]:
            sys.stdout.write("\n")
        state.update(stage=stage, t=now)
        bar = "#" * int(30 * frac)
        label = {"write": "storing hourly values", "aggregates": "computing day/month aggregates"}.get(stage, stage)
        sys.stdout.write(f"\r{prefix}: {label:<32} [{bar:<30}] {frac:6.1%}")
        sys.stdout.flush()

    return show


def run_backfill(*, days: float, config=None, devices: int | None = None, prefix: str = "gongzhi simulate") -> int:
    from gongzhi.simulator.backfill import backfill, registry_specs
    from gongzhi.simulator.loggers import pick_devices

    mns = None
    if devices is not None:
        mns = {s.mn for s in pick_devices([s for s, _ in registry_specs()], devices)}
    t0 = time.perf_counter()
    report = backfill(days=days, config=config, mns=mns, progress=progress_printer(prefix))
    print()
    if report.end is not None and report.state:  # live loggers started next continue the values
        from django.conf import settings

        from gongzhi.simulator import SimConfig
        from gongzhi.simulator.loggers import save_state

        save_state(settings.DATA_DIR, end=report.end, seed=(config or SimConfig()).seed, state=report.state)
    if not report.devices:
        print(f"{prefix}: no enabled devices in the registry (load the demo region first: gongzhi demo --no-serve)")
        return 1
    print(f"{prefix}: back-filled {days:g} days in {time.perf_counter() - t0:.1f} s: {report}", flush=True)
    if report.skipped_codes:
        print(f"{prefix}: codes the catalog does not know (recorded as unknown): {', '.join(report.skipped_codes)}")
    return 0


def live_loggers(*, host: str, port: int, devices: int | None = None, speed: float = 1.0, config=None,
                 clock_offset: float = 0.0):
    """Virtual loggers for the enabled devices of the registry (the demo region's when it is empty)."""
    from gongzhi.demo.region import load_region
    from gongzhi.simulator import SimConfig, Simulator, specs_from_region
    from gongzhi.simulator.backfill import registry_specs
    from gongzhi.simulator.loggers import LiveSource, VirtualLogger, pick_devices

    import dataclasses

    now = dt.datetime.now(dt.timezone.utc)
    config = config or SimConfig()
    if config.demo_anchor is None:  # the demo episodes start ten minutes after the loggers, 90 minutes apart
        config = dataclasses.replace(config, demo_anchor=now + dt.timedelta(minutes=10), demo_gap=dt.timedelta(minutes=90))
    region = load_region()
    specs = [s for s, _ in registry_specs(region=region)]
    if not specs:
        specs = specs_from_region(region)
    specs = pick_devices(specs, devices)
    sim = Simulator.from_region(region, config=config, specs=specs)
    if config.demo_episodes:
        for line in sim.demo_schedule(config.demo_anchor):
            print(f"gongzhi simulate: {line}", flush=True)
    from django.conf import settings

    from gongzhi.simulator.loggers import load_state

    source = LiveSource(sim, now, state=load_state(settings.DATA_DIR, start=now, seed=config.seed))
    return [VirtualLogger(s, source, host, port, speed=speed, seed=config.seed, clock_offset_s=clock_offset)
            for s in specs]


def run_live(*, host: str, port: int, devices: int | None = None, speed: float = 1.0, config=None,
             duration: float | None = None, clock_offset: float = 0.0) -> int:
    import asyncio
    import contextlib
    import signal

    from django.db import connections

    from gongzhi.simulator.loggers import run_loggers

    loggers = live_loggers(host=host, port=port, devices=devices, speed=speed, config=config, clock_offset=clock_offset)
    connections.close_all()  # the loggers never touch the database
    print(f"gongzhi simulate: {len(loggers)} virtual loggers → {host}:{port} (speed ×{speed:g}); Ctrl-C stops", flush=True)

    def report(lgs) -> None:
        tot = {f: sum(getattr(lg.stats, f) for lg in lgs) for f in ("sent", "acked", "resent", "gave_up", "connects")}
        connected = sum(1 for lg in lgs if lg._writer is not None)
        print(f"gongzhi simulate: {connected}/{len(lgs)} connected, {tot['sent']} sent, {tot['acked']} acknowledged, "
              f"{tot['resent']} resent, {tot['gave_up']} given up", flush=True)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, stop.set)
        if duration is not None:
            loop.call_later(duration, stop.set)
        await run_loggers(loggers, stop=stop, report_every=30.0, report=report)
        report(loggers)

    asyncio.run(main())
    print("gongzhi simulate: stopped", flush=True)
    return 0
