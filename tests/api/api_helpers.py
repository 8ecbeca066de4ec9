"""Helpers of the API tests (imported by name: a bare ``conftest`` import would pick up another
test folder's conftest when several folders run in one pytest call)."""

from __future__ import annotations

import datetime as dt

from gongzhi.observations import services as obs
from gongzhi.observations.models import Source
from gongzhi.sharing.models import SharingAgreement

CST = dt.timezone(dt.timedelta(hours=8))


def local(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=CST)


def ms(t: dt.datetime) -> int:
    return int(t.timestamp() * 1000)


def share(world, level: str, *, sites=("W1",), parameters=None, provider="qingpu", recipient="kunshan", **extra) -> SharingAgreement:
    a = SharingAgreement.objects.create(
        provider=world["bureaus"][provider], recipient=world["bureaus"][recipient], title="青浦→昆山", purpose="急水港联防联治",
        level=level, valid_from=dt.date(2020, 1, 1), all_sites=False, all_parameters=parameters is None, **extra,
    )
    a.sites.add(*[world["sites"][c] for c in sites])
    if parameters:
        a.parameters.add(*parameters)
    return a


def write(site, parameter, kind, points, *, flag="N", qc=0):
    sid = obs.series_resolver.get(site=site, parameter=parameter, kind=kind)
    return obs.write_observations([obs.ObservationRow(sid, t, v, flag, qc) for t, v in points], source=Source.DEVICE)


def assert_error(response, status: int, code: str | None = None) -> dict:
    """The response is ``status`` in the one error format (and ``code`` when given)."""
    assert response.status_code == status, response.content[:500]
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    err = body["error"]
    assert set(err) == {"code", "message", "details"}
    assert isinstance(err["code"], str) and err["code"]
    assert isinstance(err["message"], str) and err["message"]
    assert isinstance(err["details"], list)
    if code is not None:
        assert err["code"] == code, err
    return err
