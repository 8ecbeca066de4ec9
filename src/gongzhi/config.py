"""Runtime configuration read from environment variables.

Kept apart from ``settings.py`` so the CLI can resolve paths and the database
before Django starts, and so the rules are testable without Django.

Variables:

``GONGZHI_ENV``
    ``demo``, ``development``, ``test`` or ``production`` (default ``production``;
    ``test`` when running under pytest, ``demo`` when started by ``gongzhi demo``).
``GONGZHI_DATA_DIR``
    Where the embedded database, the raw packet archive and uploads live
    (default ``./var``).
``GONGZHI_DATABASE_URL``
    ``sqlite:///absolute/path.sqlite3`` or ``postgresql://user:pass@host:port/db``.
    Unset: the embedded SQLite database ``<data dir>/gongzhi.sqlite3`` in WAL mode.
``GONGZHI_SECRET_KEY``
    Required in production. In demo, development and test modes a random key is
    generated once and kept in ``<data dir>/secret_key`` (mode 0600).
``GONGZHI_ALLOWED_HOSTS``
    Comma-separated host names (default ``127.0.0.1,localhost``).
``GONGZHI_NOTIFICATION_CHANNELS``
    Comma-separated dotted paths of notification channel classes (default: in-app, email,
    webhook; docs/notifications.md).
``GONGZHI_EMAIL_HOST``, ``_PORT``, ``_USER``, ``_PASSWORD``, ``_USE_TLS``, ``_USE_SSL``, ``_FROM``, ``_TIMEOUT``
    The SMTP server notifications are sent through. Unset host: demo and development write
    each email to ``<data dir>/mail/`` instead; production sends to ``localhost:25``.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

ENVIRONMENTS = ("demo", "development", "test", "production")


class ConfigError(Exception):
    """A configuration value is missing or wrong; the message says which and how to fix it."""


def environment(env: dict | None = None) -> str:
    env = os.environ if env is None else env
    value = env.get("GONGZHI_ENV")
    if not value:
        value = "test" if env.get("PYTEST_VERSION") else "production"
    value = value.strip().lower()
    if value not in ENVIRONMENTS:
        raise ConfigError(f"GONGZHI_ENV={value!r} is not one of {', '.join(ENVIRONMENTS)}")
    return value


def data_dir(env: dict | None = None) -> Path:
    env = os.environ if env is None else env
    return Path(env.get("GONGZHI_DATA_DIR") or "var").expanduser().resolve()


@dataclass(frozen=True)
class DatabaseConfig:
    vendor: str  # "sqlite" or "postgresql"
    name: str
    user: str = ""
    password: str = ""
    host: str = ""
    port: str = ""
    options: tuple[tuple[str, str], ...] = ()

    def django(self) -> dict:
        if self.vendor == "sqlite":
            return {
                "ENGINE": "django.db.backends.sqlite3",
                "NAME": self.name,
                "OPTIONS": {
                    # WAL lets readers work while the single writer commits;
                    # IMMEDIATE transactions avoid "database is locked" upgrades.
                    "transaction_mode": "IMMEDIATE",
                    "timeout": 20,
                    "init_command": (
                        "PRAGMA journal_mode=WAL;"
                        "PRAGMA synchronous=NORMAL;"
                        "PRAGMA foreign_keys=ON;"
                        "PRAGMA busy_timeout=20000;"
                    ),
                },
                "TEST": {"NAME": None},
            }
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": self.name,
            "USER": self.user,
            "PASSWORD": self.password,
            "HOST": self.host,
            "PORT": self.port,
            "OPTIONS": dict(self.options),
            "CONN_MAX_AGE": 60,
            "CONN_HEALTH_CHECKS": True,
        }


def parse_database_url(url: str) -> DatabaseConfig:
    """Parse ``GONGZHI_DATABASE_URL``.

    >>> parse_database_url("postgresql://u:p@127.0.0.1:5432/gongzhi").host
    '127.0.0.1'
    >>> parse_database_url("sqlite:////tmp/x.sqlite3").name
    '/tmp/x.sqlite3'
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme in ("sqlite", "sqlite3"):
        path = unquote(parts.path)
        if parts.netloc:  # sqlite://relative/path is a common typo
            raise ConfigError(f"sqlite URL needs three slashes and an absolute path: {url!r}")
        if not path.strip("/"):
            raise ConfigError(f"sqlite URL has no file path: {url!r}")
        # sqlite:///srv/x.sqlite3 and sqlite:////srv/x.sqlite3 both mean /srv/x.sqlite3
        # (urlsplit keeps the extra slash of the second spelling: "//srv/...").
        path = "/" + path.lstrip("/")
        if len(path) > 2 and path[2] == ":" and path[1].isalpha():  # sqlite:///C:/data/x.sqlite3
            path = path[1:]
        return DatabaseConfig(vendor="sqlite", name=path)
    if scheme in ("postgres", "postgresql", "pgsql"):
        name = unquote(parts.path.lstrip("/"))
        if not name:
            raise ConfigError(f"PostgreSQL URL names no database: {url!r}")
        try:
            port = parts.port
        except ValueError:
            raise ConfigError(f"PostgreSQL URL has an invalid port (a number 1–65535 is needed): {url!r}") from None
        return DatabaseConfig(
            vendor="postgresql",
            name=name,
            user=unquote(parts.username or ""),
            password=unquote(parts.password or ""),
            host=parts.hostname or "",
            port=str(port or ""),
            options=tuple(parse_qsl(parts.query)),
        )
    raise ConfigError(
        f"unsupported database URL scheme {parts.scheme!r}: use sqlite:///path or postgresql://…"
    )


