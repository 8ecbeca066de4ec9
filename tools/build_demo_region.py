"""Build src/gongzhi/demo/region/region.json (format gongzhi.demo-region/1, see docs/demo-region.md).

The hand-authored demo records live in this file; the script adds what is derived from coordinates
(reach lengths: geodesic distance × SINUOSITY; chainages of sites projected on their reach; device
MNs and passwords, deterministic from the record codes) and checks every reference and every site
position against the county polygons before writing.

Run from the repository root:  PYTHONPATH=src python tools/build_demo_region.py
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from shapely.geometry import Point

from gongzhi.geo.geojson import read_features
from gongzhi.geo.metric import distance_m, geodesic_distance_m, to_metric

ROOT = Path(__file__).resolve().parents[1]
REGION_DIR = ROOT / "src" / "gongzhi" / "demo" / "region"

SINUOSITY = 1.25  # channel length / straight-line distance between reach end points [demo assumption]

# --------------------------------------------------------------------------------------------
# jurisdictions and bureaus
# --------------------------------------------------------------------------------------------
B = {"file": "districts.wgs84.geojson", "property": "adcode"}
JURISDICTIONS = [
    dict(code="310000", name="上海市", name_en="Shanghai", level="province", parent=None),
    dict(code="320000", name="江苏省", name_en="Jiangsu Province", level="province", parent=None),
    dict(code="330000", name="浙江省", name_en="Zhejiang Province", level="province", parent=None),
    dict(code="310100", name="上海市", name_en="Shanghai (municipal districts)", level="city", parent="310000",
         note="GB/T 2260 files Shanghai's districts under the city-level code 310100 (市辖区); it is shown as 上海市."),
    dict(code="320500", name="苏州市", name_en="Suzhou", level="city", parent="320000"),
    dict(code="330400", name="嘉兴市", name_en="Jiaxing", level="city", parent="330000"),
    dict(code="310114", name="嘉定区", name_en="Jiading District", level="county", parent="310100"),
    dict(code="310118", name="青浦区", name_en="Qingpu District", level="county", parent="310100"),
    dict(code="320583", name="昆山市", name_en="Kunshan City", level="county", parent="320500"),
    dict(code="320585", name="太仓市", name_en="Taicang City", level="county", parent="320500"),
    dict(code="320509", name="吴江区", name_en="Wujiang District", level="county", parent="320500"),
    dict(code="330421", name="嘉善县", name_en="Jiashan County", level="county", parent="330400"),
]
for j in JURISDICTIONS:
    j["boundary"] = dict(B, value=j["code"]) if j["level"] == "county" else None
    j.setdefault("note", None)

BUREAUS = [
    dict(code="yrd_office", name="长三角生态绿色一体化发展示范区生态环境协同办公室（示例）",
         short_name="示范区协同办", name_en="Demonstration Zone Co-governance Office (demo)",
         short_name_en="Co-governance Office", jurisdiction=None, parent=None, level="region", kind="office",
         note="A regional co-governance office: administers region-wide records (waterbodies, river network, "
              "joint zones); sees every site's registry record, and data only through agreements. Demo."),
    dict(code="shanghai", name="上海市生态环境局", short_name="上海市生态环境局",
         name_en="Shanghai Municipal Bureau of Ecology and Environment", short_name_en="Shanghai BEE",
         jurisdiction="310000", parent=None, level="province"),
    dict(code="jiangsu", name="江苏省生态环境厅", short_name="江苏省生态环境厅",
         name_en="Department of Ecology and Environment of Jiangsu Province", short_name_en="Jiangsu DEE",
         jurisdiction="320000", parent=None, level="province"),
    dict(code="zhejiang", name="浙江省生态环境厅", short_name="浙江省生态环境厅",
         name_en="Department of Ecology and Environment of Zhejiang Province", short_name_en="Zhejiang DEE",
         jurisdiction="330000", parent=None, level="province"),
    dict(code="suzhou", name="苏州市生态环境局", short_name="苏州市生态环境局",
         name_en="Suzhou Ecology and Environment Bureau", short_name_en="Suzhou EEB",
         jurisdiction="320500", parent="jiangsu", level="city"),
    dict(code="jiaxing", name="嘉兴市生态环境局", short_name="嘉兴市生态环境局",
         name_en="Jiaxing Ecology and Environment Bureau", short_name_en="Jiaxing EEB",
         jurisdiction="330400", parent="zhejiang", level="city"),
    dict(code="jiading", name="上海市嘉定区生态环境局", short_name="嘉定区生态环境局",
         name_en="Jiading District Ecology and Environment Bureau", short_name_en="Jiading EEB",
         jurisdiction="310114", parent="shanghai", level="county"),
    dict(code="qingpu", name="上海市青浦区生态环境局", short_name="青浦区生态环境局",
         name_en="Qingpu District Ecology and Environment Bureau", short_name_en="Qingpu EEB",
         jurisdiction="310118", parent="shanghai", level="county"),
    dict(code="kunshan", name="苏州市昆山生态环境局", short_name="昆山生态环境局",
         name_en="Kunshan Ecology and Environment Bureau", short_name_en="Kunshan EEB",
         jurisdiction="320583", parent="suzhou", level="county"),
    dict(code="taicang", name="苏州市太仓生态环境局", short_name="太仓生态环境局",
         name_en="Taicang Ecology and Environment Bureau", short_name_en="Taicang EEB",
         jurisdiction="320585", parent="suzhou", level="county"),
    dict(code="wujiang", name="苏州市吴江生态环境局", short_name="吴江生态环境局",
         name_en="Wujiang Ecology and Environment Bureau", short_name_en="Wujiang EEB",
         jurisdiction="320509", parent="suzhou", level="county"),
    dict(code="jiashan", name="嘉兴市生态环境局嘉善分局", short_name="嘉善分局",
         name_en="Jiashan Branch of Jiaxing Ecology and Environment Bureau", short_name_en="Jiashan EEB",
         jurisdiction="330421", parent="jiaxing", level="county"),
]
COUNTY_BUREAU = {b["jurisdiction"]: b["code"] for b in BUREAUS if b["level"] == "county"}

JOINT_ZONES = [
    dict(code="jiakuntai", name="嘉昆太联防联治区", short_name="嘉昆太", name_en="Jiading–Kunshan–Taicang joint zone",
         members=["310114", "320583", "320585"], buffer_m=500,
         coordinating_bureaus=["jiading", "kunshan", "taicang"],
         agreement=dict(name="嘉昆太生态环境联防联治合作协议（示例）", signed_on="2020-06-05", demo=True,
                        note="Demo metadata: the name and date are placeholders, not a real document."),
         note="Jiading (Shanghai) with Kunshan and Taicang (Suzhou, Jiangsu): 吴淞江, 浏河, 盐铁塘 and the "
              "Jiading–Taicang land border."),
    dict(code="qingwujia", name="青吴嘉联防联治区（长三角生态绿色一体化发展示范区）", short_name="青吴嘉",
         name_en="Qingpu–Wujiang–Jiashan joint zone (Yangtze River Delta Eco-Green Integrated Development "
                 "Demonstration Zone)",
         members=["310118", "320509", "330421"], buffer_m=500,
         coordinating_bureaus=["qingpu", "wujiang", "jiashan"],
         agreement=dict(name="示范区生态环境联保共治协议（示例）", signed_on="2020-09-01", demo=True,
                        note="Demo metadata: the name and date are placeholders, not a real document. The "
                             "demonstration zone itself (长三角生态绿色一体化发展示范区) covers exactly these "
                             "three counties; it was launched in November 2019 (general knowledge)."),
         note="太浦河, 淀山湖, 元荡, 红旗塘, 俞汇塘 cross these borders."),
]

# --------------------------------------------------------------------------------------------
# waterbodies and the schematic river network
# --------------------------------------------------------------------------------------------
K, A = "known", "demo_assumption"
WATERBODIES = [
    dict(code="taipu", name="太浦河", name_en="Taipu River", kind="river",
         jurisdictions=["320509", "330421", "310118"], direction_confidence=K,
         flow="east: from 太湖 (Taihu) at 吴江 through 汾湖/金泽 into 青浦, on to 泖河 and the upper 黄浦江",
         note="Regulated outflow of Taihu; the water-supply intake of 金泽水库 is on it."),
    dict(code="wusong", name="吴淞江", name_en="Wusong River (upper Suzhou Creek)", kind="river",
         jurisdictions=["320509", "320583", "310118", "310114"], direction_confidence=K,
         flow="east: from 太湖 at 瓜泾口 (吴江) through 昆山, along the 青浦/嘉定 border, becoming 苏州河 in Shanghai"),
    dict(code="jishui", name="急水港", name_en="Jishui Gang", kind="river",
         jurisdictions=["320583", "310118"], direction_confidence=K,
         flow="east: from 周庄 (昆山) into 淀山湖, the lake's main inflow"),
    dict(code="dazhushe", name="大朱厍港", name_en="Dazhushe Gang", kind="river",
         jurisdictions=["320583", "310118"], direction_confidence=A,
         flow="south-east: from 昆山 into the north-west of 淀山湖"),
    dict(code="dianshan", name="淀山湖", name_en="Dianshan Lake", kind="lake",
         jurisdictions=["310118", "320583"], direction_confidence=K,
         flow="fed from the west (急水港, 大朱厍港, 元荡); drains south-east via 拦路港 to 泖河 and east via 淀浦河"),
    dict(code="yuandang", name="元荡", name_en="Yuandang Lake", kind="lake",
         jurisdictions=["320509", "310118"], direction_confidence=A,
         flow="north-east into 淀山湖 near 白石矶", note="The 青浦/吴江 border runs through the lake."),
    dict(code="lanlu", name="拦路港", name_en="Lanlu Gang", kind="river",
         jurisdictions=["310118"], direction_confidence=K, flow="south-east from 淀峰 (淀山湖 outlet) to 泖河"),
    dict(code="dianpu", name="淀浦河", name_en="Dianpu River", kind="river",
         jurisdictions=["310118"], direction_confidence=K, flow="east from 淀山湖 to the 黄浦江"),
    dict(code="maohe", name="泖河（黄浦江上游）", name_en="Mao River (upper Huangpu)", kind="river",
         jurisdictions=["310118"], direction_confidence=K,
         flow="south-east: 太浦河 and 拦路港 join it; it becomes the 黄浦江 (outside the demo counties)"),
    dict(code="hongqi", name="红旗塘", name_en="Hongqi Tang", kind="river",
         jurisdictions=["330421", "310118"], direction_confidence=K,
         flow="east: from 嘉善 into 青浦, then via 大蒸塘/圆泄泾 to the 黄浦江"),
    dict(code="yuhui", name="俞汇塘", name_en="Yuhui Tang", kind="river",
         jurisdictions=["330421", "310118"], direction_confidence=A,
         flow="north from the 嘉善 border to 太浦河 [demo assumption; sluice-controlled in reality]"),
    dict(code="liuhe", name="浏河（娄江）", name_en="Liu River (Lou River)", kind="river",
         jurisdictions=["320583", "320585", "310114"], direction_confidence=K,
         flow="east: 娄江 from 昆山 becomes 浏河 through 太仓, into the Yangtze at 浏河口"),
    dict(code="yantie", name="盐铁塘", name_en="Yantie Tang", kind="river",
         jurisdictions=["320585", "310114"], direction_confidence=A,
         flow="south: from 太仓 through 嘉定 to 吴淞江 near 黄渡 [demo assumption]"),
    dict(code="huatian", name="华田泾", name_en="Huatian Jing", kind="river",
         jurisdictions=["310118"], direction_confidence=A, flow="not on the schematic network"),
]

# node code -> (name, lon, lat, kind, schematic)
NODES = {
    "N-TPH-TAIHU": ("太浦河·太浦闸（太湖出口）", 120.49, 31.01, "source", True),
    "N-TPH-LUXU": ("太浦河·芦墟", 120.80, 31.01, "station", True),
    "N-TPH-JINZE": ("金泽水文站", 120.9013, 31.0184, "station", False),
    "N-TPH-YUHUI": ("太浦河–俞汇塘口", 121.000, 31.022, "junction", True),
    "N-TPH-INTAKE": ("太浦河原水厂", 121.0453, 31.027, "station", False),
    "N-MAOHE": ("泖河（太浦河–拦路港汇合）", 121.090, 31.035, "junction", True),
    "N-HUANGPU": ("黄浦江上游（区外）", 121.200, 30.960, "outlet", True),
    "N-YHT-JS": ("俞汇塘·嘉善界", 120.995, 30.950, "source", True),
    "N-YHT": ("俞汇塘", 121.0059, 30.9869, "station", False),
    "N-HQT-XITANG": ("红旗塘·西塘", 120.930, 30.930, "station", True),
    "N-HQT": ("红旗塘", 120.9992, 30.9552, "station", False),
    "N-HQT-OUT": ("红旗塘–圆泄泾（区外）", 121.120, 30.950, "outlet", True),
    "N-JSG-ZZ": ("急水港·周庄", 120.850, 31.120, "station", True),
    "N-JSG": ("急水港", 120.9158, 31.1156, "station", False),
    "N-DSH-JSGB": ("急水港（浮标）", 120.918, 31.1069, "station", False),
    "N-DZS-JX": ("大朱厍港·锦溪", 120.900, 31.180, "station", True),
    "N-DZS": ("大朱厍", 120.9239, 31.1432, "station", False),
    "N-DSH-DZSB": ("大朱厍（浮标）", 120.9304, 31.1403, "station", False),
    "N-YD-FENHU": ("元荡·汾湖", 120.860, 31.050, "station", True),
    "N-YD": ("元荡", 120.9058, 31.0585, "station", False),
    "N-DSH-BSJ": ("白石矶（浮标）", 120.9005, 31.0814, "station", False),
    "N-DSH-CENTRE": ("淀山湖湖心", 120.955, 31.115, "lake", True),
    "N-DSH-DF": ("淀峰", 120.9792, 31.0897, "station", False),
    "N-DSH-EAST": ("湖心东区（浮标）", 121.0044, 31.1278, "station", False),
    "N-DPH-NG": ("南港大桥", 121.059, 31.117, "station", False),
    "N-DPH-OUT": ("淀浦河下游（区外）", 121.250, 31.160, "outlet", True),
    "N-WSJ-GJ": ("吴淞江·瓜泾口", 120.640, 31.200, "station", True),
    "N-WSJ-KS": ("吴淞江·昆山", 120.980, 31.285, "station", True),
    "N-WSJ-ZT": ("赵屯站", 121.0703, 31.2711, "station", False),
    "N-WSJ-HD": ("黄渡站", 121.202, 31.262, "station", False),
    "N-WSJ-OUT": ("吴淞江–苏州河（往市区）", 121.370, 31.245, "outlet", True),
    "N-LH-KS": ("娄江·昆山", 121.000, 31.400, "station", True),
    "N-LH-TC": ("浏河·太仓", 121.120, 31.430, "station", True),
    "N-LH-LD": ("浏岛大桥", 121.1885, 31.4665, "station", False),
    "N-LH-OUT": ("浏河口（长江）", 121.290, 31.510, "outlet", True),
    "N-YTT-TC": ("盐铁塘·太仓", 121.130, 31.420, "station", True),
    "N-YTT-ZHA": ("盐铁塘闸", 121.1558, 31.3869, "station", False),
}

# reach code -> (waterbody, from, to, velocity m/s, direction confidence)
REACHES = {
    "R-TPH-1": ("taipu", "N-TPH-TAIHU", "N-TPH-LUXU", 0.30, K),
    "R-TPH-2": ("taipu", "N-TPH-LUXU", "N-TPH-JINZE", 0.30, K),
    "R-TPH-3": ("taipu", "N-TPH-JINZE", "N-TPH-YUHUI", 0.30, K),
    "R-TPH-4": ("taipu", "N-TPH-YUHUI", "N-TPH-INTAKE", 0.30, K),
    "R-TPH-5": ("taipu", "N-TPH-INTAKE", "N-MAOHE", 0.30, K),
    "R-MH-1": ("maohe", "N-MAOHE", "N-HUANGPU", 0.30, K),
    "R-YHT-1": ("yuhui", "N-YHT-JS", "N-YHT", 0.15, A),
    "R-YHT-2": ("yuhui", "N-YHT", "N-TPH-YUHUI", 0.15, A),
    "R-HQT-1": ("hongqi", "N-HQT-XITANG", "N-HQT", 0.20, K),
    "R-HQT-2": ("hongqi", "N-HQT", "N-HQT-OUT", 0.20, K),
    "R-JSG-1": ("jishui", "N-JSG-ZZ", "N-JSG", 0.30, K),
    "R-JSG-2": ("jishui", "N-JSG", "N-DSH-JSGB", 0.30, K),
    "R-DSH-1": ("dianshan", "N-DSH-JSGB", "N-DSH-CENTRE", 0.05, K),
    "R-DZS-1": ("dazhushe", "N-DZS-JX", "N-DZS", 0.15, A),
    "R-DZS-2": ("dazhushe", "N-DZS", "N-DSH-DZSB", 0.15, A),
    "R-DSH-2": ("dianshan", "N-DSH-DZSB", "N-DSH-CENTRE", 0.05, K),
    "R-YD-1": ("yuandang", "N-YD-FENHU", "N-YD", 0.05, A),
    "R-YD-2": ("yuandang", "N-YD", "N-DSH-BSJ", 0.05, A),
    "R-DSH-3": ("dianshan", "N-DSH-BSJ", "N-DSH-CENTRE", 0.05, K),
    "R-DSH-4": ("dianshan", "N-DSH-CENTRE", "N-DSH-DF", 0.05, K),
    "R-DSH-5": ("dianshan", "N-DSH-CENTRE", "N-DSH-EAST", 0.05, K),
    "R-LLG-1": ("lanlu", "N-DSH-DF", "N-MAOHE", 0.25, K),
    "R-DPH-1": ("dianpu", "N-DSH-EAST", "N-DPH-NG", 0.20, K),
    "R-DPH-2": ("dianpu", "N-DPH-NG", "N-DPH-OUT", 0.20, K),
    "R-WSJ-1": ("wusong", "N-WSJ-GJ", "N-WSJ-KS", 0.20, K),
    "R-WSJ-2": ("wusong", "N-WSJ-KS", "N-WSJ-ZT", 0.20, K),
    "R-WSJ-3": ("wusong", "N-WSJ-ZT", "N-WSJ-HD", 0.20, K),
    "R-WSJ-4": ("wusong", "N-WSJ-HD", "N-WSJ-OUT", 0.20, K),
    "R-LH-1": ("liuhe", "N-LH-KS", "N-LH-TC", 0.25, K),
    "R-LH-2": ("liuhe", "N-LH-TC", "N-LH-LD", 0.25, K),
    "R-LH-3": ("liuhe", "N-LH-LD", "N-LH-OUT", 0.25, K),
    "R-YTT-1": ("yantie", "N-YTT-TC", "N-YTT-ZHA", 0.15, A),
    "R-YTT-2": ("yantie", "N-YTT-ZHA", "N-WSJ-HD", 0.15, A),
}
NOTES_REACH = {
    "R-DSH-1": "Lake reaches are a schematic through-flow path; 0.05 m/s is an effective transport velocity.",
    "R-YHT-2": "Direction assumed (north into 太浦河); in reality the lateral inflow is sluice-controlled.",
    "R-YTT-2": "Joins 吴淞江 at the 黄渡 node in this schematic.",
}

# --------------------------------------------------------------------------------------------
# sites
# --------------------------------------------------------------------------------------------
# Water sections from the Sinoyd 2018 sample (real coordinates) keyed by Sinoyd id:
# id: (code, name_en, owner county, waterbody, waterbody_type, node or None, reach for off-node points,
#      assessment level or None (-> from ControlType), target class, boundary (up, down) or None, note)
LEVEL_FROM_CONTROL = {"国控": "national", "市控": "municipal", "区控": "district"}
SINOYD_SITES = {
    51: ("W310118-051", "Jishuigang", "310118", "jishui", "river", "N-JSG", None, None, "III", ("320583", "310118"),
         "Inflow to 淀山湖 from 昆山; the source lists heliu 淀山湖."),
    54: ("W310118-054", "Jishuigang buoy", "310118", "dianshan", "lake", "N-DSH-JSGB", None, None, "III", None, None),
    50: ("W310118-050", "Dazhushe", "310118", "dazhushe", "river", "N-DZS", None, "municipal", "III", ("320583", "310118"),
         "Point is 37 m inside 昆山; the source files it under 青浦."),
    55: ("W310118-055", "Dazhushe buoy", "310118", "dianshan", "lake", "N-DSH-DZSB", None, None, "III", None, None),
    154: ("W310118-154", "Yuandang", "310118", "yuandang", "lake", "N-YD", None, "municipal", "III", ("320509", "310118"), None),
    59: ("W310118-059", "Baishiji buoy", "310118", "dianshan", "lake", "N-DSH-BSJ", None, None, "III", ("320509", "310118"),
         "On the 青浦/吴江 line."),
    57: ("W310118-057", "Lake centre north buoy", "310118", "dianshan", "lake", None, "R-DSH-2", None, "III", None, None),
    58: ("W310118-058", "No. 4 beacon buoy", "310118", "dianshan", "lake", None, "R-DSH-4", None, "III", None, None),
    53: ("W310118-053", "Fish-cage farm buoy", "310118", "dianshan", "lake", None, "R-DSH-4", None, "III", None, None),
    52: ("W310118-052", "Bathing beach buoy", "310118", "dianshan", "lake", None, "R-DSH-5", None, "III", None, None),
    56: ("W310118-056", "Lake centre east buoy", "310118", "dianshan", "lake", "N-DSH-EAST", None, None, "III", None, None),
    15: ("W310118-015", "Dianfeng", "310118", "lanlu", "river", "N-DSH-DF", None, None, "III", None,
         "淀山湖 outlet to 拦路港 (unverified reading of the name)."),
    45: ("W310118-045", "Nangang Bridge", "310118", "dianpu", "river", "N-DPH-NG", None, None, "IV", None, None),
    24: ("W310118-024", "Jinze hydrological station", "310118", "taipu", "river", "N-TPH-JINZE", None, "municipal", "II",
         ("320509", "310118"), "Point is 116 m inside 嘉善; the source files it under 青浦. 太浦河 is an unverified "
         "reading of the name."),
    25: ("W310118-025", "Taipu River raw-water works", "310118", "taipu", "river", "N-TPH-INTAKE", None, None, "II", None,
         "Drinking-water intake area."),
    150: ("W310118-150", "Yuhuitang", "310118", "yuhui", "river", "N-YHT", None, "municipal", "III", ("330421", "310118"), None),
    72: ("W310118-072", "Hongqitang", "310118", "hongqi", "river", "N-HQT", None, "municipal", "III", ("330421", "310118"), None),
    17: ("W310118-017", "Zhaotun", "310118", "wusong", "river", "N-WSJ-ZT", None, None, "III", ("320583", "310118"),
         "吴淞江 is an unverified reading of the name."),
    16: ("W310118-016", "Huangdu", "310118", "wusong", "river", "N-WSJ-HD", None, None, "III", None,
         "Point is 5 m inside 嘉定; the source files it under 青浦. 吴淞江 is an unverified reading."),
    84: ("W310114-084", "Liudao Bridge", "310114", "liuhe", "river", "N-LH-LD", None, "municipal", "III", ("320585", "310114"),
         "浏河 is an unverified reading of the name; the river runs along the 太仓/嘉定 border here [demo assumption]."),
    144: ("W310114-144", "Yantietang sluice", "310114", "yantie", "river", "N-YTT-ZHA", None, "municipal", "IV",
          ("320585", "310114"), None),
    74: ("W310118-074", "Shenzhuan Road Bridge", "310118", "huatian", "river", None, None, None, "IV", None,
         "Not on the schematic network."),
    71: ("W310114-071", "Huancheng Road Bridge", "310114", None, "river", None, None, "district", "IV", None,
         "Water body not given by the source; not on the schematic network."),
}
# Schematic sections on the Jiangsu/Zhejiang side (invented positions on the schematic network).
SCHEMATIC_WATER = [
    # code, name, name_en, owner county, waterbody, type, node, level, target, boundary
    ("W320509-S01", "太浦河太浦闸", "Taipu sluice", "320509", "taipu", "river", "N-TPH-TAIHU", "provincial", "II", None),
    ("W320509-S02", "太浦河芦墟", "Taipu River at Luxu", "320509", "taipu", "river", "N-TPH-LUXU", "provincial", "II", None),
    ("W320509-S03", "吴淞江瓜泾口", "Wusong River at Guajingkou", "320509", "wusong", "river", "N-WSJ-GJ", "provincial", "III", None),
    ("W320509-S04", "元荡汾湖", "Yuandang at Fenhu", "320509", "yuandang", "lake", "N-YD-FENHU", "municipal", "III", ("320509", "310118")),
    ("W320583-S01", "急水港周庄", "Jishuigang at Zhouzhuang", "320583", "jishui", "river", "N-JSG-ZZ", "provincial", "III", ("320583", "310118")),
    ("W320583-S02", "大朱厍港锦溪", "Dazhushe Gang at Jinxi", "320583", "dazhushe", "river", "N-DZS-JX", "municipal", "III", None),
    ("W320583-S03", "吴淞江昆山", "Wusong River in Kunshan", "320583", "wusong", "river", "N-WSJ-KS", "provincial", "III", ("320583", "310118")),
    ("W320583-S04", "娄江昆山", "Lou River in Kunshan", "320583", "liuhe", "river", "N-LH-KS", "provincial", "III", None),
    ("W320585-S01", "浏河太仓", "Liu River in Taicang", "320585", "liuhe", "river", "N-LH-TC", "provincial", "III", ("320585", "310114")),
    ("W320585-S02", "盐铁塘太仓", "Yantie Tang in Taicang", "320585", "yantie", "river", "N-YTT-TC", "municipal", "IV", ("320585", "310114")),
    ("W330421-S01", "红旗塘西塘", "Hongqi Tang at Xitang", "330421", "hongqi", "river", "N-HQT-XITANG", "provincial", "III", ("330421", "310118")),
]
DRINKING_WATER = {"W310118-025"}  # 太浦河原水厂: intake area of the 金泽 reservoir
CHARACTERISTIC = {"textile_dyeing": ["锑", "苯胺类"], "pcb": ["总铜", "总镍"], "electroplating": ["总铜", "总镍", "六价铬"],
                  "electronics": ["总铜"], "chemicals": ["挥发酚", "VOCs"], "power": ["二氧化硫", "氮氧化物", "烟尘"],
                  "auto_parts": ["VOCs"], "wood": ["VOCs", "甲醛"], "municipal_wastewater": [], "food": []}
STATION_TYPE = {"固定站": "fixed", "岸边站": "shore", "浮标站": "buoy"}
AIR_NAME_EN = {
    "1146A": "Qingpu Dianshan Lake (background)", "3271A": "Qingpu Xujing", "3268A": "Jiading Nanxiang",
    "1988A": "Kunshan Experimental Primary School", "1989A": "Zhenchuan Middle School",
    "1995A": "Taicang Monitoring Station", "1996A": "Kejiao New Town Primary School",
    "1985A": "Wujiang Environmental Protection Bureau", "1986A": "Teachers' Training School",
    "1987A": "Wujiang Development Zone", "3425A": "Yuexiu Kindergarten",
}

# --------------------------------------------------------------------------------------------
# enterprises, outlets, permit limits (all fictional)
# --------------------------------------------------------------------------------------------
def L(parameter, name, limit, unit, averaging, modelled_on, rng=None, o2=None, standard="demo permit",
      confidence="demo", citation=None):
    return dict(parameter=parameter, parameter_name=name, limit=limit, range=rng, unit=unit, averaging=averaging,
                standard=standard, modelled_on=modelled_on, confidence=confidence, citation=citation,
                reference_oxygen_pct=o2)


GB4287 = "GB 4287-2012 纺织染整工业水污染物排放标准 (and its 2015 amendment)"
GB18918 = "GB 18918-2002 城镇污水处理厂污染物排放标准 一级A"
GB21900 = "GB 21900-2008 电镀污染物排放标准"
GB8978 = "GB 8978-1996 污水综合排放标准"
GB13223 = "GB 13223-2011 火电厂大气污染物排放标准"
GB16297 = "GB 16297-1996 / local VOC standards"
GB13271 = "GB 13271-2014 锅炉大气污染物排放标准"
AMEND_URL = ("GB 4287-2012 修改单 (环境保护部公告 2015-03-27): 表1、表2 化学需氧量间接排放限值调整为 500(园区企业向园区"
             "污水处理厂排放)/200; text seen at http://noqb24.cn/dgweb_content-505724.html")


def dyeing_direct():
    return [L("w01018", "化学需氧量", 80, "mg/L", "day", GB4287), L("w21003", "氨氮", 10, "mg/L", "day", GB4287),
            L("w21011", "总磷", 0.5, "mg/L", "day", GB4287), L("w21001", "总氮", 15, "mg/L", "day", GB4287),
            L("w01001", "pH值", None, "dimensionless", "instant", GB4287, rng=[6, 9]),
            L("x-sb", "锑", 0.10, "mg/L", "day", GB4287),
            L("w00000", "污水", 2000, "m3/d", "day", "demo permit daily volume")]


def dyeing_indirect():
    return [L("w01018", "化学需氧量", 500, "mg/L", "day", GB4287, standard="GB 4287-2012 表2 (2015 修改单) 间接排放, 园区企业",
              confidence="cited", citation=AMEND_URL),
            L("w21003", "氨氮", 20, "mg/L", "day", GB4287), L("w01001", "pH值", None, "dimensionless", "instant", GB4287, rng=[6, 9]),
            L("x-sb", "锑", 0.10, "mg/L", "day", GB4287), L("w00000", "污水", 3000, "m3/d", "day", "demo permit daily volume")]


def wwtp():
    return [L("w01018", "化学需氧量", 50, "mg/L", "day", GB18918), L("w21003", "氨氮", 5, "mg/L", "day", GB18918),
            L("w21011", "总磷", 0.5, "mg/L", "day", GB18918), L("w21001", "总氮", 15, "mg/L", "day", GB18918),
            L("w01001", "pH值", None, "dimensionless", "instant", GB18918, rng=[6, 9]),
            L("w00000", "污水", 100000, "m3/d", "day", "demo permit daily volume")]


def pcb():
    return [L("w01018", "化学需氧量", 80, "mg/L", "day", GB21900), L("w21003", "氨氮", 15, "mg/L", "day", GB21900),
            L("w21011", "总磷", 1.0, "mg/L", "day", GB21900), L("w20122", "总铜", 0.5, "mg/L", "day", GB21900),
            L("w20121", "总镍", 0.5, "mg/L", "day", GB21900), L("w01001", "pH值", None, "dimensionless", "instant", GB21900, rng=[6, 9])]


def chem():
    return [L("w01018", "化学需氧量", 60, "mg/L", "day", GB8978), L("w21003", "氨氮", 8, "mg/L", "day", GB8978),
            L("w21011", "总磷", 0.5, "mg/L", "day", GB8978), L("w01001", "pH值", None, "dimensionless", "instant", GB8978, rng=[6, 9]),
            L("w23002", "挥发酚", 0.5, "mg/L", "day", GB8978)]


def coal_flue():
    return [L("a21026", "二氧化硫", 35, "mg/m3", "hour", GB13223 + " (ultra-low emission level)", o2=6),
            L("a21002", "氮氧化物", 50, "mg/m3", "hour", GB13223 + " (ultra-low emission level)", o2=6),
            L("a34013", "烟尘", 10, "mg/m3", "hour", GB13223 + " (ultra-low emission level)", o2=6)]


def gas_boiler():
    return [L("a21002", "氮氧化物", 50, "mg/m3", "hour", GB13271, o2=3.5),
            L("a21026", "二氧化硫", 35, "mg/m3", "hour", GB13271, o2=3.5),
            L("a34013", "烟尘", 5, "mg/m3", "hour", GB13271, o2=3.5)]


def voc():
    return [L("a24088", "非甲烷总烃", 50, "mg/m3", "hour", GB16297), L("a25002", "苯", 1, "mg/m3", "hour", GB16297),
            L("a25005", "二甲苯", 20, "mg/m3", "hour", GB16297)]


def WW(suffix, name, lon, lat, mode, waterbody, reach, limits):
    return dict(suffix=suffix, name=name, kind="wastewater", discharge_mode=mode, lon=lon, lat=lat,
                receiving_waterbody=waterbody, reach=reach, limits=limits)


def FG(suffix, name, lon, lat, limits):
    return dict(suffix=suffix, name=name, kind="flue_gas", discharge_mode=None, lon=lon, lat=lat,
                receiving_waterbody=None, reach=None, limits=limits)


# code, name, name_en, industry, industry_name, county, lon, lat, outlets
ENTERPRISES = [
    ("E320509-01", "示例盛泽印染有限公司", "Demo Shengze Dyeing Co., Ltd.", "textile_dyeing", "纺织印染", "320509", 120.700, 31.005,
     [WW("DW001", "废水总排口", 120.702, 31.008, "direct", "taipu", "R-TPH-1", dyeing_direct())]),
    ("E320509-02", "示例汾湖染整有限公司", "Demo Fenhu Dyeing and Finishing Co., Ltd.", "textile_dyeing", "纺织印染", "320509",
     120.830, 31.012, [WW("DW001", "废水总排口", 120.832, 31.014, "direct", "taipu", "R-TPH-2", dyeing_direct()),
                        FG("DA001", "定型机废气排口", 120.829, 31.011, voc())]),
    ("E320509-03", "示例平望织造印花有限公司", "Demo Pingwang Weaving and Printing Co., Ltd.", "textile_dyeing", "纺织印染",
     "320509", 120.640, 30.985, [WW("DW001", "废水总排口", 120.641, 30.986, "indirect", None, None, dyeing_indirect())]),
    ("E320509-04", "示例吴江城南污水处理有限公司", "Demo Wujiang South Wastewater Treatment Co., Ltd.", "municipal_wastewater",
     "城镇污水处理", "320509", 120.600, 31.010, [WW("DW001", "尾水排放口", 120.602, 31.011, "direct", "taipu", "R-TPH-1", wwtp())]),
    ("E320583-01", "示例昆山精密线路板有限公司", "Demo Kunshan Precision PCB Co., Ltd.", "pcb", "印制电路板", "320583",
     121.000, 31.300, [WW("DW001", "废水总排口", 121.005, 31.288, "direct", "wusong", "R-WSJ-2", pcb())]),
    ("E320583-02", "示例昆山电子材料有限公司", "Demo Kunshan Electronic Materials Co., Ltd.", "electronics", "电子元器件", "320583",
     120.960, 31.360, [WW("DW001", "废水总排口", 120.961, 31.359, "indirect", None, None, pcb()),
                        FG("DA001", "工艺废气排口", 120.959, 31.361, voc())]),
    ("E320583-03", "示例昆山吴淞江污水处理有限公司", "Demo Kunshan Wusong River Wastewater Co., Ltd.", "municipal_wastewater",
     "城镇污水处理", "320583", 120.940, 31.290, [WW("DW001", "尾水排放口", 120.942, 31.287, "direct", "wusong", "R-WSJ-2", wwtp())]),
    ("E320583-04", "示例周庄水质净化有限公司", "Demo Zhouzhuang Water Purification Co., Ltd.", "municipal_wastewater",
     "城镇污水处理", "320583", 120.860, 31.125, [WW("DW001", "尾水排放口", 120.862, 31.123, "direct", "jishui", "R-JSG-1", wwtp())]),
    ("E320585-01", "示例太仓港区精细化工有限公司", "Demo Taicang Port Fine Chemicals Co., Ltd.", "chemicals", "化学原料和化学制品",
     "320585", 121.200, 31.600, [WW("DW001", "废水总排口", 121.205, 31.602, "direct", None, None, chem()),
                                  FG("DA001", "工艺废气排口", 121.199, 31.601, voc())]),
    ("E320585-02", "示例太仓新材料化工有限公司", "Demo Taicang New Materials Chemical Co., Ltd.", "chemicals", "化学原料和化学制品",
     "320585", 121.180, 31.560, [WW("DW001", "废水总排口", 121.181, 31.559, "indirect", None, None, chem())]),
    ("E320585-03", "示例太仓热电有限公司", "Demo Taicang Thermal Power Co., Ltd.", "power", "火力发电", "320585", 121.150, 31.620,
     [FG("DA001", "1号机组烟囱", 121.151, 31.621, coal_flue()), FG("DA002", "2号机组烟囱", 121.152, 31.620, coal_flue())]),
    ("E320585-04", "示例太仓城区污水处理有限公司", "Demo Taicang Urban Wastewater Co., Ltd.", "municipal_wastewater",
     "城镇污水处理", "320585", 121.130, 31.440, [WW("DW001", "尾水排放口", 121.135, 31.437, "direct", "liuhe", "R-LH-2", wwtp())]),
    ("E310114-01", "示例嘉定汽车零部件涂装有限公司", "Demo Jiading Auto Parts Coating Co., Ltd.", "auto_parts", "汽车零部件制造",
     "310114", 121.170, 31.300, [FG("DA001", "涂装废气排口", 121.171, 31.301, voc())]),
    ("E310114-02", "示例嘉定水质净化有限公司", "Demo Jiading Water Purification Co., Ltd.", "municipal_wastewater", "城镇污水处理",
     "310114", 121.190, 31.330, [WW("DW001", "尾水排放口", 121.160, 31.370, "direct", "yantie", "R-YTT-2", wwtp())]),
    ("E310114-03", "示例嘉定精密电镀有限公司", "Demo Jiading Precision Plating Co., Ltd.", "electroplating", "电镀", "310114",
     121.230, 31.380, [WW("DW001", "废水总排口", 121.231, 31.379, "indirect", None, None, pcb())]),
    ("E310118-01", "示例青浦水质净化有限公司", "Demo Qingpu Water Purification Co., Ltd.", "municipal_wastewater", "城镇污水处理",
     "310118", 121.080, 31.140, [WW("DW001", "尾水排放口", 121.070, 31.120, "direct", "dianpu", "R-DPH-2", wwtp())]),
    ("E310118-02", "示例金泽食品有限公司", "Demo Jinze Foods Co., Ltd.", "food", "食品制造", "310118", 120.940, 31.040,
     [WW("DW001", "废水总排口", 120.941, 31.041, "indirect", None, None, wwtp()),
      FG("DA001", "燃气锅炉排口", 120.939, 31.040, gas_boiler())]),
    ("E330421-01", "示例嘉善水务有限公司", "Demo Jiashan Water Co., Ltd.", "municipal_wastewater", "城镇污水处理", "330421",
     120.960, 30.940, [WW("DW001", "尾水排放口", 120.965, 30.943, "direct", "hongqi", "R-HQT-1", wwtp())]),
    ("E330421-02", "示例嘉善木业有限公司", "Demo Jiashan Wood Products Co., Ltd.", "wood", "木材加工", "330421", 120.900, 30.850,
     [FG("DA001", "热压废气排口", 120.901, 30.851, voc()), FG("DA002", "燃气锅炉排口", 120.902, 30.850, gas_boiler())]),
    ("E330421-03", "示例西塘纺织印染有限公司", "Demo Xitang Textile Dyeing Co., Ltd.", "textile_dyeing", "纺织印染", "330421",
     120.900, 30.920, [WW("DW001", "废水总排口", 120.901, 30.921, "indirect", None, None, dyeing_indirect())]),
]
WATER_PARAMS_STATION = ["w01001", "w01009", "w01010", "w01014", "w01019", "w21003", "w21011", "w21001"]
AIR_PARAMS = ["a21026", "a21004", "a21005", "a05024", "a34002", "a34004"]
WW_PARAMS = {"textile_dyeing": ["w00000", "w01018", "w21003", "w21011", "w21001", "w01001", "x-sb"],
             "pcb": ["w00000", "w01018", "w21003", "w20122", "w20121", "w01001"],
             "electronics": ["w00000", "w01018", "w21003", "w20122", "w01001"],
             "electroplating": ["w00000", "w01018", "w21003", "w20122", "w20121", "w01001"],
             "municipal_wastewater": ["w00000", "w01018", "w21003", "w21011", "w21001", "w01001"],
             "chemicals": ["w00000", "w01018", "w21003", "w21011", "w01001"],
             "food": ["w00000", "w01018", "w21003", "w01001"]}
FG_PARAMS_COMBUSTION = ["a00000", "a21026", "a21002", "a34013", "a19001", "a01011", "a01012", "a01013", "a01014"]
FG_PARAMS_VOC = ["a00000", "a24088", "a19001", "a01011", "a01012", "a01013", "a01014"]

# --------------------------------------------------------------------------------------------
# users and sharing agreements
# --------------------------------------------------------------------------------------------
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
ROLES_PER_COUNTY = ["administrator", "analyst", "monitoring_staff", "enforcement_officer", "river_chief",
                    "emergency_duty_officer", "viewer"]
ROLE_SHORT = {"administrator": "admin", "analyst": "analyst", "monitoring_staff": "monitor",
              "enforcement_officer": "enforcer", "river_chief": "riverchief", "emergency_duty_officer": "duty",
              "viewer": "viewer"}


def build():
    districts = {f["properties"]["adcode"]: f for f in read_features(REGION_DIR / "districts.wgs84.geojson")}
    from shapely.geometry import shape

    polys = {c: shape(f["geometry"]) for c, f in districts.items()}

    def county_of(lon, lat):
        p = Point(lon, lat)
        return [c for c, g in polys.items() if g.contains(p)]

    def border_dist(lon, lat):
        p = Point(lon, lat)
        return min(distance_m(p, g.boundary) for g in polys.values())

    # network -------------------------------------------------------------------------------
    nodes = [dict(code=c, name=n, lon=lon, lat=lat, kind=k, schematic=s) for c, (n, lon, lat, k, s) in NODES.items()]
    reaches = []
    for code, (wb, a, b, v, conf) in REACHES.items():
        na, nb = NODES[a], NODES[b]
        length = round(geodesic_distance_m(na[1], na[2], nb[1], nb[2]) * SINUOSITY, -1)
        reaches.append(dict(code=code, waterbody=wb, from_node=a, to_node=b, length_m=length, velocity_m_s=v,
                            direction_confidence=conf, note=NOTES_REACH.get(code)))
    reach_by = {r["code"]: r for r in reaches}
    # a site placed on a node sits at chainage 0 of the node's (first) outgoing reach; an outlet node
    # has no outgoing reach, so it sits at the end of its incoming reach.
    out_of = {}
    into = {}
    for r in reaches:
        out_of.setdefault(r["from_node"], r)
        into.setdefault(r["to_node"], r)

    def on_node(node):
        if node in out_of:
            return out_of[node]["code"], 0.0
        r = into[node]
        return r["code"], r["length_m"]

    def project(reach_code, lon, lat):
        r = reach_by[reach_code]
        a, b = NODES[r["from_node"]], NODES[r["to_node"]]
        from shapely.geometry import LineString

        line = to_metric(LineString([(a[1], a[2]), (b[1], b[2])]))
        frac = line.project(to_metric(Point(lon, lat)), normalized=True)
        return round(frac * r["length_m"], -1)

    # sites -------------------------------------------------------------------------------
    sinoyd = {f["properties"]["sinoyd_id"]: f for f in read_features(REGION_DIR / "water_stations_sinoyd.wgs84.geojson")}
    sites = []
    for sid, (code, name_en, county, wb, wbt, node, reach, level, target, bnd, note) in SINOYD_SITES.items():
        f = sinoyd[sid]
        p = f["properties"]
        lon, lat = f["geometry"]["coordinates"]
        ctrl = p["control_type"]
        if level is None:
            level = LEVEL_FROM_CONTROL[ctrl]
            level_src = f"source ControlType {ctrl}"
        else:
            level_src = f"source ControlType {ctrl}" if ctrl else "demo"
            if ctrl:
                level = LEVEL_FROM_CONTROL[ctrl]
        if node:
            reach, chain = on_node(node)
        elif reach:
            chain = project(reach, lon, lat)
        else:
            chain = None
        sites.append(dict(
            code=code, name=p["name"], name_en=name_en, kind="water_section", lon=lon, lat=lat,
            owner_bureau=COUNTY_BUREAU[county], jurisdiction=county,
            district_assignment_uncertain=bool(p["district_assignment_uncertain"]) or county_of(lon, lat) != [county],
            schematic=False, automatic=True,
            source=dict(dataset="sinoyd_2018", id=sid, name_in_source=p["name"], area_in_source=p["area_in_source"],
                        control_type=ctrl, water_body_hint=p["water_body_hint"]),
            note=note, waterbody=wb, waterbody_type=wbt, station_type=STATION_TYPE[p["site_type"]],
            assessment_level=level, assessment_level_source=level_src, target_class=target,
            boundary_section=bnd is not None, upstream_jurisdiction=bnd[0] if bnd else None,
            downstream_jurisdiction=bnd[1] if bnd else None, reach=reach, chainage_m=chain,
            drinking_water_source=code in DRINKING_WATER))
    for code, name, name_en, county, wb, wbt, node, level, target, bnd in SCHEMATIC_WATER:
        _, lon, lat, _, _ = NODES[node]
        reach, chain = on_node(node)
        sites.append(dict(
            code=code, name=name + "（示意）", name_en=name_en + " (schematic)", kind="water_section", lon=lon, lat=lat,
            owner_bureau=COUNTY_BUREAU[county], jurisdiction=county,
            district_assignment_uncertain=county_of(lon, lat) != [county] or border_dist(lon, lat) < 300,
            schematic=True, automatic=True, source=None,
            note="Schematic section invented for the demo: position and existence are not real.",
            waterbody=wb, waterbody_type=wbt, station_type="fixed", assessment_level=level,
            assessment_level_source="demo", target_class=target, boundary_section=bnd is not None,
            upstream_jurisdiction=bnd[0] if bnd else None, downstream_jurisdiction=bnd[1] if bnd else None,
            reach=reach, chainage_m=chain, drinking_water_source=False))
    for f in read_features(REGION_DIR / "air_stations_cnemc.geojson"):
        p = f["properties"]
        if not p["demo_district"]:
            continue
        lon, lat = f["geometry"]["coordinates"]
        county = p["demo_district"]
        sites.append(dict(
            code=p["code"], name=p["name"], name_en=AIR_NAME_EN[p["code"]], kind="air_station", lon=lon, lat=lat,
            owner_bureau=COUNTY_BUREAU[county], jurisdiction=county,
            district_assignment_uncertain=border_dist(lon, lat) < 300, schematic=False, automatic=True,
            source=dict(dataset="cnemc_2022", id=p["code"], name_in_source=p["name"], city_in_source=p["city"]),
            note="CNEMC national station; national stations are operated under CNEMC, the county bureau is the "
                 "demo data owner.", network="national", control_point=p["control_point"], cnemc_code=p["code"]))
    sites.append(dict(
        code="A330421-S01", name="嘉善城区（示意）", name_en="Jiashan urban (schematic)", kind="air_station",
        lon=120.920, lat=30.840, owner_bureau="jiashan", jurisdiction="330421", district_assignment_uncertain=False,
        schematic=True, automatic=True, source=None,
        note="嘉善 has no CNEMC national air station; this schematic station exists only in the demo.",
        network="demo", control_point=False, cnemc_code=None))

    # enterprises -------------------------------------------------------------------------
    enterprises = []
    for code, name, name_en, ind, ind_name, county, lon, lat, outlets in ENTERPRISES:
        outs = []
        for o in outlets:
            o = dict(o)
            suffix = o.pop("suffix")
            o["code"] = f"{code}-{suffix}"
            o["chainage_m"] = project(o["reach"], o["lon"], o["lat"]) if o["reach"] else None
            outs.append(o)
        enterprises.append(dict(code=code, name=name, name_en=name_en, industry=ind, industry_name=ind_name,
                                jurisdiction=county, owner_bureau=COUNTY_BUREAU[county], lon=lon, lat=lat, demo=True,
                                characteristic_pollutants=CHARACTERISTIC[ind], outlets=outs))

    # devices -----------------------------------------------------------------------------
    def mn_for(code):
        return hashlib.sha256(("gongzhi-demo-mn:" + code).encode()).hexdigest()[:24].upper()

    def pw_for(code):
        return str(int(hashlib.sha256(("gongzhi-demo-pw:" + code).encode()).hexdigest(), 16) % 1000000).zfill(6)

    devices = []
    for s in sites:
        if not s["automatic"]:
            continue
        water = s["kind"] == "water_section"
        devices.append(dict(mn=mn_for(s["code"]), password=pw_for(s["code"]), protocol="hj212-2017",
                            st="21" if water else "22", site=s["code"], outlet=None, owner_bureau=s["owner_bureau"],
                            parameters=WATER_PARAMS_STATION if water else AIR_PARAMS, interval_s=60 if not water else 3600,
                            name=f"{s['name']} 数采仪"))
    for e in enterprises:
        for o in e["outlets"]:
            if o["kind"] == "wastewater":
                params = list(WW_PARAMS[e["industry"]])
                st = "32"
            else:
                voc_only = all(li["parameter"].startswith("a24") or li["parameter"].startswith("a25") for li in o["limits"])
                params = FG_PARAMS_VOC if voc_only else FG_PARAMS_COMBUSTION
                st = "31"
            devices.append(dict(mn=mn_for(o["code"]), password=pw_for(o["code"]), protocol="hj212-2017", st=st,
                                site=None, outlet=o["code"], owner_bureau=e["owner_bureau"], parameters=params,
                                interval_s=60, name=f"{e['name']} {o['name']} 数采仪"))

    # users -------------------------------------------------------------------------------
    users = []
    i = 0
    for b in BUREAUS:
        roles = ROLES_PER_COUNTY if b["level"] == "county" else ["administrator", "analyst", "monitoring_staff", "viewer"]
        for role in roles:
            surname = SURNAMES[i % len(SURNAMES)]
            i += 1
            users.append(dict(username=f"{b['code']}_{ROLE_SHORT[role]}", bureau=b["code"], role=role,
                              full_name=f"{surname}示例", email=f"{b['code']}_{ROLE_SHORT[role]}@example.org"))

    # sharing agreements -------------------------------------------------------------------
    agreements = []
    for zone, level, purpose in (
        ("jiakuntai", "raw", "嘉昆太联防联治：交界断面实时数据互享（原始数据），用于预警和联合执法 [demo]"),
        ("qingwujia", "validated", "示范区联保共治：跨界断面审核后数据互享，用于水质考核和生态补偿 [demo]"),
    ):
        z = next(z for z in JOINT_ZONES if z["code"] == zone)
        members = z["coordinating_bureaus"]
        for prov in members:
            agreements.append(dict(
                code=f"SA-{zone}-{prov}", name=f"{z['short_name']} {prov} 交界断面数据共享（示例）", provider=prov,
                recipients=[m for m in members if m != prov], joint_zone=zone,
                scope=dict(sites="boundary_sections", kinds=["water_section"], parameters="all"), level=level,
                purpose=purpose, valid_from=z["agreement"]["signed_on"], valid_to=None, demo=True))
    # neighbours across a zone line share their boundary sections too (青浦–昆山: 63 km of border,
    # 急水港 / 大朱厍 / 赵屯 / 吴淞江)
    for prov, rec in (("qingpu", "kunshan"), ("kunshan", "qingpu")):
        agreements.append(dict(
            code=f"SA-border-{prov}-{rec}", name=f"沪苏交界 {prov}→{rec} 交界断面数据共享（示例）", provider=prov,
            recipients=[rec], joint_zone=None,
            scope=dict(sites="boundary_sections", kinds=["water_section"], parameters="all"), level="raw",
            purpose="青昆交界河湖联保：交界断面实时数据互享，用于预警 [demo]", valid_from="2021-03-01",
            valid_to=None, demo=True))
    # the demonstration zone's three bureaus share their enterprises' online monitoring (outlets) for
    # joint enforcement and source tracing (a downstream alarm ranks the upstream outlets by their data)
    z = next(z for z in JOINT_ZONES if z["code"] == "qingwujia")
    for prov in z["coordinating_bureaus"]:
        agreements.append(dict(
            code=f"SA-qingwujia-outlets-{prov}", name=f"青吴嘉 {prov} 重点排污单位在线监测数据共享（示例）", provider=prov,
            recipients=[m for m in z["coordinating_bureaus"] if m != prov], joint_zone="qingwujia",
            scope=dict(sites=[], enterprises="all", parameters="all"), level="raw",
            purpose="示范区联合执法与污染溯源：排放口在线监测数据互享 [demo]", valid_from=z["agreement"]["signed_on"],
            valid_to=None, demo=True))
    agreements.append(dict(
        code="SA-qingwujia-air", name="示范区空气站数据共享（示例）", provider="qingpu", recipients=["wujiang", "jiashan"],
        joint_zone="qingwujia", scope=dict(sites="all", kinds=["air_station"], parameters=AIR_PARAMS), level="validated",
        purpose="区域空气质量联防联控会商 [demo]", valid_from="2020-09-01", valid_to=None, demo=True))
    for county_bureau, parent in (("jiading", "shanghai"), ("qingpu", "shanghai"), ("kunshan", "suzhou"),
                                  ("taicang", "suzhou"), ("wujiang", "suzhou"), ("jiashan", "jiaxing")):
        agreements.append(dict(
            code=f"SA-{county_bureau}-to-{parent}", name=f"{county_bureau} → {parent} 全部数据上报（示例）",
            provider=county_bureau, recipients=[parent], joint_zone=None,
            scope=dict(sites="all", kinds=["water_section", "air_station"], parameters="all"), level="raw",
            purpose="上级生态环境部门监督管理 [demo]", valid_from="2020-01-01", valid_to=None, demo=True))

    region = {
        "format": "gongzhi.demo-region/1",
        "name": "长三角沪苏浙交界示范区域（演示）",
        "name_en": "Shanghai–Jiangsu–Zhejiang border demo region",
        "description": "Six county-level jurisdictions around the Shanghai–Jiangsu–Zhejiang border with two joint "
                       "governance areas (嘉昆太, 青吴嘉). Demonstration data: boundaries from Amap/DataV (no open "
                       "licence, see PROVENANCE.md), real station coordinates, a schematic river network and "
                       "fictional enterprises, devices and users.",
        "datum": "WGS-84",
        "demo": True,
        "files": {"districts": "districts.wgs84.geojson", "shared_borders": "shared_borders.wgs84.geojson",
                  "air_stations_source": "air_stations_cnemc.geojson",
                  "water_stations_source": "water_stations_sinoyd.wgs84.geojson"},
        "assumptions": {
            "sinuosity": f"Reach length = geodesic distance between its end nodes × {SINUOSITY} (typical plain-river "
                         "sinuosity; demo assumption).",
            "velocities": "Rivers 0.15–0.30 m/s, lakes 0.05 m/s effective through-flow (demo assumptions; real "
                          "velocities in this tidal, sluice-controlled plain river net vary and reverse).",
            "network": "Schematic: nodes at real station points (schematic: false) or invented positions "
                       "(schematic: true); no river geometry is available (see PROVENANCE.md).",
            "target_classes": "All target classes are demo values, not the official assessment targets.",
            "assessment_levels": "From the source ControlType (国控/市控/区控) where given, else demo.",
            "permits": "Enterprises are fictional. Limits are demo permit values modelled on the named standard; "
                       "confidence 'cited' marks the values read in the standard text (with citation), 'demo' all "
                       "others, which must not be quoted as the standard's values.",
            "mn": "Device MNs and passwords are derived deterministically from the record codes (sha256); demo only.",
        },
        "jurisdictions": JURISDICTIONS,
        "bureaus": BUREAUS,
        "joint_zones": JOINT_ZONES,
        "waterbodies": [dict(w, note=w.get("note")) for w in WATERBODIES],
        "river_network": {"schematic": True, "sinuosity": SINUOSITY,
                          "note": "Schematic directed network; see assumptions.", "nodes": nodes, "reaches": reaches},
        "sites": sites,
        "enterprises": enterprises,
        "devices": devices,
        "users": users,
        "sharing_agreements": agreements,
    }
    return region


def main():
    region = build()
    out = REGION_DIR / "region.json"
    out.write_text(json.dumps(region, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    counts = {k: len(v) for k, v in region.items() if isinstance(v, list)}
    counts["nodes"] = len(region["river_network"]["nodes"])
    counts["reaches"] = len(region["river_network"]["reaches"])
    print(out, counts)


if __name__ == "__main__":
    main()
