"""Writers of the registry. Views, the admin, the importer and the demo loader
change registry tables only through these functions (keyword-only arguments)."""

from __future__ import annotations

import threading
from typing import Any

from django.db import transaction
from django.db.models import F
from django.db.models.signals import post_delete, post_save
from django.utils import timezone

from gongzhi.audit.context import acting_as
from gongzhi.registry import catalog
from gongzhi.registry import models as reg


# --- generic save with validation and audit -------------------------------------------------------


def save_object(obj, *, actor=None, via: str = "service", reason: str = "", m2m: dict[str, Any] | None = None):
    """Validate (``full_clean``) and save ``obj`` as ``actor``; the audit trail records it.

    ``m2m`` sets many-to-many fields after the save (``{"bureaus": [...]}``)."""
    with acting_as(actor, via=via, reason=reason), transaction.atomic():
        obj.full_clean()
        obj.save()
        for name, values in (m2m or {}).items():
            getattr(obj, name).set(values)
    return obj


def delete_object(obj, *, actor=None, via: str = "service", reason: str = "") -> None:
    with acting_as(actor, via=via, reason=reason), transaction.atomic():
        obj.delete()


# --- parameter catalog --------------------------------------------------------------------------


def seed_parameter_catalog(*, actor=None, via: str = "seed") -> dict[str, int]:
    """Create or update the catalog from HJ 212-2017 Appendix B plus the quality extras.

    Idempotent: running it again changes nothing an administrator has not changed
    (existing rows keep their edited names, units and decimals)."""
    entries, problems = catalog.catalog_entries()
    created = 0
    aliases = 0
    with acting_as(actor, via=via), transaction.atomic():
        existing = {p.key: p for p in reg.Parameter.objects.all()}
        for e in entries:
            if e.key in existing:
                continue
            reg.Parameter.objects.create(
                key=e.key, name_zh=e.name_zh, name_en=e.name_en, code_2017=e.code_2017, code_2005=e.code_2005,
                unit=e.unit, ambient_unit=e.ambient_unit, emission_unit=e.emission_unit, data_type=e.data_type,
                decimals=e.decimals, domain=e.domain, source=e.source,
            )
            created += 1
        by_key = {p.key: p for p in reg.Parameter.objects.all()}
        for e in entries:
            for code, source in e.aliases:
                _, made = reg.ParameterAlias.objects.get_or_create(
                    code=code, defaults={"parameter": by_key[e.key], "source": source}
                )
                aliases += made
    code_index.invalidate()
    return {"created": created, "aliases": aliases, "total": reg.Parameter.objects.count(), "problems": len(problems)}


class _CodeIndex:
    """In-process map from any incoming code (2017, 2005, alias) to a parameter id.

    2017 codes win over aliases, aliases over 2005 codes (2005 codes are short and
    the same digits can mean different things in water and air; pass ``domain``)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._map: dict[tuple[str, str], int] | None = None

    def invalidate(self) -> None:
        with self._lock:
            self._map = None

    def _build(self) -> dict[tuple[str, str], int]:
        m: dict[tuple[str, str], int] = {}
        rows = list(reg.Parameter.objects.values_list("pk", "code_2017", "code_2005", "domain", "key"))
        for pk, _c17, c05, domain, _key in rows:
            if c05:
                m.setdefault((c05, domain), pk)
                m.setdefault((c05, ""), pk)
        for code, pk in reg.ParameterAlias.objects.values_list("code", "parameter_id"):
            m[(code, "")] = pk
        for pk, c17, _c05, _domain, key in rows:
            if c17:
                m[(c17, "")] = pk
            m.setdefault((key, ""), pk)
        return m

    def lookup(self, code: str, domain: str = "") -> int | None:
        with self._lock:
            if self._map is None:
                self._map = self._build()
            m = self._map
        return m.get((code, domain)) if domain and (code, domain) in m else m.get((code, ""))


code_index = _CodeIndex()


def _catalog_changed(sender, **kwargs) -> None:
    code_index.invalidate()


# Any change of the catalog (admin, import, shell) drops this process's index, so that an
# alias an administrator adds for an unknown code resolves at once. Only processes that
# import this module hold an index, so connecting here is enough for them.
for _model in (reg.Parameter, reg.ParameterAlias):
    post_save.connect(_catalog_changed, sender=_model, dispatch_uid=f"code-index-{_model.__name__}-save")
    post_delete.connect(_catalog_changed, sender=_model, dispatch_uid=f"code-index-{_model.__name__}-delete")


def resolve_parameter_code(code: str, *, domain: str = "", source: str = "") -> reg.Parameter | None:
    """The parameter an incoming code means, or ``None``.

    An unknown code is never dropped silently: it is counted in
    :class:`~gongzhi.registry.models.UnknownCode` with an example source, where the
    admin's "unknown codes" list shows it until an alias maps it."""
    code = (code or "").strip()
    if not code:
        return None
    pk = code_index.lookup(code, domain)
    if pk is not None:
        return reg.Parameter.objects.get(pk=pk)
    record_unknown_code(code=code, source=source)
    return None


