"""Load the demo region (``gongzhi/demo/region/region.json``) into the registry.

Every write goes through the registry's models inside one transaction with the
audit actor ``demo``; a failure leaves nothing half-loaded. Passwords of the demo
users are generated here, never stored in the repository, and written (mode
0600) to ``<data dir>/demo-users.txt`` so they can be read again.
"""

from __future__ import annotations

import json
import os
import secrets
import string
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from django.contrib.auth.hashers import make_password
from django.db import transaction

from gongzhi.accounts.models import User
from gongzhi.audit.context import acting_as
from gongzhi.demo.region import load_region, resource_path
from gongzhi.registry import models as reg
from gongzhi.registry import services
from gongzhi.sharing.models import SharingAgreement

ROMAN = {"I": 1, "II": 2, "III": 3, "IV": 4, "V": 5}
PROTOCOLS = {"hj212-2005": "2005", "hj212-2017": "2017", "hj212-2025": "2025"}
AVERAGING = {"instant": "instant", "hour": "hour", "day": "day", "month": "month", "year": "year"}
UNIT_SYMBOLS = {"mg/m3": "mg/m³", "ug/m3": "µg/m³", "dimensionless": "1"}


class RegionDataError(Exception):
    """region.json does not say what the loader needs; the message names the record."""


@dataclass
class LoadReport:
    counts: dict[str, int] = field(default_factory=dict)
    users: list[tuple[str, str, str, str]] = field(default_factory=list)  # username, password, bureau, role
    skipped: bool = False

    def add(self, kind: str, n: int = 1) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + n


def _password(n: int = 12) -> str:
    alphabet = string.ascii_letters + string.digits
    while True:
        pw = "".join(secrets.choice(alphabet) for _ in range(n))
        if any(c.isdigit() for c in pw) and any(c.isalpha() for c in pw):
            return pw


def _geometry_from_ref(ref: dict | None, cache: dict) -> dict | None:
    if not ref:
        return None
    name = ref["file"]
    if name not in cache:
        cache[name] = json.loads(resource_path(name).read_text(encoding="utf-8"))
    fc = cache[name]
    for feat in fc.get("features", []):
        if str(feat.get("properties", {}).get(ref["property"])) == str(ref["value"]):
            return feat["geometry"]
    raise RegionDataError(f"{name}: no feature with {ref['property']}={ref['value']}")


def _get(mapping: dict, code, what: str, owner: str):
    if code is None:
        return None
    try:
        return mapping[code]
    except KeyError:
        raise RegionDataError(f"{owner}: unknown {what} {code!r}") from None


def region_loaded() -> bool:
    return reg.Bureau.objects.exists()


def load_demo_region(*, data_dir: Path | None = None, region: dict | None = None, with_passwords: bool = True) -> LoadReport:
    """Load the demo region into an empty registry. Does nothing when bureaus exist already."""
    report = LoadReport()
    if region_loaded():
        report.skipped = True
        return report
    region = region or load_region()
    if not str(region.get("format", "")).startswith("gongzhi.demo-region/1"):
        raise RegionDataError(f"unsupported region format {region.get('format')!r}")
    with acting_as(None, via="demo", reason="demo region"), transaction.atomic():
        services.seed_parameter_catalog(via="demo")
        _load(region, report, with_passwords)
    if data_dir is not None and report.users:
        write_user_file(Path(data_dir), report.users)
    return report


