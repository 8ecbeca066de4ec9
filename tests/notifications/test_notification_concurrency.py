"""Two dispatchers never send one delivery twice: claims are one conditional UPDATE."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import threading

import pytest
from django.db import connection

from gongzhi.notifications import services
from gongzhi.notifications.models import Delivery
from notify_servers import WebhookReceiver

NOW = dt.datetime(2026, 6, 1, 2, 0, tzinfo=dt.UTC)
SECRET = "qingpu-shared-secret-0123"


def _queue(people, bureaus, url, n):
    services.save_webhook_endpoint(bureau=bureaus["qp"], name="值班系统", url=url, secret=SECRET, timeout_seconds=5)
    for i in range(n):
        services.notify(recipients=[people["qp_duty"]], kind="report.ready", subject=f"报告 {i}", body="", ref=f"report:{i}", now=NOW)


def test_second_claim_of_the_same_rows_gets_nothing(people, bureaus):
    _queue(people, bureaus, "http://127.0.0.1:9/", 3)
    token_a, rows_a = services.claim_due(now=NOW)
    token_b, rows_b = services.claim_due(now=NOW)
    assert len(rows_a) == 3 and rows_b == [] and token_a != token_b
    # a claim left by a dispatcher that died is taken over once it is stale
    token_c, rows_c = services.claim_due(now=NOW + services.STALE_CLAIM + dt.timedelta(seconds=1))
    assert sorted(d.pk for d in rows_c) == sorted(d.pk for d in rows_a)
    assert set(Delivery.objects.values_list("claim_token", flat=True)) == {token_c}


def test_a_late_finish_of_a_stolen_claim_changes_nothing(people, bureaus):
    _queue(people, bureaus, "http://127.0.0.1:9/", 1)
    token_a, (row_a,) = services.claim_due(now=NOW)
    later = NOW + services.STALE_CLAIM + dt.timedelta(seconds=1)
    token_b, (row_b,) = services.claim_due(now=later)
    services._finish(row_a, token_a, services.DispatchResult(), NOW, error=None)  # the slow first owner reports back
    row_b.refresh_from_db()
    assert (row_b.status, row_b.claim_token) == ("sending", token_b)


@pytest.mark.django_db(transaction=True)
def test_two_dispatchers_running_at_once_send_each_delivery_once(people, bureaus, tmp_path):
    if connection.vendor == "sqlite":
        # The in-memory SQLite test database (shared cache) answers a concurrent writer with
        # "table is locked" instead of waiting; the platform's SQLite is a file in WAL mode with a
        # busy timeout, so two real dispatcher processes run against such a file instead.
        return _two_dispatcher_processes_on_a_sqlite_file(tmp_path)
    with WebhookReceiver(SECRET, delay=0.01) as rx:
        _queue(people, bureaus, rx.url + "/hook", 40)
        start = threading.Barrier(2)
        claimed = [0, 0]
        errors = []

        def dispatcher(i):
            try:
                start.wait()
                for _round in range(100):
                    result = services.dispatch_due(now=NOW, limit=4)
                    claimed[i] += result.claimed
                    if not result.claimed and not Delivery.objects.filter(status__in=["queued", "sending"]).exists():
                        break
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
            finally:
                connection.close()

        threads = [threading.Thread(target=dispatcher, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert errors == []
        ids = [a["delivery"] for a in rx.accepted]
    assert len(ids) == 40 and len(set(ids)) == 40
    assert sum(claimed) == 40
    assert set(Delivery.objects.values_list("status", flat=True)) == {"sent"}
    assert max(rx.seen.values()) == 1


SEED = """
import sys
from gongzhi.cli._django import setup
setup()
from gongzhi.accounts.models import User
from gongzhi.notifications import services
from gongzhi.registry.models import Bureau
bureau = Bureau.objects.create(code="qingpu", name="青浦区生态环境局", short_name="青浦")
user = User.objects.create_user(username="qp-duty", password="secret-pass-123", bureau=bureau)
services.save_webhook_endpoint(bureau=bureau, name="hook", url=sys.argv[1], secret=sys.argv[2], timeout_seconds=5)
for i in range(int(sys.argv[3])):
    services.notify(recipients=[user], kind="report.ready", subject=f"报告 {i}", body="", ref=f"report:{i}")