def record_unknown_code(*, code: str, source: str = "", count: int = 1) -> None:
    obj, created = reg.UnknownCode.objects.get_or_create(code=code, defaults={"example_source": source[:128], "count": count})
    if not created:
        reg.UnknownCode.objects.filter(pk=obj.pk).update(count=F("count") + count, last_seen=timezone.now())


# --- joint zones ----------------------------------------------------------------------------------


def to_geojson(geom, precision: int = 7) -> dict:
    """A Shapely geometry as a GeoJSON geometry dict, coordinates rounded to ``precision`` decimals
    (1e-7° ≈ 1 cm: plenty for boundaries, and it keeps the JSON columns small)."""
    import shapely
    from shapely.geometry import mapping

    return mapping(shapely.set_precision(geom, 10**-precision))


def member_jurisdictions(zone: reg.JointGovernanceZone) -> list[reg.Jurisdiction]:
    return [b.jurisdiction for b in zone.bureaus.select_related("jurisdiction") if b.jurisdiction_id]


@transaction.atomic
def compute_joint_zone(*, zone: reg.JointGovernanceZone, actor=None, via: str = "service") -> reg.JointGovernanceZone:
    """Compute the joint zone (联防联治区) of ``zone``: the band within ``zone.band_width_m``
    metres of every boundary shared by two member jurisdictions; store the shared
    boundaries and the band (WGS-84 GeoJSON)."""
    from gongzhi.geo import joint_zone as jz

    members = [j for j in member_jurisdictions(zone) if j.boundary]
    if len(members) < 2:
        raise ValueError(f"joint governance zone {zone.code} needs at least two members with boundaries")
    geoms = {j.adcode: j.boundary for j in members}
    result = jz.compute_joint_zone(geoms, width_m=zone.band_width_m)
    by_code = {j.adcode: j for j in members}
    with acting_as(actor, via=via):
        for border in result.borders:
            a, b = sorted([by_code[border.a], by_code[border.b]], key=lambda j: j.adcode)
            reg.SharedBoundary.objects.update_or_create(
                a=a, b=b,
                defaults={
                    "line": to_geojson(border.line),
                    "length_m": round(border.length_m, 1),
                    "cross_province": a.adcode[:2] != b.adcode[:2],
                },
            )
        zone.band = to_geojson(result.union)
        zone.band_computed_at = timezone.now()
        zone.save(update_fields=["band", "band_computed_at"])
    return zone


def objects_in_joint_zone(zone: reg.JointGovernanceZone) -> dict[str, list[tuple[Any, float]]]:
    """Sites and enterprises inside the zone's band, each with its distance (metres)
    to the nearest shared boundary, nearest first."""
    from gongzhi.geo import joint_zone as jz

    if not zone.band:
        compute_joint_zone(zone=zone)
        zone.refresh_from_db()
    from shapely.geometry import shape
    from shapely.ops import unary_union

    members = [j.pk for j in member_jurisdictions(zone)]
    lines = [shape(sb.line) for sb in reg.SharedBoundary.objects.filter(a_id__in=members, b_id__in=members)]
    border = unary_union(lines) if lines else None
    out: dict[str, list[tuple[Any, float]]] = {}
    for name, qs in (("sites", reg.Site.objects.select_related("owner")), ("enterprises", reg.Enterprise.objects.select_related("owner"))):
        objs = list(qs)
        points = [(o.lon, o.lat) for o in objs]
        inside = jz.points_in_zone(points, zone.band)
        dists = jz.distance_to_border_m(points, border) if border is not None else [float("nan")] * len(objs)
        found = [(o, float(d)) for o, ok, d in zip(objs, inside, dists) if ok]
        out[name] = sorted(found, key=lambda t: t[1])
    return out
