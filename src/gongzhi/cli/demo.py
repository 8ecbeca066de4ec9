"""``gongzhi demo``: a running platform for the demo region in one command.

Creates the data dir, migrates the embedded database (or the one in
``GONGZHI_DATABASE_URL``), loads the demo region on first run, prints the demo
users with their passwords and serves the platform."""

from __future__ import annotations

from pathlib import Path


def register(subparsers) -> None:
    p = subparsers.add_parser("demo", help="set up and serve the demo region (嘉定、青浦、昆山、太仓、吴江、嘉善)")
    p.add_argument("--data-dir", default="var/demo", help="where the database and files live (default var/demo)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--no-serve", action="store_true", help="set up and load, then exit")
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
    _print_users(data_dir)
    if args.no_serve:
        return 0
    from gongzhi.cli.serve import serve

    serve(host=args.host, port=args.port)
    return 0


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
