"""gongzhi.config: environment variables → runtime configuration (no Django involved)."""

from __future__ import annotations

import os
import stat
import sys
import threading
from pathlib import Path

import pytest

from gongzhi import config
from gongzhi.config import ConfigError, parse_database_url

# --- database URLs -------------------------------------------------------------------------------------


def test_sqlite_url_with_an_absolute_path(tmp_path):
    path = tmp_path / "gongzhi.sqlite3"
    cfg = parse_database_url(f"sqlite:///{path}")  # three slashes, then the absolute path's own slash
    assert cfg.vendor == "sqlite"
    assert cfg.name == str(path)
    django = cfg.django()
    assert django["ENGINE"] == "django.db.backends.sqlite3"
    assert django["NAME"] == str(path)
    assert "journal_mode=WAL" in django["OPTIONS"]["init_command"]
    assert "foreign_keys=ON" in django["OPTIONS"]["init_command"]
    assert django["OPTIONS"]["transaction_mode"] == "IMMEDIATE"


@pytest.mark.parametrize("url", ["sqlite:///srv/gongzhi/db.sqlite3", "sqlite:////srv/gongzhi/db.sqlite3",
                                 "sqlite3:///srv/gongzhi/db.sqlite3"])
def test_sqlite_url_three_or_four_slashes_mean_the_same_absolute_path(url):
    assert parse_database_url(url).name == "/srv/gongzhi/db.sqlite3"


def test_sqlite_url_with_a_windows_drive():
    assert parse_database_url("sqlite:///C:/gongzhi/db.sqlite3").name == "C:/gongzhi/db.sqlite3"


def test_the_documented_examples_hold():
    import doctest

    result = doctest.testmod(config, verbose=False)
    assert result.attempted >= 2
    assert result.failed == 0


def test_sqlite_url_spaces_are_unquoted():
    assert parse_database_url("sqlite:////srv/gong%20zhi/db.sqlite3").name == "/srv/gong zhi/db.sqlite3"


@pytest.mark.parametrize("url", ["sqlite://var/gongzhi.sqlite3", "sqlite://gongzhi.sqlite3", "sqlite3://data/x.db"])
def test_sqlite_url_with_two_slashes_is_a_clear_error(url):
    with pytest.raises(ConfigError, match="three slashes"):
        parse_database_url(url)


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///", "sqlite:////"])
def test_sqlite_url_without_a_path_is_an_error(url):
    with pytest.raises(ConfigError, match="no file path"):
        parse_database_url(url)


def test_postgresql_url_with_credentials_port_and_options():
    cfg = parse_database_url(
        "postgresql://gong%40zhi:p%2Fss%3Aw0rd@db.example.org:6543/gongzhi_prod?sslmode=require&connect_timeout=5"
    )
    assert cfg.vendor == "postgresql"
    assert (cfg.user, cfg.password, cfg.host, cfg.port, cfg.name) == (
        "gong@zhi", "p/ss:w0rd", "db.example.org", "6543", "gongzhi_prod"
    )
    assert cfg.options == (("sslmode", "require"), ("connect_timeout", "5"))
    django = cfg.django()
    assert django["ENGINE"] == "django.db.backends.postgresql"
    assert django["OPTIONS"] == {"sslmode": "require", "connect_timeout": "5"}
    assert (django["USER"], django["PASSWORD"], django["HOST"], django["PORT"]) == (
        "gong@zhi", "p/ss:w0rd", "db.example.org", "6543"
    )


@pytest.mark.parametrize("scheme", ["postgres", "postgresql", "pgsql", "PostgreSQL"])
def test_postgresql_scheme_spellings(scheme):
    cfg = parse_database_url(f"{scheme}://postgres@127.0.0.1/gongzhi")
    assert (cfg.vendor, cfg.user, cfg.password, cfg.host, cfg.port, cfg.name) == (
        "postgresql", "postgres", "", "127.0.0.1", "", "gongzhi"
    )


def test_postgresql_url_with_an_ipv6_host():
    cfg = parse_database_url("postgresql://u@[::1]:5432/gongzhi")
    assert (cfg.host, cfg.port) == ("::1", "5432")


@pytest.mark.parametrize("url", ["postgresql://u@localhost:5432/", "postgresql://u@localhost"])
def test_postgresql_url_without_a_database_is_an_error(url):
    with pytest.raises(ConfigError, match="names no database"):
        parse_database_url(url)


@pytest.mark.parametrize("url", ["postgresql://u@localhost:port/gongzhi", "postgresql://u@localhost:99999/gongzhi"])
def test_postgresql_url_with_a_bad_port_is_a_config_error(url):
    with pytest.raises(ConfigError, match="port"):
        parse_database_url(url)


@pytest.mark.parametrize("url", ["mysql://root@localhost/gongzhi", "gongzhi.sqlite3", "/var/gongzhi.sqlite3", ""])
def test_unknown_scheme_is_an_error(url):
    with pytest.raises(ConfigError, match="unsupported database URL scheme"):
        parse_database_url(url)