"""

REPORT = """
import json
from gongzhi.cli._django import setup
setup()
from gongzhi.notifications.models import Delivery
print(json.dumps(sorted(Delivery.objects.values_list("status", flat=True))))
"""


def _two_dispatcher_processes_on_a_sqlite_file(tmp_path):
    env = {**os.environ, "GONGZHI_ENV": "development", "GONGZHI_DATA_DIR": str(tmp_path),
           "GONGZHI_DATABASE_URL": f"sqlite:///{tmp_path}/gongzhi.sqlite3"}
    env.pop("DJANGO_SETTINGS_MODULE", None)

    def run(*argv):
        return subprocess.run([sys.executable, *argv], env=env, capture_output=True, text=True, timeout=120, check=True)

    run("-m", "gongzhi", "migrate")
    with WebhookReceiver(SECRET, delay=0.05) as rx:  # 2 s of answers: the two processes overlap
        run("-c", SEED, rx.url + "/hook", SECRET, "40")
        procs = [subprocess.Popen([sys.executable, "-m", "gongzhi", "notifications", "dispatch", "--once", "--limit", "4"],
                                  env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
        outs = [p.communicate(timeout=120) for p in procs]
        assert [p.returncode for p in procs] == [0, 0], outs
        ids = [a["delivery"] for a in rx.accepted]
    assert len(ids) == 40 and len(set(ids)) == 40
    assert max(rx.seen.values()) == 1
    claimed = [int(out.split("claimed ")[1].split(",")[0]) for out, _err in outs]
    assert sum(claimed) == 40
    assert json.loads(run("-c", REPORT).stdout) == ["sent"] * 40


@pytest.mark.django_db(transaction=True)
def test_dispatcher_thread_sends_at_once_after_a_commit_and_stops(people, bureaus):
    with WebhookReceiver(SECRET) as rx:
        services.save_webhook_endpoint(bureau=bureaus["qp"], name="值班系统", url=rx.url + "/hook", secret=SECRET, timeout_seconds=5)
        thread, stop = services.start_dispatcher_thread(interval=30)  # only the commit can wake it in time
        try:
            import time

            time.sleep(0.3)  # the loop's first (empty) round is over; it now waits up to 30 s
            services.notify(recipients=[people["qp_duty"]], kind="report.ready", subject="报告", body="", ref="r:1")
            deadline = time.monotonic() + 10
            while not rx.accepted and time.monotonic() < deadline:
                time.sleep(0.02)
            assert len(rx.accepted) == 1
        finally:
            stop.set()
            thread.join(10)
        assert not thread.is_alive()
    assert Delivery.objects.get().status == "sent"


def test_cli_dispatch_once_and_status(people, bureaus, capsys):
    from gongzhi.cli import main

    with WebhookReceiver(SECRET) as rx:
        services.save_webhook_endpoint(bureau=bureaus["qp"], name="ok", url=rx.url + "/ok", secret=SECRET)
        services.save_webhook_endpoint(bureau=bureaus["qp"], name="gone", url=rx.url + "/gone", secret=SECRET)
        for i in range(3):
            services.notify(recipients=[people["qp_duty"]], kind="report.ready", subject=f"报告 {i}", body="", ref=f"r:{i}")
        assert main(["notifications", "dispatch", "--once", "--limit", "2"]) == 1  # the /gone ones failed for good
    out = capsys.readouterr().out
    assert "claimed 6, sent 3, retried 0, failed 3, deferred 0" in out
    assert main(["notifications", "status"]) == 0
    status = capsys.readouterr().out.split("\n")
    assert "webhook      failed     3" in status and "webhook      sent       3" in status
    assert main(["notifications", "dispatch", "--once", "--limit", "0"]) == 2
