"""Pages. Every object list goes through :mod:`gongzhi.sharing.policy`."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import Http404, JsonResponse
from django.shortcuts import render

from gongzhi.registry import models as reg
from gongzhi.registry import services
from gongzhi.sharing import policy
from gongzhi.sharing.models import SharingAgreement


def healthz(request):
    with connection.cursor() as cur:
        cur.execute("SELECT 1")
    return JsonResponse({"ok": True, "database": connection.vendor})


@login_required
def home(request):
    user = request.user
    sites = policy.visible(user, reg.Site.objects.select_related("owner", "waterbody"))
    enterprises = policy.visible(user, reg.Enterprise.objects.select_related("owner"))
    agreements = policy.visible(user, SharingAgreement.objects.select_related("provider", "recipient"))
    own = [s for s in sites if s.owner_id == user.bureau_id]
    shared = [s for s in sites if s.owner_id != user.bureau_id]
    zones = reg.JointGovernanceZone.objects.prefetch_related("bureaus")
    return render(
        request,
        "web/home.html",
        {
            "own_sites": own,
            "shared_sites": shared,
            "enterprise_count": enterprises.count(),
            "agreements": agreements,
            "zones": zones,
        },
    )


@login_required
def joint_zone(request, code: str):
    try:
        zone = reg.JointGovernanceZone.objects.get(code=code)
    except reg.JointGovernanceZone.DoesNotExist:
        raise Http404
    inside = services.objects_in_joint_zone(zone)
    user = request.user
    sites = [s for s in inside["sites"] if policy.can_view(user, s[0])]
    enterprises = [e for e in inside["enterprises"] if policy.can_view(user, e[0])]
    return render(request, "web/joint_zone.html", {"zone": zone, "sites": sites, "enterprises": enterprises})