def _load(region: dict, report: LoadReport, with_passwords: bool) -> None:
    geo_cache: dict = {}
    # jurisdictions, parents first
    juris: dict[str, reg.Jurisdiction] = {}
    pending = list(region["jurisdictions"])
    while pending:
        progressed = False
        for j in list(pending):
            if j.get("parent") and j["parent"] not in juris:
                continue
            obj = reg.Jurisdiction(
                adcode=j["code"], name=j["name"], name_en=j.get("name_en") or "", level=j["level"],
                parent=juris.get(j.get("parent")),
                boundary=_geometry_from_ref(j.get("boundary"), geo_cache),
                boundary_source="demo: Amap/DataV via shared/data (GCJ-02 → WGS-84)" if j.get("boundary") else "",
            )
            if obj.boundary:
                obj.area_km2 = round(_area_km2(obj.boundary), 1)
            obj.full_clean()
            obj.save()
            juris[obj.adcode] = obj
            pending.remove(j)
            progressed = True
            report.add("jurisdictions")
        if not progressed:
            raise RegionDataError(f"jurisdictions with unknown parents: {[j['code'] for j in pending]}")

    bureaus: dict[str, reg.Bureau] = {}
    for b in region["bureaus"]:
        obj = reg.Bureau(
            code=b["code"], name=b["name"], short_name=b.get("short_name") or b["name"], name_en=b.get("name_en") or "",
            kind=b.get("kind") or reg.BureauKind.BUREAU,
            jurisdiction=_get(juris, b.get("jurisdiction"), "jurisdiction", f"bureau {b['code']}"),
        )
        obj.full_clean()
        obj.save()
        bureaus[obj.code] = obj
        report.add("bureaus")
    for b in region["bureaus"]:
        if b.get("parent"):
            obj = bureaus[b["code"]]
            obj.parent = _get(bureaus, b["parent"], "bureau", f"bureau {b['code']}")
            obj.save(update_fields=["parent"])

    waters: dict[str, reg.Waterbody] = {}
    for w in region["waterbodies"]:
        obj = reg.Waterbody(
            code=w["code"], name=w["name"], name_en=w.get("name_en") or "", kind=w["kind"],
            notes="; ".join(x for x in (w.get("flow"), w.get("note")) if x),
        )
        obj.full_clean()
        obj.save()
        waters[obj.code] = obj
        report.add("waterbodies")

    net = region["river_network"]
    nodes: dict[str, reg.RiverNode] = {}
    for n in net["nodes"]:
        obj = reg.RiverNode(code=n["code"], name=n.get("name") or "", lon=n["lon"], lat=n["lat"])
        obj.full_clean()
        obj.save()
        nodes[obj.code] = obj
        report.add("river nodes")
    reaches: dict[str, reg.Reach] = {}
    for r in net["reaches"]:
        where = f"reach {r['code']}"
        frm = _get(nodes, r["from_node"], "node", where)
        to = _get(nodes, r["to_node"], "node", where)
        obj = reg.Reach(
            code=r["code"], waterbody=_get(waters, r["waterbody"], "waterbody", where), from_node=frm, to_node=to,
            length_m=r["length_m"], velocity_m_s=r["velocity_m_s"], schematic=bool(net.get("schematic", True)),
            geometry={"type": "LineString", "coordinates": [[frm.lon, frm.lat], [to.lon, to.lat]]},
        )
        obj.full_clean()
        obj.save()
        reaches[obj.code] = obj
        report.add("reaches")

    sites: dict[str, reg.Site] = {}
    for s in region["sites"]:
        where = f"site {s['code']}"
        src = s.get("source") or {}
        obj = reg.Site(
            code=s["code"], name=s["name"], name_en=s.get("name_en") or "", kind=s["kind"],
            owner=_get(bureaus, s["owner_bureau"], "bureau", where),
            jurisdiction=_get(juris, s.get("jurisdiction"), "jurisdiction", where),
            lon=s["lon"], lat=s["lat"], automatic=bool(s.get("automatic", True)),
            schematic=bool(s.get("schematic")), district_assignment_uncertain=bool(s.get("district_assignment_uncertain")),
            location_note=(s.get("note") or "")[:255],
            source=(f"{src.get('dataset')}:{src.get('id')}" if src else "demo")[:255],
        )
        if s["kind"] == reg.SiteKind.WATER_SECTION:
            obj.waterbody = _get(waters, s.get("waterbody"), "waterbody", where)
            obj.waterbody_type = s.get("waterbody_type") or ""
            obj.station_type = s.get("station_type") or ""
            obj.assessment_level = s.get("assessment_level") or reg.AssessmentLevel.NONE
            obj.target_class = ROMAN.get(s.get("target_class")) if s.get("target_class") else None
            obj.is_boundary = bool(s.get("boundary_section"))
            obj.upstream_jurisdiction = _get(juris, s.get("upstream_jurisdiction"), "jurisdiction", where)
            obj.downstream_jurisdiction = _get(juris, s.get("downstream_jurisdiction"), "jurisdiction", where)
            obj.reach = _get(reaches, s.get("reach"), "reach", where)
            obj.chainage_m = s.get("chainage_m")
            obj.drinking_water_source = bool(s.get("drinking_water_source"))
        else:
            obj.network = s.get("network") or ""
            obj.control_point = bool(s.get("control_point"))
            obj.external_code = s.get("cnemc_code") or ""
        obj.full_clean()
        obj.save()
        sites[obj.code] = obj
        report.add("sites")

    _create_provisional_aliases(region)
    params = {p.code_2017: p for p in reg.Parameter.objects.exclude(code_2017="")}
    params.update({a.code: a.parameter for a in reg.ParameterAlias.objects.select_related("parameter")})
    outlets: dict[str, reg.Outlet] = {}
    for e in region["enterprises"]:
        where = f"enterprise {e['code']}"
        ent = reg.Enterprise(
            code=e["code"], name=e["name"], industry=e.get("industry_name") or e.get("industry") or "",
            owner=_get(bureaus, e["owner_bureau"], "bureau", where),
            jurisdiction=_get(juris, e.get("jurisdiction"), "jurisdiction", where),
            lon=e["lon"], lat=e["lat"], address=e.get("address") or "",
            characteristic_pollutants=", ".join(e.get("characteristic_pollutants") or []),
        )
        ent.full_clean()
        ent.save()
        report.add("enterprises")
        numbers = {"wastewater": 0, "flue_gas": 0, "rainwater": 0}
        for o in e.get("outlets", []):
            numbers[o["kind"]] += 1
            prefix = {"wastewater": "DW", "flue_gas": "DA", "rainwater": "YS"}[o["kind"]]
            code = o.get("code") or f"{prefix}{numbers[o['kind']]:03d}"
            short = code.rsplit("-", 1)[-1]
            out = reg.Outlet(
                enterprise=ent, code=short, name=o["name"], kind=o["kind"], lon=o["lon"], lat=o["lat"],
                receiving_waterbody=_get(waters, o.get("receiving_waterbody"), "waterbody", where),
                reach=_get(reaches, o.get("reach"), "reach", where), chainage_m=o.get("chainage_m"),
                discharge_mode={"direct": "直接排放", "indirect": "间接排放"}.get(o.get("discharge_mode") or "", ""),
            )
            out.full_clean()
            out.save()
            outlets[code] = out
            outlets[f"{ent.code}-{short}"] = out
            report.add("outlets")
            for lim in o.get("limits", []):
                p = _get(params, lim["parameter"], "parameter", where)
                lower, upper = (lim["range"] if lim.get("range") else (None, lim.get("limit")))
                pl = reg.PermitLimit(
                    outlet=out, parameter=p, period=AVERAGING[lim["averaging"]], limit=upper, lower=lower,
                    unit=UNIT_SYMBOLS.get(lim["unit"], lim["unit"]), standard=lim["standard"][:64],
                    confidence=lim.get("confidence") or "", reference_oxygen_pct=lim.get("reference_oxygen_pct"),
                    note=(lim.get("modelled_on") or lim.get("citation") or "")[:255],
                )
                pl.full_clean()
                pl.save()
                report.add("permit limits")

    for d in region["devices"]:
        where = f"device {d['mn']}"
        dev = reg.Device(
            mn=d["mn"], password=d["password"], protocol_version=PROTOCOLS[d["protocol"]], system_code=d["st"],
            name=d.get("name") or "", site=_get(sites, d.get("site"), "site", where),
            outlet=_get(outlets, d.get("outlet"), "outlet", where), interval_s=d.get("interval_s") or 60,
        )
        dev.full_clean()
        dev.save()
        dev.parameters.set([_get(params, c, "parameter", where) for c in d.get("parameters", [])])
        report.add("devices")

    for z in region["joint_zones"]:
        agreement = z.get("agreement") or {}
        zone = reg.JointGovernanceZone(
            code=z["code"], name=z.get("short_name") or z["name"], name_en=z.get("name_en") or "",
            agreement_title=agreement.get("name") or "",
            agreement_signed=date.fromisoformat(agreement["signed_on"]) if agreement.get("signed_on") else None,
            description=z.get("note") or "", band_width_m=int(z.get("buffer_m") or 500),
        )
        zone.full_clean()
        zone.save()
        zone.bureaus.set([_get(bureaus, c, "bureau", f"zone {z['code']}") for c in z["coordinating_bureaus"]])
        services.compute_joint_zone(zone=zone, via="demo")
        report.add("joint governance zones")

    for a in region["sharing_agreements"]:
        where = f"agreement {a['code']}"
        provider = _get(bureaus, a["provider"], "bureau", where)
        scope = a.get("scope") or {}
        kinds = set(scope.get("kinds") or [k for k, _ in reg.SiteKind.choices])
        for rc in a["recipients"]:
            recipient = _get(bureaus, rc, "bureau", where)
            sa = SharingAgreement(
                provider=provider, recipient=recipient, title=a["name"][:160], purpose=a.get("purpose") or "",
                level=a["level"], valid_from=date.fromisoformat(a["valid_from"]),
                valid_to=date.fromisoformat(a["valid_to"]) if a.get("valid_to") else None,
                all_parameters=scope.get("parameters", "all") == "all",
                all_sites=scope.get("sites") == "all" and kinds >= {k for k, _ in reg.SiteKind.choices},
                all_enterprises=bool(scope.get("enterprises") == "all"),
            )
            sa.full_clean()
            sa.save()
            if not sa.all_sites:
                owned = reg.Site.objects.filter(owner=provider, kind__in=kinds)
                if scope.get("sites") == "boundary_sections":
                    rj = recipient.jurisdiction
                    owned = [
                        s for s in owned.filter(is_boundary=True)
                        if rj is None or rj.pk in (s.upstream_jurisdiction_id, s.downstream_jurisdiction_id)
                        or any(x.pk in (s.upstream_jurisdiction_id, s.downstream_jurisdiction_id) for x in rj.children.all())
                    ]
                elif isinstance(scope.get("sites"), list):
                    owned = [_get(sites, c, "site", where) for c in scope["sites"]]
                sa.sites.set(owned)
            if not sa.all_parameters:
                sa.parameters.set([_get(params, c, "parameter", where) for c in scope["parameters"]])
            report.add("sharing agreements")

    for u in region["users"]:
        where = f"user {u['username']}"
        bureau = _get(bureaus, u["bureau"], "bureau", where)
        pw = _password() if with_passwords else None
        first, last = _split_name(u.get("full_name") or "")
        user = User(
            username=u["username"], bureau=bureau, role=u["role"], email=u.get("email") or "",
            first_name=first, last_name=last, is_staff=u["role"] == "administrator",
        )
        if pw:
            user.password = make_password(pw, hasher="pbkdf2_sha256_demo")
        else:
            user.set_unusable_password()
        user.full_clean(exclude=["password"])
        user.save()
        report.users.append((user.username, pw or "", bureau.short_name, user.get_role_display()))
        report.add("users")


