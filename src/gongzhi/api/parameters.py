"""The parameter catalog (监测因子): region-wide, visible to every signed-in user."""

from __future__ import annotations

from typing import Literal, Optional

from ninja import Query, Router, Schema

from gongzhi.api.common import READ_ERRORS, Page
from gongzhi.registry import models as reg
from gongzhi.sharing import policy

router = Router(tags=["parameters"])

DomainLit = Literal["water", "air", "noise", "wastewater_process", "flue_gas_process", "device", "other"]


class ParameterOut(Schema):
    key: str
    name_zh: str
    name_en: str
    code_2017: str
    code_2005: str
    unit: str
    ambient_unit: str
    emission_unit: str
    decimals: Optional[int] = None
    domain: str


@router.get("/parameters", response={200: Page[ParameterOut], **READ_ERRORS}, summary="The parameter catalog")
def list_parameters(
    request,
    domain: Optional[DomainLit] = None,
    limit: int = Query(500, ge=1, le=1000),
    offset: int = Query(0, ge=0, le=10_000_000),
):
    qs = policy.visible(request.auth, reg.Parameter.objects.all())
    if domain:
        qs = qs.filter(domain=domain)
    qs = qs.order_by("key")
    total = qs.count()
    rows = qs.values("key", "name_zh", "name_en", "code_2017", "code_2005", "unit", "ambient_unit", "emission_unit", "decimals", "domain")
    return {"total": total, "limit": limit, "offset": offset, "items": list(rows[offset : offset + limit])}
