"""Helpers for the page tests (conftest.py builds the region).

A small joint region for the page tests: two neighbouring bureaus (青浦, 昆山) with
boundaries, a shared river, a lake, water sections and an air station each, an agreement
from 青浦 to 昆山 for one boundary section, and a third bureau (嘉善) with no agreement.

Data is written through the store's own write path
(:func:`gongzhi.observations.services.write_observations`)."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from gongzhi.accounts.models import Role, User
from gongzhi.observations import aggregates as agg
from gongzhi.observations import services as obs
from gongzhi.observations.models import SeriesKind, Source
from gongzhi.registry import models as reg
from gongzhi.registry import services as reg_services
from gongzhi.sharing.models import SharingAgreement

CST = dt.timezone(dt.timedelta(hours=8))


def square(lon0, lat0, size=0.1, steps=40):
    """A square with many points per side (so that simplification has something to drop)."""
    pts = []
    for i in range(steps):
        pts.append([lon0 + size * i / steps, lat0])
    for i in range(steps):
        pts.append([lon0 + size, lat0 + size * i / steps])
    for i in range(steps):
        pts.append([lon0 + size - size * i / steps, lat0 + size])
    for i in range(steps):
        pts.append([lon0, lat0 + size - size * i / steps])
    pts.append(pts[0])
    return {"type": "Polygon", "coordinates": [pts]}


def write(site, key, points, *, kind=SeriesKind.HOUR, flag="N", qc=0, unit=""):
    """Write ``points`` [(aware time, value), …] of parameter ``key`` of ``site``."""
    parameter = reg.Parameter.objects.get(key=key)
    obs.series_resolver.clear()
    sid = obs.series_resolver.get(site=site, parameter=parameter, kind=kind, unit=unit)
    return obs.write_observations([obs.ObservationRow(sid, t, v, flag, qc) for t, v in points], source=Source.DEVICE)


def hours_back(n, *, now=None):
    """The last ``n`` whole hours (oldest first), aware, in Beijing time."""
    end = (now or timezone.now()).astimezone(CST).replace(minute=0, second=0, microsecond=0)
    return [end - dt.timedelta(hours=n - 1 - i) for i in range(n)]


def make_user(name, bureau, role=Role.VIEWER):
    return User.objects.create_user(username=name, password="secret-pass-123", bureau=bureau, role=role)




def recompute():
    obs.apply_pending_changes()
    agg.recompute_dirty()