def _area_km2(geometry: dict) -> float:
    """Geodesic area on the WGS-84 ellipsoid."""
    from shapely.geometry import shape

    from gongzhi.geo.metric import GEOD

    return abs(GEOD.geometry_area_perimeter(shape(geometry))[0]) / 1e6


def _codes_used(region: dict) -> set[str]:
    codes = {c for d in region["devices"] for c in d.get("parameters", [])}
    codes |= {lim["parameter"] for e in region["enterprises"] for o in e.get("outlets", []) for lim in o.get("limits", [])}
    return codes


def _create_provisional_aliases(region: dict) -> None:
    """Codes ``x-<key>`` are the demo's provisional codes for parameters that HJ 212-2017
    Appendix B lacks (e.g. ``x-sb`` antimony): map each to the catalog parameter ``<key>``
    with an alias, as an administrator would for a vendor code."""
    keys = dict(reg.Parameter.objects.values_list("key", "pk"))
    for code in sorted(_codes_used(region)):
        if code.startswith("x-") and code[2:] in keys:
            reg.ParameterAlias.objects.get_or_create(
                code=code, defaults={"parameter_id": keys[code[2:]], "source": "demo provisional code"}
            )
    services.code_index.invalidate()


def _split_name(full: str) -> tuple[str, str]:
    # Chinese names: family name first (one character for most names)
    if not full:
        return "", ""
    return full[1:], full[:1]


def write_user_file(data_dir: Path, users: list[tuple[str, str, str, str]]) -> Path:
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "demo-users.txt"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write("# gongzhi demo users (generated at load time; demo only)\n")
        fh.write("username\tpassword\tbureau\trole\n")
        for row in users:
            fh.write("\t".join(row) + "\n")
    return path
