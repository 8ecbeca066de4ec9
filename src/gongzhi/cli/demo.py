"""``gongzhi demo``: a running platform for the demo region in one command.

Creates the data dir, migrates the embedded database (or the one in
``GONGZHI_DATABASE_URL``), loads the demo region on first run, back-fills a year of
simulated history (first run; ``--no-history`` skips it), prints the demo users with
their passwords and serves the platform together with the HJ 212 gateway and the live
simulated loggers (docs/simulator.md). Ctrl-C stops everything."""

from __future__ import annotations

import time
from pathlib import Path


def register(subparsers) -> None:
    p = subparsers.add_parser("demo", help="set up and serve the demo region (嘉定、青浦、昆山、太仓、吴江、嘉善)")
    p.add_argument("--data-dir", default="var/demo", help="where the database and files live (default var/demo)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--no-serve", action="store_true", help="set up and load, then exit")
    p.add_argument("--no-history", action="store_true", help="do not back-fill simulated history on first run")
    p.add_argument("--history-days", type=float, default=365, help="days of history to back-fill (default 365)")
    p.add_argument("--gateway-port", type=int, default=9212, help="HJ 212 gateway port (default 9212; -1 = no gateway)")
    p.add_argument("--metrics-port", type=int, default=9213, help="gateway metrics port (default 9213)")
    p.add_argument("--no-simulate", action="store_true", help="do not run the live simulated loggers")
    p.add_argument("--speed", type=float, default=1.0, help="live loggers: divide real-time intervals by this")
    p.set_defaults(func=run)


def run(args) -> int:
    data_dir = Path(args.data_dir).expanduser().resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    from gongzhi.cli import _django

    _django.setup(env="demo", data_dir=str(data_dir))
    print(f"gongzhi demo: data dir {data_dir}", flush=True)
    _django.migrate(verbosity=0)
    print("gongzhi demo: database schema is up to date", flush=True)

    from gongzhi.demo.loader import load_demo_region

    report = load_demo_region(data_dir=data_dir)
    if report.skipped:
        print("gongzhi demo: the demo region is already loaded", flush=True)
    else:
        print("gongzhi demo: loaded the demo region: " + ", ".join(f"{n} {k}" for k, n in report.counts.items()))
    _ensure_superuser(data_dir)
    if not args.no_history:
        _backfill_history(args.history_days)
    from gongzhi.alerts.services import seed_demo_rules

    made = seed_demo_rules()  # after the history: old values never raise alarms anyway
    if made:
        print(f"gongzhi demo: {made} default alarm rules created (admin: 告警规则)", flush=True)
    _print_users(data_dir)
    if args.no_serve:
        return 0
    _start_alerts_timer()
    from gongzhi.cli.serve import serve

    gateway = simulator = None
    from gongzhi.notifications.services import start_dispatcher_thread

    _notifier, notifier_stop = start_dispatcher_thread()  # email, webhooks, gateways (docs/notifications.md)
    try:
        if args.gateway_port >= 0:
            gateway = _start_gateway(args.host, args.gateway_port, args.metrics_port)
        if gateway is not None and not args.no_simulate:
            simulator = _start_simulator(args.host, gateway.port, args.speed)
        if gateway is not None:
            metrics = f", metrics http://{args.host}:{gateway.metrics_port}/metrics" if gateway.metrics_port else ""
            print(f"gongzhi demo: HJ 212 gateway {args.host}:{gateway.port}{metrics}", flush=True)
        if simulator is not None:
            print(f"gongzhi demo: {len(simulator.loggers)} simulated loggers sending to the gateway", flush=True)
        print(f"gongzhi demo: web http://{args.host}:{args.port}/ (Ctrl-C stops everything)", flush=True)
        serve(host=args.host, port=args.port)
    except KeyboardInterrupt:
        pass
    finally:
        notifier_stop.set()
        if simulator is not None:
            simulator.stop()
        if gateway is not None:
            gateway.stop()
        print("gongzhi demo: stopped", flush=True)
    return 0


