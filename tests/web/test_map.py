"""The one map (一张图): the page, the region-wide layers, and the sites with their latest
water class or AQI — for users of different bureaus, with the sharing policy applied."""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from shapely.geometry import shape

from gongzhi.accounts.models import Role
from gongzhi.observations.models import QC_FLAG_INVALID
from gongzhi.registry import models as reg
from gongzhi.web import layers

from web_helpers import hours_back, make_user, write

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_layer_cache():
    layers.invalidate()
    yield
    layers.invalidate()


def sites_of(client, user, **params):
    client.force_login(user)
    r = client.get("/web-api/map/sites.json", params)
    assert r.status_code == 200
    return {s["code"]: s for s in r.json()["sites"]}


def test_the_map_is_the_home_page_and_needs_signing_in(client, web_region):
    assert client.get("/").status_code == 302
    assert client.get("/map/")["Location"] == "/login/?next=/map/"
    assert client.get("/web-api/map/sites.json").status_code == 401
    assert client.get("/web-api/map/layers.json").status_code == 401
    client.force_login(web_region["qp_user"])
    for path in ("/", "/map/"):
        page = client.get(path)
        assert page.status_code == 200
        assert page.templates[0].name == "web/map.html"


@pytest.mark.parametrize("who, bureaus", [("qp_user", ["qingpu"]), ("ks_user", ["kunshan", "qingpu"])])
def test_map_page_for_two_bureaus(client, web_region, who, bureaus):
    client.force_login(web_region[who])
    page = client.get("/map/")
    html = page.content.decode()
    assert [b.code for b in page.context["bureaus"]] == bureaus  # filter choices: bureaus whose sites are visible
    assert "区域一张图" in html and "联防联治区" in html and "水质类别" in html
    assert "/static/vendor/leaflet/leaflet.js" in html and "/static/web/map.js" in html
    assert "https://" not in html.replace("https://tiles", "")  # nothing from outside (no CDN)
    assert 'data-tile-url=""' in html  # no tile server configured: no base layer
    # the legend: the six HJ 633 colours and the six water class colours
    for colour in ("#00e400", "#ffff00", "#ff7e00", "#ff0000", "#99004c", "#7e0023", "#ccffff", "#00ccff", "#ff9b00"):
        assert colour in html
    assert "劣Ⅴ" in html
    nav = [a for a in ("/map/", "/overview/") if f'href="{a}"' in html]
    assert nav == ["/map/", "/overview/"]
    # the overview is folded in below the map: the sites the user may see, linked to their pages
    assert 'href="/sites/QP-W1/"' in html and "本局站点" in html and "协作方共享站点" in html
    assert ("QP-W2" in html) == (who == "qp_user")  # 昆山 has no agreement for 淀山湖湖心
    assert "JS-W1" not in html


def test_a_configured_tile_server_is_passed_to_the_map(client, web_region, settings):
    settings.GONGZHI_TILE_URL = "http://tiles.intranet/{z}/{x}/{y}.png"
    client.force_login(web_region["qp_user"])
    assert 'data-tile-url="http://tiles.intranet/{z}/{x}/{y}.png"' in client.get("/map/").content.decode()


def test_layers_are_simplified_cached_and_rebuilt_after_a_change(client, web_region):
    client.force_login(web_region["ks_user"])
    r = client.get("/web-api/map/layers.json")
    assert r.status_code == 200
    data = r.json()
    assert set(data) == {"jurisdictions", "waters", "borders", "bands"}
    juris = {f["properties"]["adcode"]: f for f in data["jurisdictions"]["features"]}
    assert set(juris) == {"310118", "320583", "330421"}
    full = reg.Jurisdiction.objects.get(adcode="310118").boundary
    simple = juris["310118"]["geometry"]
    assert len(simple["coordinates"][0]) < len(full["coordinates"][0]) / 10  # collinear points dropped
    assert shape(simple).symmetric_difference(shape(full)).area < 1e-6  # and the shape kept
    assert [f["properties"]["code"] for f in data["bands"]["features"]] == ["qk"]
    assert shape(data["bands"]["features"][0]["geometry"]).contains(shape({"type": "Point", "coordinates": [121.0, 31.15]}))
    assert [f["properties"]["a"] + "—" + f["properties"]["b"] for f in data["borders"]["features"]] == ["青浦区—昆山市"]
    assert [f["properties"]["name"] for f in data["waters"]["features"]] == ["急水港"]
    # cached: the second answer reads nothing from the database but the session
    with CaptureQueriesContext(connection) as ctx:
        again = client.get("/web-api/map/layers.json")
    assert again.content == r.content
    assert not [q for q in ctx.captured_queries if "registry_" in q["sql"]]
    # a change to a boundary clears the cache
    j = reg.Jurisdiction.objects.get(adcode="330421")
    j.name = "嘉善县（改）"
    j.save()
    names = [f["properties"]["name"] for f in client.get("/web-api/map/layers.json").json()["jurisdictions"]["features"]]
    assert "嘉善县（改）" in names


