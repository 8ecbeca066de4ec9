"""Fixtures of the simulator tests: a small registry that is not the demo region."""

import pytest

from gongzhi.observations import services as obs
from gongzhi.registry import models as reg
from gongzhi.registry import services as reg_services
from sim_helpers import AIR_CODES, WATER_CODES, WW_CODES


@pytest.fixture
def small_registry(db):
    """A water section, an air station and a wastewater outlet, each with a logger (not in the demo region)."""
    reg_services.seed_parameter_catalog()
    reg_services.code_index.invalidate()
    obs.series_resolver.clear()
    j = reg.Jurisdiction.objects.create(adcode="320583", name="昆山市", level="county")
    bureau = reg.Bureau.objects.create(code="kunshan", name="昆山生态环境局", short_name="昆山", jurisdiction=j)
    river = reg.Waterbody.objects.create(code="jishui", name="急水港", kind="river")
    water = reg.Site.objects.create(code="W1", name="急水港", kind="water_section", owner=bureau, lon=120.9, lat=31.1,
                                    waterbody=river, target_class=3)
    air = reg.Site.objects.create(code="A1", name="震川中学", kind="air_station", owner=bureau, lon=120.95, lat=31.38)
    ent = reg.Enterprise.objects.create(code="e1", name="某印染厂", owner=bureau, lon=120.9, lat=31.3,
                                        industry="textile_dyeing")
    ww = reg.Outlet.objects.create(enterprise=ent, code="DW001", name="废水总排口", kind="wastewater", lon=120.9, lat=31.3)
    by_code = {}
    for p in reg.Parameter.objects.all():
        by_code[p.code_2017 or p.key] = p
    for a in reg.ParameterAlias.objects.select_related("parameter"):
        by_code[a.code] = a.parameter
    reg.PermitLimit.objects.create(outlet=ww, parameter=by_code["w01018"], period="day", limit=80, unit="mg/L",
                                   standard="demo permit")
    devices = [
        (reg.Device.objects.create(mn="SIMW0000000000000000021A", password="123456", system_code="21", site=water,
                                   interval_s=3600), WATER_CODES),
        (reg.Device.objects.create(mn="SIMA0000000000000000022A", password="123456", system_code="22", site=air),
         AIR_CODES),
        (reg.Device.objects.create(mn="SIMD0000000000000000032A", password="123456", system_code="32", outlet=ww),
         WW_CODES),
    ]
    for d, codes in devices:
        d.parameters.set([by_code[c] for c in codes])
    reg.Device.objects.create(mn="SIMOFF00000000000000032A", password="123456", system_code="32", outlet=ww,
                              enabled=False)
    yield {"water": water, "air": air, "ww": ww}
    obs.series_resolver.clear()