def _backfill_history(days: float) -> None:
    """First run only: a year (``days``) of simulated hourly history and its aggregates."""
    from gongzhi.simulator.backfill import history_exists

    if days <= 0 or history_exists():
        return
    from gongzhi.cli.simulate import run_backfill

    print(f"gongzhi demo: back-filling {days:g} days of simulated history (once; --no-history skips it)", flush=True)
    run_backfill(days=days, prefix="gongzhi demo")


class _GatewayThread:
    """The ingest gateway (gongzhi.ingest.gateway.Gateway) on its own event loop in a thread."""

    def __init__(self, host: str, port: int, metrics_port: int | None) -> None:
        import asyncio
        import threading

        from gongzhi.ingest.gateway import Gateway, GatewayConfig

        self.loop = asyncio.new_event_loop()
        self.gw = Gateway(GatewayConfig(host=host, port=port, metrics_host=host, metrics_port=metrics_port))
        self.error: BaseException | None = None
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(self.loop)
            try:
                self.loop.run_until_complete(self.gw.start())
            except BaseException as exc:  # reported by the caller
                self.error = exc
                ready.set()
                return
            ready.set()
            self.loop.run_until_complete(self.gw.wait_closed())

        self.thread = threading.Thread(target=run, name="gongzhi-gateway", daemon=True)
        self.thread.start()
        ready.wait(30)
        if self.error is not None:
            raise self.error

    @property
    def port(self) -> int:
        return self.gw.port

    @property
    def metrics_port(self) -> int | None:
        return self.gw.metrics_port

    def stop(self, timeout: float = 30.0) -> None:
        import asyncio

        if self.thread.is_alive():
            try:
                asyncio.run_coroutine_threadsafe(self.gw.shutdown(), self.loop).result(timeout)
            except Exception:  # a stuck shutdown must not keep the demo from exiting
                pass
            self.thread.join(timeout)


def _start_alerts_timer(every_s: float = 30.0):
    """The alarm timer (as ``gongzhi alerts tick --every 30``): catch-up, missing data, escalation;
    before each round, the aggregates of the hours that are over."""
    import threading

    from django.db import close_old_connections

    from gongzhi.alerts.evaluation import tick

    from gongzhi.observations.aggregates import recompute_settled

    def run() -> None:
        while True:
            time.sleep(every_s)
            try:
                close_old_connections()
                # hourly and daily means of the hours that are over (they reach the alarm rules on
                # aggregates, as `gongzhi observations aggregates --recompute --every 60` does)
                recompute_settled(limit=5000)
                tick()
            except Exception as exc:  # the timer never stops the demo
                print(f"gongzhi demo: alerts tick failed: {exc}", flush=True)

    t = threading.Thread(target=run, name="gongzhi-alerts-timer", daemon=True)
    t.start()
    return t


def _start_gateway(host: str, port: int, metrics_port: int) -> _GatewayThread | None:
    try:
        return _GatewayThread(host, port, None if metrics_port < 0 else metrics_port)
    except OSError as exc:
        print(f"gongzhi demo: the HJ 212 gateway could not start on {host}:{port} ({exc}); continuing without it",
              flush=True)
        return None


def _start_simulator(host: str, port: int, speed: float):
    from gongzhi.cli.simulate import live_loggers
    from gongzhi.simulator.loggers import LoggerThread

    return LoggerThread(live_loggers(host=host, port=port, speed=speed))


def _ensure_superuser(data_dir: Path) -> None:
    """A platform operator account ``admin`` for the demo (password in demo-users.txt)."""
    from gongzhi.accounts.models import User
    from gongzhi.demo.loader import _password

    if User.objects.filter(username="admin").exists():
        return
    pw = _password()
    User.objects.create_superuser(username="admin", password=pw, email="admin@example.org")
    path = data_dir / "demo-users.txt"
    with path.open("a", encoding="utf-8") as fh:
        fh.write(f"admin\t{pw}\t-\tsuperuser\n")


def _print_users(data_dir: Path) -> None:
    path = data_dir / "demo-users.txt"
    if not path.exists():
        return
    rows = [line.split("\t") for line in path.read_text(encoding="utf-8").splitlines() if line and not line.startswith("#")]
    print("\ngongzhi demo users (also in %s):" % path)
    for row in rows:
        print("  " + "  ".join(f"{c:<22}" for c in row))
    print()