def test_sites_on_the_map_follow_the_sharing_policy(client, web_region):
    assert set(sites_of(client, web_region["qp_user"])) == {"QP-W1", "QP-W2", "QP-A1"}
    ks = sites_of(client, web_region["ks_user"])
    assert set(ks) == {"KS-W1", "KS-A1", "QP-W1"}  # QP-W1 by agreement; QP-W2, QP-A1 and 嘉善 never sent
    assert ks["QP-W1"]["own"] is False and ks["KS-W1"]["own"] is True
    assert ks["QP-W1"]["is_boundary"] is True and ks["QP-W1"]["target"] == "Ⅲ"
    assert set(sites_of(client, web_region["js_user"])) == {"JS-W1"}
    raw = client.get("/web-api/map/sites.json").content.decode()
    assert "QP-W2" not in raw and "淀山湖湖心" not in raw


def test_map_filters_by_bureau_kind_and_level(client, web_region):
    user = web_region["ks_user"]
    assert set(sites_of(client, user, bureau="qingpu")) == {"QP-W1"}
    assert set(sites_of(client, user, kind="air_station")) == {"KS-A1"}
    assert set(sites_of(client, user, level="national")) == {"QP-W1", "KS-A1"}
    assert set(sites_of(client, user, bureau="kunshan", kind="water_section", level="provincial")) == {"KS-W1"}
    assert sites_of(client, user, bureau="jiashan") == {}  # a bureau you cannot see: nothing


def _water(site, hour, *, ph, do, codmn, nh3_n, tp):
    for key, v in (("ph", ph), ("do", do), ("codmn", codmn), ("nh3_n", nh3_n), ("tp", tp)):
        write(site, key, [(hour, v)], unit="1" if key == "ph" else "mg/L")


def test_class_and_aqi_colours_for_known_latest_values(client, web_region):
    now_hour = hours_back(1)[0]
    # river section, target Ⅲ: NH3-N 1.2 is class Ⅳ (1.0 < 1.2 ≤ 1.5) and the worst → Ⅳ, target missed
    _water(web_region["qp_boundary"], now_hour, ph=7.5, do=6.2, codmn=5.0, nh3_n=1.2, tp=0.15)
    # lake: TP 0.15 is Ⅲ on the river limits but Ⅴ on the lake limits (0.1 < 0.15 ≤ 0.2)
    _water(web_region["qp_lake"], now_hour, ph=7.0, do=8.0, codmn=1.5, nh3_n=0.1, tp=0.15)
    # air: PM2.5 130 µg/m³ → IAQI 172 (115–150 segment, IAQI 150–200, rounded up): 中度污染, red
    for key, v in (("pm2_5", 130.0), ("pm10", 100.0), ("o3", 50.0), ("no2", 30.0), ("so2", 8.0), ("co", 0.6)):
        write(web_region["qp_air"], key, [(now_hour, v)], unit="mg/m³" if key == "co" else "µg/m³")
    sites = sites_of(client, web_region["qp_user"])
    w1 = sites["QP-W1"]["status"]
    assert (w1["class"], w1["label"], w1["colour"], w1["meets_target"]) == (4, "Ⅳ", "#ffff00", False)
    assert w1["by_parameter"] == {"ph": 1, "do": 2, "codmn": 3, "nh3_n": 4, "tp": 3}
    assert w1["main_pollutants"] == ["nh3_n"] and w1["stale"] is False
    w2 = sites["QP-W2"]["status"]
    assert (w2["class"], w2["label"], w2["colour"], w2["by_parameter"]["tp"]) == (5, "Ⅴ", "#ff9b00", 5)
    a1 = sites["QP-A1"]["status"]
    assert (a1["aqi"], a1["level"], a1["colour"], a1["category_zh"], a1["primary"]) == (172, 4, "#ff0000", "中度污染", ["pm2_5"])
    assert a1["complete"] is True
    # the partner sees the shared section with the same class; no data for the others → grey
    ks = sites_of(client, web_region["ks_user"])
    assert ks["QP-W1"]["status"]["label"] == "Ⅳ" and ks["QP-W1"]["data"] is True
    assert ks["KS-A1"]["status"] is None and ks["KS-A1"]["data"] is True  # may read its data; there is none yet