def test_database_defaults_to_sqlite_in_the_data_dir(tmp_path):
    cfg = config.database({"GONGZHI_DATA_DIR": str(tmp_path)})
    assert cfg.vendor == "sqlite"
    assert cfg.name == str(tmp_path.resolve() / "gongzhi.sqlite3")


def test_database_url_from_the_environment_wins(tmp_path):
    env = {"GONGZHI_DATA_DIR": str(tmp_path), "GONGZHI_DATABASE_URL": "  postgresql://postgres@127.0.0.1:5432/g  "}
    assert config.database(env).name == "g"
    assert config.database({**env, "GONGZHI_DATABASE_URL": "   "}).vendor == "sqlite"


def test_data_dir_default_and_home_expansion(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert config.data_dir({}) == (tmp_path / "var").resolve()
    monkeypatch.setenv("HOME", str(tmp_path))
    assert config.data_dir({"GONGZHI_DATA_DIR": "~/gz"}) == (tmp_path / "gz").resolve()


# --- environment ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "production"),
        ({"GONGZHI_ENV": ""}, "production"),
        ({"PYTEST_VERSION": "8.3.0"}, "test"),
        ({"GONGZHI_ENV": "production", "PYTEST_VERSION": "8.3.0"}, "production"),
        ({"GONGZHI_ENV": "demo"}, "demo"),
        ({"GONGZHI_ENV": " Development\n"}, "development"),
        ({"GONGZHI_ENV": "TEST"}, "test"),
    ],
)
def test_environment_detection(env, expected):
    assert config.environment(env) == expected


@pytest.mark.parametrize("value", ["prod", "staging", "dev"])
def test_invalid_environment_is_refused(value):
    with pytest.raises(ConfigError, match="GONGZHI_ENV"):
        config.environment({"GONGZHI_ENV": value})


# --- secret key ----------------------------------------------------------------------------------------

GOOD_KEY = "k" * 32


@pytest.mark.parametrize("env", [{}, {"GONGZHI_SECRET_KEY": ""}, {"GONGZHI_SECRET_KEY": "   "}])
def test_production_refuses_to_run_without_a_secret_key(env, tmp_path):
    env = {**env, "GONGZHI_DATA_DIR": str(tmp_path)}
    with pytest.raises(ConfigError, match="GONGZHI_SECRET_KEY is not set"):
        config.secret_key(env, mode="production")
    with pytest.raises(ConfigError):
        config.secret_key({**env, "GONGZHI_ENV": "production"})  # mode from the environment
    assert list(tmp_path.iterdir()) == []  # nothing generated behind the operator's back


def test_production_refuses_a_short_secret_key():
    with pytest.raises(ConfigError, match="at least 32"):
        config.secret_key({"GONGZHI_SECRET_KEY": "k" * 31}, mode="production")


def test_production_takes_a_long_secret_key():
    assert config.secret_key({"GONGZHI_SECRET_KEY": f"  {GOOD_KEY}  "}, mode="production") == GOOD_KEY


def test_a_short_key_is_accepted_outside_production():
    assert config.secret_key({"GONGZHI_SECRET_KEY": "short"}, mode="development") == "short"


def test_test_mode_uses_a_fixed_key_and_writes_nothing(tmp_path):
    key = config.secret_key({"GONGZHI_DATA_DIR": str(tmp_path)}, mode="test")
    assert len(key) >= 32
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("mode", ["demo", "development"])
def test_demo_generates_and_keeps_a_private_key_in_the_data_dir(tmp_path, mode):
    data = tmp_path / "not" / "yet"
    env = {"GONGZHI_DATA_DIR": str(data), "GONGZHI_ENV": mode}
    key = config.secret_key(env)
    path = data / "secret_key"
    assert path.read_text() == key
    assert len(key) >= 50
    if sys.platform != "win32":
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert config.secret_key(env) == key  # kept, not regenerated
    assert config.secret_key({"GONGZHI_DATA_DIR": str(tmp_path / "other"), "GONGZHI_ENV": mode}) != key
    assert [p.name for p in data.iterdir()] == ["secret_key"]  # no stray temporary files


def test_the_key_file_is_private_even_with_a_permissive_umask(tmp_path):
    old = os.umask(0)
    try:
        config.secret_key({"GONGZHI_DATA_DIR": str(tmp_path)}, mode="demo")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "secret_key").stat().st_mode) == 0o600


def test_an_empty_key_file_is_refused(tmp_path):
    (tmp_path / "secret_key").write_text("\n")
    with pytest.raises(ConfigError, match="secret_key"):
        config.secret_key({"GONGZHI_DATA_DIR": str(tmp_path)}, mode="demo")


def test_processes_starting_together_agree_on_one_key(tmp_path):
    """`gongzhi demo` may start the web server and the gateway at once: every process must get
    the same key and none may fail because another created the file first."""
    env = {"GONGZHI_DATA_DIR": str(tmp_path)}
    keys, errors = [], []
    barrier = threading.Barrier(8)

    def start():
        barrier.wait()
        try:
            keys.append(config.secret_key(env, mode="demo"))
        except Exception as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(set(keys)) == 1 and len(keys) == 8
    assert Path(tmp_path / "secret_key").read_text() == keys[0]
