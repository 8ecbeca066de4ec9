import pytest

from gongzhi.accounts.models import Role, User
from gongzhi.registry import models as reg
from gongzhi.registry import services as reg_services


@pytest.fixture
def registry(db):
    """Two bureaus, one water section each, the parameter catalog."""
    reg_services.seed_parameter_catalog()
    prov = reg.Jurisdiction.objects.create(adcode="320000", name="江苏省", level="province")
    ks = reg.Jurisdiction.objects.create(adcode="320583", name="昆山市", level="county", parent=prov)
    qp = reg.Jurisdiction.objects.create(adcode="310118", name="青浦区", level="county", parent=prov)
    kunshan = reg.Bureau.objects.create(code="kunshan", name="昆山生态环境局", short_name="昆山", jurisdiction=ks)
    qingpu = reg.Bureau.objects.create(code="qingpu", name="青浦区生态环境局", short_name="青浦", jurisdiction=qp)
    river = reg.Waterbody.objects.create(code="jishui", name="急水港", kind="river")
    s1 = reg.Site.objects.create(code="W1", name="急水港", kind="water_section", owner=qingpu, lon=120.9, lat=31.1, waterbody=river)
    s2 = reg.Site.objects.create(code="W2", name="周庄", kind="water_section", owner=kunshan, lon=120.85, lat=31.12, waterbody=river)
    users = {
        "qp_monitor": User.objects.create_user("qp_monitor", password="x-123456", bureau=qingpu, role=Role.MONITORING_STAFF),
        "qp_analyst": User.objects.create_user("qp_analyst", password="x-123456", bureau=qingpu, role=Role.ANALYST),
        "ks_monitor": User.objects.create_user("ks_monitor", password="x-123456", bureau=kunshan, role=Role.MONITORING_STAFF),
    }
    return {"sites": (s1, s2), "bureaus": (qingpu, kunshan), "users": users, "param": reg.Parameter.objects.get(key="nh3_n")}


@pytest.fixture
def air(registry):
    """An air station of Qingpu and its PM2.5 parameter."""
    qingpu = registry["bureaus"][0]
    site = reg.Site.objects.create(code="A1", name="青浦监测站", kind="air_station", owner=qingpu, lon=121.1, lat=31.15)
    return {"site": site, "pm25": reg.Parameter.objects.get(key="pm2_5"), "so2": reg.Parameter.objects.get(key="so2")}
