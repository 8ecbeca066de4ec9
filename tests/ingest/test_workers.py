"""`gongzhi gateway --workers N`: several gateway processes on one port (SO_REUSEPORT), one
aggregated /metrics, workers restarted when they die and gone when the supervisor is.

The workers are real subprocesses on a scratch database of the suite's engine (as in the
reliability test, whose helpers are reused)."""

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gongzhi.ingest import loadgen
from gongzhi.ingest.gateway import GatewayConfig
from gongzhi.ingest.workers import Supervisor, _fetch, default_workers, merge_metrics
from test_reliability import _env, _scratch_database

FACTORS = 3


def _parse(text: str) -> dict[str, float]:
    return {k: float(v) for k, _, v in (line.rpartition(" ") for line in text.splitlines()
                                        if line and not line.startswith("#"))}


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except FileNotFoundError:
        return []


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_merge_metrics_sums_samples_and_keeps_help_once():
    a = ("# HELP g_total Things.\n# TYPE g_total counter\ng_total 2\n"
         "# HELP g_packets_total By verdict.\n# TYPE g_packets_total counter\n"
         'g_packets_total{verdict="accepted"} 5\n'
         "# HELP g_lat Latency.\n# TYPE g_lat histogram\n"
         'g_lat_bucket{le="0.1"} 1\ng_lat_bucket{le="+Inf"} 2\ng_lat_sum 0.25\ng_lat_count 2\n')
    b = ("# HELP g_total Things.\n# TYPE g_total counter\ng_total 3\n"
         "# HELP g_packets_total By verdict.\n# TYPE g_packets_total counter\n"
         'g_packets_total{verdict="accepted"} 1\ng_packets_total{verdict="rejected"} 4\n'
         "# HELP g_lat Latency.\n# TYPE g_lat histogram\n"
         'g_lat_bucket{le="0.1"} 0\ng_lat_bucket{le="+Inf"} 1\ng_lat_sum 0.5\ng_lat_count 1\n')
    merged = merge_metrics([a, b])
    assert merged.count("# HELP g_total") == 1 and merged.count("# TYPE g_lat histogram") == 1
    m = _parse(merged)
    assert m["g_total"] == 5
    assert m['g_packets_total{verdict="accepted"}'] == 6 and m['g_packets_total{verdict="rejected"}'] == 4
    assert m['g_lat_bucket{le="0.1"}'] == 1 and m['g_lat_bucket{le="+Inf"}'] == 3
    assert m["g_lat_sum"] == 0.75 and m["g_lat_count"] == 3
    # every sample stays under its own family's HELP/TYPE
    lines = merged.splitlines()
    assert lines.index('g_packets_total{verdict="rejected"} 4') < lines.index("# HELP g_lat Latency.")


def test_default_workers_one_on_sqlite_one_per_cpu_otherwise():
    assert default_workers("sqlite3") == 1
    assert default_workers("postgresql") == len(os.sched_getaffinity(0))


@pytest.fixture
def scratch_env(tmp_path, monkeypatch):
    """A seeded scratch database; the environment (inherited by the workers) points at it."""
    url, query = _scratch_database(tmp_path)
    env = _env(tmp_path, url)
    seeded = subprocess.run([sys.executable, "-m", "gongzhi.ingest.loadgen", "seed", "--devices", "32"],
                            env=env, capture_output=True, text=True, timeout=120)
    assert seeded.returncode == 0, seeded.stderr[-2000:]
    for k in ("GONGZHI_ENV", "GONGZHI_DATA_DIR", "GONGZHI_DATABASE_URL"):
        monkeypatch.setenv(k, env[k])
    monkeypatch.delenv("PYTEST_VERSION", raising=False)
    return env, query


