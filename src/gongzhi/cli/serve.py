"""``gongzhi serve``: serve the platform with a production-grade WSGI server
(waitress, pure Python) on the embedded or the configured database."""

from __future__ import annotations


def register(subparsers) -> None:
    p = subparsers.add_parser("serve", help="serve the web platform")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--threads", type=int, default=8)
    p.add_argument("--no-migrate", action="store_true", help="do not apply pending migrations first")
    p.set_defaults(func=run)


def run(args) -> int:
    from gongzhi.cli import _django

    _django.setup()
    if not args.no_migrate:
        _django.migrate(verbosity=0)
    serve(host=args.host, port=args.port, threads=args.threads)
    return 0


def serve(*, host: str, port: int, threads: int = 8) -> None:
    """Collect static files into the data dir and serve until interrupted."""
    from django.conf import settings
    from django.core.management import call_command

    call_command("collectstatic", interactive=False, verbosity=0)
    import waitress

    from gongzhi.wsgi import application

    print(f"gongzhi: serving http://{host}:{port}/ (data dir {settings.DATA_DIR}, database {settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]})", flush=True)
    waitress.serve(application, host=host, port=port, threads=threads, ident="gongzhi")
