"""THE reliability test: `gongzhi gateway` killed with SIGKILL under load loses no acknowledged value
and stores no value twice — with one gateway process, and with two worker processes sharing the
port (``--workers 2``; the whole process group is killed).

The gateway runs as a subprocess on its own database: a file-based SQLite
database in a temporary directory, or (when the suite runs on PostgreSQL) a
scratch PostgreSQL database next to the test database.  Clients record every
QN that was acknowledged; the gateway is killed mid-load and restarted; the
clients resend every unacknowledged packet and some acknowledged ones.  Then
the store is read directly (sqlite3 / psycopg) and compared with what was sent.
"""

import asyncio
import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from gongzhi.config import database, parse_database_url
from gongzhi.ingest import loadgen

DEVICES = 16
PACKETS = 60  # per device
FACTORS = 4
KILL_AFTER = 250  # acknowledged packets before the SIGKILL


def _scratch_database(tmp_path: Path) -> tuple[str, callable]:
    """(URL, reader) of a fresh database for the subprocess, on the suite's database engine."""
    cfg = database()
    if cfg.vendor == "sqlite":
        path = tmp_path / "gateway.sqlite3"

        def query(sql):
            import sqlite3

            with sqlite3.connect(path) as c:
                return c.execute(sql).fetchall()

        return f"sqlite:///{path}", query
    import psycopg

    url = os.environ["GONGZHI_DATABASE_URL"]
    pg = parse_database_url(url)
    name = f"{pg.name}_reliability"
    kw = dict(user=pg.user or None, password=pg.password or None, host=pg.host or None, port=pg.port or None)
    with psycopg.connect(dbname="postgres", autocommit=True, **kw) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        c.execute(f'CREATE DATABASE "{name}"')

    def query(sql):
        with psycopg.connect(dbname=name, **kw) as c:
            return c.execute(sql).fetchall()

    return url.rsplit("/", 1)[0] + "/" + name, query


def _env(tmp_path: Path, url: str) -> dict:
    env = dict(os.environ)
    env.pop("PYTEST_VERSION", None)
    env.update(GONGZHI_ENV="development", GONGZHI_DATA_DIR=str(tmp_path), GONGZHI_DATABASE_URL=url)
    return env


def _start_gateway(env: dict, workers: int) -> tuple[subprocess.Popen, int]:
    # a session of its own: the SIGKILL goes to the whole process group (supervisor and workers)
    proc = subprocess.Popen(
        [sys.executable, "-m", "gongzhi.cli", "gateway", "--port", "0", "--metrics-port", "-1", "--no-migrate",
         "--max-wait-ms", "5", "--workers", str(workers)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, start_new_session=True,
    )
    line = proc.stdout.readline()
    assert "listening on" in line, line
    port = int(line.split("listening on ", 1)[1].split()[0].rsplit(":", 1)[1])
    return proc, port


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


@pytest.mark.parametrize("workers", [1, 2])
def test_sigkill_under_load_loses_no_acknowledged_value_and_stores_none_twice(tmp_path, workers):
    url, query = _scratch_database(tmp_path)
    env = _env(tmp_path, url)
    seeded = subprocess.run([sys.executable, "-m", "gongzhi.ingest.loadgen", "seed", "--devices", str(DEVICES)],
                            env=env, capture_output=True, text=True, timeout=120)
    assert seeded.returncode == 0, seeded.stderr[-2000:]

    uploads = {d: [loadgen.make_upload(d, s, factors=FACTORS) for s in range(PACKETS)] for d in range(DEVICES)}
    acked: dict[int, set[str]] = {d: set() for d in range(DEVICES)}

    # phase 1: load, then SIGKILL once enough packets were acknowledged
    proc, port = _start_gateway(env, workers)
    try:
        async def phase1():
            clients = {d: loadgen.Client("127.0.0.1", port, window=4) for d in range(DEVICES)}

            async def killer():
                while sum(len(c.acked) for c in clients.values()) < KILL_AFTER:
                    await asyncio.sleep(0.002)
                _kill_group(proc)  # no shutdown: in-flight batches die with it (every worker at once)

            k = asyncio.create_task(killer())
            await asyncio.gather(*(clients[d].send(uploads[d], rate=200, timeout=60) for d in range(DEVICES)))
            k.cancel()
            return clients

        clients = asyncio.run(phase1())
    finally:
        _kill_group(proc)
        proc.wait(10)
    for d, c in clients.items():
        acked[d] |= set(c.acked)
    n_acked_before = sum(len(a) for a in acked.values())
    assert KILL_AFTER <= n_acked_before < DEVICES * PACKETS  # the kill came mid-load
    # phase 2 sends again up to 5 acknowledged packets of each device: each must come back a duplicate
    resent_acked = sum(min(5, len(acked[d])) for d in range(DEVICES))

    # phase 2: restart; resend everything unacknowledged plus some acknowledged packets
    rnd = random.Random(212)
    proc, port = _start_gateway(env, workers)
    try:
        async def phase2():
            clients = {d: loadgen.Client("127.0.0.1", port, window=4) for d in range(DEVICES)}
            resend = {}
            for d in range(DEVICES):
                again = [u for u in uploads[d] if u[0] not in acked[d]]
                again += rnd.sample([u for u in uploads[d] if u[0] in acked[d]], min(5, len(acked[d])))
                rnd.shuffle(again)
                resend[d] = again
            ok = await asyncio.gather(*(clients[d].send(resend[d], timeout=60) for d in range(DEVICES)))
            return clients, resend, ok

        clients2, resend, ok = asyncio.run(phase2())
        assert all(ok)
    finally:
        proc.send_signal(signal.SIGTERM)  # graceful: the supervisor passes it on to its workers
        try:
            proc.wait(30)
        finally:
            _kill_group(proc)
    for d, c in clients2.items():
        acked[d] |= set(c.acked)
    assert all(len(acked[d]) == PACKETS for d in range(DEVICES))

    # every acknowledged packet's values are stored, each exactly once, with the value sent
    rows = query(
        "SELECT d.mn, o.value FROM observations_observation o "
        "JOIN observations_series s ON s.id = o.series_id JOIN registry_device d ON d.outlet_id = s.outlet_id"
    )
    stored = sorted((mn, round(v, 2)) for mn, v in rows)
    expected = sorted((loadgen.mn_for(d), loadgen.value_for(d, s, j))
                      for d in range(DEVICES) for s in range(PACKETS) for j in range(FACTORS))
    assert stored == expected
    # the archive agrees: values counted once across accepted packets; resends are duplicates
    [(values_stored,)] = query("SELECT COALESCE(SUM(values_stored), 0) FROM ingest_rawpacket")
    assert values_stored == len(expected)
    [(keys,)] = query("SELECT COUNT(*) FROM ingest_acceptedpacket")
    assert keys == DEVICES * PACKETS
    [(dups,)] = query("SELECT COUNT(*) FROM ingest_rawpacket WHERE verdict = 'duplicate'")
    assert dups >= resent_acked  # the acknowledged packets sent again (plus any acked-but-lost ones)