def test_two_workers_share_the_port_ack_aggregate_metrics_and_restart(scratch_env):
    env, query = scratch_env
    devices = 32

    async def scenario():
        sup = Supervisor(GatewayConfig(port=0, metrics_port=0), 2, ["--max-wait-ms", "5"], restart_delay=0.1)
        await sup.start()
        try:
            pids = [w.proc.pid for w in sup._workers]
            assert len(set(pids)) == 2 and all(_alive(p) for p in pids)
            uploads = {d: [loadgen.make_upload(d, s, factors=FACTORS) for s in range(5)] for d in range(devices)}
            clients = [loadgen.Client("127.0.0.1", sup.port, window=2) for _ in range(devices)]
            ok = await asyncio.gather(*(c.send(uploads[d], timeout=60) for d, c in enumerate(clients)))
            assert all(ok)
            # the kernel spread the 32 connections over both workers
            per_worker = [_parse(await _fetch(w.metrics_port)) for w in sup._workers]
            conns = [m["gongzhi_gateway_connections_total"] for m in per_worker]
            assert sum(conns) == devices and all(c > 0 for c in conns), conns
            # one /metrics for the whole gateway: the sum of the workers'
            total = _parse(await _fetch(sup.metrics_port))
            assert total["gongzhi_gateway_workers"] == 2
            assert total["gongzhi_gateway_connections_total"] == devices
            assert total["gongzhi_gateway_values_stored_total"] == devices * 5 * FACTORS
            assert total['gongzhi_gateway_packets_total{verdict="accepted"}'] == devices * 5
            assert total["gongzhi_gateway_ack_seconds_count"] == devices * 5

            # a worker that dies is started again; the gateway keeps serving
            os.kill(pids[0], signal.SIGKILL)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not (sup._workers[0].metrics_port and sup._workers[0].restarts):
                await asyncio.sleep(0.1)
            assert sup._workers[0].restarts == 1 and sup._workers[0].proc.pid != pids[0]
            more = {d: [loadgen.make_upload(d, s, factors=FACTORS) for s in range(5, 7)] for d in range(devices)}
            clients = [loadgen.Client("127.0.0.1", sup.port, window=2) for _ in range(devices)]
            ok = await asyncio.gather(*(c.send(more[d], timeout=60) for d, c in enumerate(clients)))
            assert all(ok)
            total = _parse(await _fetch(sup.metrics_port))
            assert total["gongzhi_gateway_worker_restarts_total"] == 1
            assert total["gongzhi_gateway_workers"] == 2
            workers = [w.proc for w in sup._workers]
        finally:
            await sup.stop()
        # graceful stop: every worker exited by itself
        assert [p.returncode for p in workers] == [0, 0]

    asyncio.run(scenario())
    [(n,)] = query("SELECT COUNT(*) FROM observations_observation")
    assert n == devices * 7 * FACTORS
    [(keys,)] = query("SELECT COUNT(*) FROM ingest_acceptedpacket")
    assert keys == devices * 7


def test_workers_shut_down_when_the_supervisor_is_killed(scratch_env, tmp_path):
    env, _ = scratch_env
    log = tmp_path / "gateway.log"
    with open(log, "w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gongzhi.cli", "gateway", "--port", "0", "--metrics-port", "-1", "--no-migrate",
             "--workers", "2"],
            env=env, stdout=subprocess.PIPE, stderr=err, text=True, start_new_session=True,
        )
    try:
        line = proc.stdout.readline()
        assert "listening on" in line and "2 workers" in line, line
        port = int(line.split("listening on ", 1)[1].split()[0].rstrip(",").rsplit(":", 1)[1])
        workers = _children(proc.pid)
        assert len(workers) == 2
        client = loadgen.Client("127.0.0.1", port, window=2)
        assert asyncio.run(client.send([loadgen.make_upload(0, 0, factors=FACTORS)], timeout=30)), \
            log.read_text()[-3000:]
        proc.send_signal(signal.SIGKILL)  # the supervisor only
        proc.wait(10)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and any(_alive(w) for w in workers):
            time.sleep(0.1)
        assert not any(_alive(w) for w in workers)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(10)
