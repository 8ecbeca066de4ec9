import pytest

from gongzhi.ingest.pipeline import IngestConfig, Pipeline
from gongzhi.observations import services as obs
from gongzhi.registry import models as reg
from gongzhi.registry import services as reg_services
from ingest_helpers import MN_AIR, MN_GAS, MN_OFF, MN_WATER, MN_WW, PW


@pytest.fixture
def ingest_registry(db):
    """Catalog, one bureau, a water section, an air station, an enterprise with two outlets, devices."""
    reg_services.seed_parameter_catalog()
    reg_services.code_index.invalidate()
    obs.series_resolver.clear()
    j = reg.Jurisdiction.objects.create(adcode="320583", name="昆山市", level="county")
    bureau = reg.Bureau.objects.create(code="kunshan", name="昆山生态环境局", short_name="昆山", jurisdiction=j)
    river = reg.Waterbody.objects.create(code="jishui", name="急水港", kind="river")
    water = reg.Site.objects.create(code="W1", name="急水港", kind="water_section", owner=bureau, lon=120.9, lat=31.1,
                                    waterbody=river)
    air = reg.Site.objects.create(code="A1", name="震川中学", kind="air_station", owner=bureau, lon=120.95, lat=31.38)
    ent = reg.Enterprise.objects.create(code="e1", name="某印染厂", owner=bureau, lon=120.9, lat=31.3)
    gas = reg.Outlet.objects.create(enterprise=ent, code="DA001", name="锅炉烟囱", kind="flue_gas", lon=120.9, lat=31.3)
    ww = reg.Outlet.objects.create(enterprise=ent, code="DW001", name="废水总排口", kind="wastewater", lon=120.9, lat=31.3)
    devices = {
        MN_WATER: reg.Device.objects.create(mn=MN_WATER, password=PW, system_code="21", site=water),
        MN_AIR: reg.Device.objects.create(mn=MN_AIR, password=PW, system_code="22", site=air),
        MN_GAS: reg.Device.objects.create(mn=MN_GAS, password=PW, system_code="31", outlet=gas),
        MN_WW: reg.Device.objects.create(mn=MN_WW, password=PW, system_code="32", outlet=ww),
        MN_OFF: reg.Device.objects.create(mn=MN_OFF, password=PW, system_code="32", outlet=ww, enabled=False),
    }
    yield {"bureau": bureau, "water": water, "air": air, "gas": gas, "ww": ww, "devices": devices}
    obs.series_resolver.clear()  # series ids die with the test's transaction


@pytest.fixture
def pipeline(ingest_registry):
    return Pipeline(IngestConfig())