def test_invalid_and_stale_values_do_not_colour_as_current(client, web_region):
    h1, h2 = hours_back(2)
    _water(web_region["qp_boundary"], h1, ph=7.5, do=6.2, codmn=5.0, nh3_n=1.2, tp=0.15)
    # a newer NH3-N flagged invalid by QC (e.g. instrument fault): not used for the class
    write(web_region["qp_boundary"], "nh3_n", [(h2, 3.0)], qc=QC_FLAG_INVALID, flag="D", unit="mg/L")
    st = sites_of(client, web_region["qp_user"])["QP-W1"]["status"]
    assert st["label"] == "Ⅲ" and "nh3_n" not in st["by_parameter"] and st["meets_target"] is True
    # values three days old: coloured, but marked stale
    old = hours_back(1)[0] - __import__("datetime").timedelta(days=3)
    _water(web_region["qp_lake"], old, ph=7.0, do=8.0, codmn=1.5, nh3_n=0.1, tp=0.01)
    st = sites_of(client, web_region["qp_user"])["QP-W2"]["status"]
    assert st["label"] == "Ⅰ" and st["stale"] is True


def test_a_co_governance_office_sees_every_site_but_no_data(client, web_region):
    office = reg.Bureau.objects.create(code="office", name="协同办", short_name="协同办", kind="office")
    now_hour = hours_back(1)[0]
    _water(web_region["qp_boundary"], now_hour, ph=7.5, do=6.2, codmn=5.0, nh3_n=1.2, tp=0.15)
    sites = sites_of(client, make_user("office-admin", office, Role.ADMINISTRATOR))
    assert set(sites) == {"QP-W1", "QP-W2", "QP-A1", "KS-W1", "KS-A1", "JS-W1"}
    assert all(s["status"] is None and s["data"] is False for s in sites.values())


def test_map_sites_query_count_does_not_grow_with_sites(client, web_region):
    user = web_region["ks_user"]
    client.force_login(user)
    client.get("/web-api/map/sites.json")

    def count():
        with CaptureQueriesContext(connection) as ctx:
            assert client.get("/web-api/map/sites.json").status_code == 200
        return len(ctx.captured_queries)

    before = count()
    for i in range(6):
        s = reg.Site.objects.create(code=f"KS-X{i}", name=f"x{i}", kind="water_section", owner=web_region["ks"], lon=120.96, lat=31.14,
                                    waterbody=web_region["river"], target_class=3)
        write(s, "nh3_n", [(hours_back(1)[0], 0.4)], unit="mg/L")
    assert len(json.loads(client.get("/web-api/map/sites.json").content)["sites"]) == 9
    assert count() <= before + 1  # +1 at most: the correction look-up once there are values


def test_the_legend_draws_waters_as_the_map_does(client, web_region):
    """Rivers solid, schematic reaches dashed, lakes filled, both kinds of shared border: the legend
    uses the same line styles as map.js."""
    from pathlib import Path

    import gongzhi.web

    static = Path(gongzhi.web.__file__).parent / "static" / "web"
    js, css = (static / "map.js").read_text(), (static / "gongzhi.css").read_text()
    assert 'dashArray: f.properties.schematic ? "5 4" : null' in js and 'fillColor: "#9ecae1"' in js
    assert ".line.water.schematic{border-top-style:dashed}" in css and ".sq.lake{background:#9ecae1" in css
    assert ".line.border.local{border-top:2px dashed #9f7aea}" in css  # map.js: in-province borders #9f7aea, weight 2
    client.force_login(web_region["qp_user"])
    html = client.get("/map/").content.decode()
    for cls, label in (("line water", "河流（水体几何）"), ("line water schematic", "示意河段"), ("sq lake", "湖泊、水库"),
                       ("line border", "跨省共同边界"), ("line border local", "省内区县共同边界")):
        assert f'<span class="{cls}"></span>{label}' in html
    client.cookies["django_language"] = "en"
    html = client.get("/map/").content.decode()
    assert "Schematic reach" in html and "Lake, reservoir" in html


def test_the_header_names_the_bureau_in_the_chosen_language(client, web_region):
    client.force_login(web_region["qp_user"])
    assert '<span class="sp">青浦区生态环境局</span>' in client.get("/map/").content.decode()
    client.cookies["django_language"] = "en"
    assert '<span class="sp">Qingpu EEB</span>' in client.get("/map/").content.decode()
    client.force_login(web_region["js_user"])  # no English name: the Chinese one
    assert '<span class="sp">嘉善县生态环境局</span>' in client.get("/map/").content.decode()


def test_the_navigation_links_the_review_and_status_pages(client, web_region):
    client.force_login(web_region["qp_user"])
    html = client.get("/map/").content.decode()
    assert 'href="/review/">数据审核</a>' in html and 'href="/status/">运行状态</a>' in html
