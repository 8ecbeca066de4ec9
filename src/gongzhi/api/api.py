"""The API assembly: one :class:`ninja.NinjaAPI`, version 1, mounted at ``/api/``.

Routes live under ``/api/v1/`` (one router per domain); the OpenAPI document is
``/api/openapi.json`` and the offline docs page ``/api/docs``."""

from __future__ import annotations

from ninja import NinjaAPI
from ninja.renderers import JSONRenderer

from gongzhi.alerts.api import router as alarms_router
from gongzhi.api import assessments, errors, joint_zones, parameters, push, sites
from gongzhi.api.auth import READ_AUTH
from gongzhi.api.docs import OfflineSwagger
from gongzhi.notifications.api import router as notifications_router



class Renderer(JSONRenderer):
    """UTF-8 JSON with Chinese names readable as they are; NaN is never emitted."""

    json_dumps_params = {"ensure_ascii": False, "allow_nan": False}


api = NinjaAPI(
    renderer=Renderer(),
    title="gongzhi API",
    version="1",
    description=(
        "共治 REST API: sites, parameters, latest values and series data under the sharing policy; "
        "partner push of observations. Errors: {\"error\": {\"code\", \"message\", \"details\"}}. See docs/api.md."
    ),
    urls_namespace="api",
    auth=READ_AUTH,
    docs=OfflineSwagger(),
    docs_url="/docs",
    openapi_url="/openapi.json",
)
errors.install(api)

api.add_router("/v1", sites.router)
api.add_router("/v1", notifications_router)
api.add_router("/v1", parameters.router)
api.add_router("/v1", joint_zones.router)
api.add_router("/v1", assessments.router)
api.add_router("/v1", assessments.rankings_router)
api.add_router("/v1", push.router)
api.add_router("/v1", alarms_router)