def database(env: dict | None = None) -> DatabaseConfig:
    env = os.environ if env is None else env
    url = env.get("GONGZHI_DATABASE_URL", "").strip()
    if url:
        return parse_database_url(url)
    return DatabaseConfig(vendor="sqlite", name=str(data_dir(env) / "gongzhi.sqlite3"))


def secret_key(env: dict | None = None, *, mode: str | None = None) -> str:
    """The secret key; refuses to run production without one."""
    env = os.environ if env is None else env
    mode = mode or environment(env)
    key = env.get("GONGZHI_SECRET_KEY", "").strip()
    if key:
        if mode == "production" and len(key) < 32:
            raise ConfigError("GONGZHI_SECRET_KEY must be at least 32 characters in production")
        return key
    if mode == "production":
        raise ConfigError(
            "GONGZHI_SECRET_KEY is not set. Production refuses a default secret: set it to a random "
            "string of 50 characters (python -c 'import secrets; print(secrets.token_urlsafe(50))'), "
            "or run `gongzhi demo` for the demonstration mode."
        )
    if mode == "test":
        return "test-only-" + "x" * 40
    path = data_dir(env) / "secret_key"
    if not path.exists():
        _create_key_file(path)
    key = path.read_text().strip()
    if not key:
        raise ConfigError(f"{path} is empty: delete it and a new secret key will be generated")
    return key


def _create_key_file(path: Path) -> None:
    """Write a new random key to ``path`` (mode 0600) unless another process got there first.

    The key is written to a private temporary file that is then hard-linked into
    place, so ``path`` never exists half-written and concurrent starters (web
    server, gateway) all end up reading the same key."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(50))
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass  # another process created it first: use theirs
    finally:
        tmp.unlink(missing_ok=True)


DEFAULT_NOTIFICATION_CHANNELS = (
    "gongzhi.notifications.channels.inapp.InAppChannel",
    "gongzhi.notifications.channels.email.EmailChannel",
    "gongzhi.notifications.channels.webhook.WebhookChannel",
)


def notification_channels(env: dict | None = None) -> list[str]:
    env = os.environ if env is None else env
    raw = env.get("GONGZHI_NOTIFICATION_CHANNELS", "").strip()
    if not raw:
        return list(DEFAULT_NOTIFICATION_CHANNELS)
    return [p.strip() for p in raw.split(",") if p.strip()]


def _flag(env: dict, name: str, default: bool = False) -> bool:
    value = env.get(name, "").strip().lower()
    if not value:
        return default
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name}={value!r}: use 1 or 0")


@dataclass(frozen=True)
class EmailConfig:
    backend: str
    host: str = "localhost"
    port: int = 25
    user: str = ""
    password: str = ""
    use_tls: bool = False
    use_ssl: bool = False
    timeout: float = 10.0
    from_address: str = "gongzhi@localhost"
    file_path: Path = Path("var/mail")


def email(env: dict | None = None, *, mode: str | None = None, root: Path | None = None) -> EmailConfig:
    """SMTP settings for the email notification channel."""
    env = os.environ if env is None else env
    mode = mode or environment(env)
    folder = (root or data_dir(env)) / "mail"
    host = env.get("GONGZHI_EMAIL_HOST", "").strip()
    use_tls = _flag(env, "GONGZHI_EMAIL_USE_TLS")
    use_ssl = _flag(env, "GONGZHI_EMAIL_USE_SSL")
    if use_tls and use_ssl:
        raise ConfigError("GONGZHI_EMAIL_USE_TLS and GONGZHI_EMAIL_USE_SSL exclude each other: set one")
    port_raw = env.get("GONGZHI_EMAIL_PORT", "").strip()
    try:
        port = int(port_raw) if port_raw else (465 if use_ssl else 587 if use_tls else 25)
        timeout = float(env.get("GONGZHI_EMAIL_TIMEOUT", "").strip() or 10)
    except ValueError as exc:
        raise ConfigError(f"GONGZHI_EMAIL_PORT/GONGZHI_EMAIL_TIMEOUT must be numbers: {exc}") from None
    backend = env.get("GONGZHI_EMAIL_BACKEND", "").strip()
    if not backend:
        if host or mode == "production":
            backend = "django.core.mail.backends.smtp.EmailBackend"
        elif mode == "test":
            backend = "django.core.mail.backends.locmem.EmailBackend"
        else:
            backend = "django.core.mail.backends.filebased.EmailBackend"
    return EmailConfig(
        backend=backend, host=host or "localhost", port=port,
        user=env.get("GONGZHI_EMAIL_USER", ""), password=env.get("GONGZHI_EMAIL_PASSWORD", ""),
        use_tls=use_tls, use_ssl=use_ssl, timeout=timeout,
        from_address=env.get("GONGZHI_EMAIL_FROM", "").strip() or "gongzhi@localhost", file_path=folder,
    )
