"""The one place that answers "may this user see / change this object".

Views, the admin, the API and services call these functions and nothing else;
no view checks a role or an owner by itself.

Rules
-----
* A superuser (platform operator) may do everything.
* Registry metadata that belongs to no single bureau (jurisdictions, bureaus,
  joint governance zones, waterbodies, the river network, the parameter catalog)
  is visible to every signed-in user; only the administrators of a
  co-governance office (a bureau of kind ``office``) and superusers change it.
* An object owned by a bureau (site, enterprise and everything under them) is
  visible to its own bureau, and to a partner bureau while a sharing agreement
  from the owner to that partner is in force and covers it. Co-governance offices
  see every site and enterprise (they coordinate the region) but, like anyone
  else, see *data* only through agreements. Exception: data loggers (devices)
  carry their HJ 212 passwords, so only their owner bureau sees them. An
  agreement shares only what its provider owns (a listed site or enterprise of
  another bureau is ignored). A user account is seen by its own bureau; an
  agreement by its two parties, whether or not it is in force.
* A bureau changes only what it owns, and only in the roles that do that work:
  administrators and monitoring staff change sites and devices; administrators
  and enforcement officers change enterprises, outlets and permit limits;
  administrators change their bureau's users and the agreements it gives.
* Audit events are never changed or deleted by anyone (superusers included). A
  bureau user sees the events about objects its bureau owns (and its own users
  and agreements), about region-wide objects, and every event acted by a user of
  its bureau; superusers see all.
* Only a superuser changes a superuser account.
* Data: the owner sees raw data; a partner sees the level its agreement grants
  (``raw`` or ``validated``) for the parameters it covers; anyone else sees none.

"In force" means ``active`` and ``valid_from ≤ day ≤ valid_to`` (open-ended when
``valid_to`` is empty), judged on the day asked about (today by default).
"""

from __future__ import annotations

from datetime import date

from django.db.models import F, Q, QuerySet
from django.utils import timezone

from gongzhi.accounts.models import Role, User
from gongzhi.audit.models import AuditEvent
from gongzhi.registry import models as reg
from gongzhi.sharing.models import DataLevel, SharingAgreement

READ, WRITE = "read", "write"

#: Roles that may change each kind of bureau-owned object (in their own bureau).
WRITE_ROLES: dict[type, frozenset[str]] = {
    reg.Site: frozenset({Role.ADMINISTRATOR, Role.MONITORING_STAFF}),
    reg.Device: frozenset({Role.ADMINISTRATOR, Role.MONITORING_STAFF}),
    reg.Enterprise: frozenset({Role.ADMINISTRATOR, Role.ENFORCEMENT_OFFICER}),
    reg.Outlet: frozenset({Role.ADMINISTRATOR, Role.ENFORCEMENT_OFFICER}),
    reg.PermitLimit: frozenset({Role.ADMINISTRATOR, Role.ENFORCEMENT_OFFICER}),
    SharingAgreement: frozenset({Role.ADMINISTRATOR}),
    User: frozenset({Role.ADMINISTRATOR}),
}

#: Region-wide objects: visible to all signed-in users, changed by office administrators.
REGION_WIDE: tuple[type, ...] = (
    reg.Jurisdiction,
    reg.Bureau,
    reg.JointGovernanceZone,
    reg.SharedBoundary,
    reg.Waterbody,
    reg.RiverNode,
    reg.Reach,
    reg.Parameter,
    reg.ParameterAlias,
    reg.UnknownCode,
)


def _signed_in(user) -> bool:
    return bool(user is not None and getattr(user, "is_authenticated", False) and user.is_active)


def _is_office_admin(user) -> bool:
    return bool(user.bureau_id and user.bureau.kind == reg.BureauKind.OFFICE and user.role == Role.ADMINISTRATOR)


def _is_office(user) -> bool:
    return bool(user.bureau_id and user.bureau.kind == reg.BureauKind.OFFICE)


def owner_id(obj) -> int | None:
    """The id of the bureau that owns ``obj`` (None for region-wide objects)."""
    if isinstance(obj, (reg.Site, reg.Enterprise)):
        return obj.owner_id
    if isinstance(obj, reg.Outlet):
        return obj.enterprise.owner_id
    if isinstance(obj, reg.PermitLimit):
        return obj.outlet.enterprise.owner_id
    if isinstance(obj, reg.Device):
        return obj.site.owner_id if obj.site_id else obj.outlet.enterprise.owner_id
    if isinstance(obj, SharingAgreement):
        return obj.provider_id
    if isinstance(obj, User):
        return obj.bureau_id
    return None


def agreements_in_force(recipient_id: int, *, on: date | None = None) -> QuerySet[SharingAgreement]:
    day = on or timezone.localdate()
    return SharingAgreement.objects.filter(
        recipient_id=recipient_id, active=True, valid_from__lte=day
    ).filter(Q(valid_to__isnull=True) | Q(valid_to__gte=day))


def _shared_with(user, obj, *, on: date | None = None) -> bool:
    if not user.bureau_id:
        return False
    agreements = agreements_in_force(user.bureau_id, on=on)
    site, enterprise = _data_holder(obj)
    if site is not None:
        return agreements.filter(provider_id=site.owner_id).filter(Q(all_sites=True) | Q(sites=site)).exists()
    if enterprise is not None:
        return (
            agreements.filter(provider_id=enterprise.owner_id)
            .filter(Q(all_enterprises=True) | Q(enterprises=enterprise))
            .exists()
        )
    return False


def _data_holder(obj):
    """(site, enterprise) whose agreements govern ``obj``."""
    if isinstance(obj, reg.Site):
        return obj, None
    if isinstance(obj, reg.Enterprise):
        return None, obj
    if isinstance(obj, reg.Outlet):
        return None, obj.enterprise
    if isinstance(obj, reg.PermitLimit):
        return None, obj.outlet.enterprise
    if isinstance(obj, reg.Device):
        return (obj.site, None) if obj.site_id else (None, obj.outlet.enterprise)
    return None, None


def can_view(user, obj, *, on: date | None = None) -> bool:
    """May ``user`` see this object (its registry record, not its data)?"""
    if not _signed_in(user):
        return False
    if user.is_superuser:
        return True
    if isinstance(obj, AuditEvent):
        return visible(user, AuditEvent.objects.filter(pk=obj.pk)).exists()
    if isinstance(obj, REGION_WIDE):
        return True
    if isinstance(obj, User):
        return obj.pk == user.pk or (user.bureau_id is not None and obj.bureau_id == user.bureau_id)
    if isinstance(obj, SharingAgreement):
        return user.bureau_id in (obj.provider_id, obj.recipient_id)
    owner = owner_id(obj)
    if owner is not None and owner == user.bureau_id:
        return True
    if isinstance(obj, (reg.Site, reg.Enterprise, reg.Outlet, reg.PermitLimit)) and _is_office(user):
        return True
    if isinstance(obj, reg.Device):
        return False  # devices carry passwords: owners only
    return _shared_with(user, obj, on=on)


def can_change(user, obj) -> bool:
    """May ``user`` change (or delete) this object?"""
    if not _signed_in(user) or isinstance(obj, AuditEvent):
        return False
    if user.is_superuser:
        return True
    if isinstance(obj, User) and obj.is_superuser:
        return False
    if isinstance(obj, REGION_WIDE):
        return _is_office_admin(user)
    roles = WRITE_ROLES.get(type(obj))
    if roles is None:
        return False
    return owner_id(obj) == user.bureau_id and user.role in roles


def can_create(user, model: type, *, owner: reg.Bureau | int | None = None) -> bool:
    """May ``user`` create a ``model`` object owned by ``owner`` (default: the user's bureau)?"""
    if not _signed_in(user) or model is AuditEvent:
        return False
    if user.is_superuser:
        return True
    if model in REGION_WIDE:
        return _is_office_admin(user)
    roles = WRITE_ROLES.get(model)
    if roles is None or user.role not in roles:
        return False
    owner_pk = owner.pk if isinstance(owner, reg.Bureau) else owner
    return owner_pk is None or owner_pk == user.bureau_id


def administered_bureaus(user) -> QuerySet[reg.Bureau]:
    """Bureaus whose bureau-wide settings ``user`` manages (notification webhook endpoints and the
    like): superusers all, a bureau's administrators their own bureau, everyone else none."""
    if not _signed_in(user):
        return reg.Bureau.objects.none()
    if user.is_superuser:
        return reg.Bureau.objects.all()
    if user.bureau_id and user.role == Role.ADMINISTRATOR:
        return reg.Bureau.objects.filter(pk=user.bureau_id)
    return reg.Bureau.objects.none()


def can_administer_bureau(user, bureau: reg.Bureau | int | None) -> bool:
    """May ``user`` manage the bureau-wide settings of ``bureau`` (see :func:`administered_bureaus`)?"""
    if bureau is None or not _signed_in(user):
        return False
    if user.is_superuser:
        return True
    pk = bureau.pk if isinstance(bureau, reg.Bureau) else bureau
    return bool(user.bureau_id) and pk == user.bureau_id and user.role == Role.ADMINISTRATOR


def writable_bureaus(user, model: type) -> QuerySet[reg.Bureau]:
    """Bureaus on whose behalf ``user`` may create ``model`` objects (for form choices)."""
    if not _signed_in(user):
        return reg.Bureau.objects.none()
    if user.is_superuser:
        return reg.Bureau.objects.all()
    if can_create(user, model):
        return reg.Bureau.objects.filter(pk=user.bureau_id)
    return reg.Bureau.objects.none()


def visible(user, queryset: QuerySet, *, on: date | None = None) -> QuerySet:
    """Filter ``queryset`` to the objects ``user`` may see (same rule as :func:`can_view`)."""
    model = queryset.model
    if not _signed_in(user):
        return queryset.none()
    if user.is_superuser or issubclass(model, REGION_WIDE):
        return queryset
    bureau = user.bureau_id
    if model is User:
        return queryset.filter(Q(pk=user.pk) | Q(bureau_id=bureau))
    if model is SharingAgreement:
        return queryset.filter(Q(provider_id=bureau) | Q(recipient_id=bureau))
    if model is AuditEvent:
        return queryset.filter(_audit_q(user))
    office = _is_office(user)
    agreements = agreements_in_force(bureau, on=on)
    site_q = Q(owner_id=bureau) | Q(
        pk__in=reg.Site.objects.filter(
            # a listed site counts only when the agreement's provider owns it (as in can_view)
            Q(agreements__in=agreements, agreements__provider_id=F("owner_id"))
            | Q(owner_id__in=agreements.filter(all_sites=True).values("provider_id"))
        ).values("pk")
    )
    ent_q = Q(owner_id=bureau) | Q(
        pk__in=reg.Enterprise.objects.filter(
            Q(agreements__in=agreements, agreements__provider_id=F("owner_id"))
            | Q(owner_id__in=agreements.filter(all_enterprises=True).values("provider_id"))
        ).values("pk")
    )
    if model is reg.Site:
        return queryset if office else queryset.filter(site_q)
    if model is reg.Enterprise:
        return queryset if office else queryset.filter(ent_q)
    if model is reg.Outlet:
        return queryset if office else queryset.filter(enterprise__in=reg.Enterprise.objects.filter(ent_q))
    if model is reg.PermitLimit:
        return queryset if office else queryset.filter(outlet__enterprise__in=reg.Enterprise.objects.filter(ent_q))
    if model is reg.Device:
        return queryset.filter(Q(site__owner_id=bureau) | Q(outlet__enterprise__owner_id=bureau))
    return queryset.none()


def _audit_q(user) -> Q:
    """Audit events a (non-superuser) user may read: see the module rules."""
    from django.db.models import CharField
    from django.db.models.functions import Cast

    bureau = user.bureau_id
    q = Q(actor_id=user.pk)
    if bureau is None:
        return q
    q |= Q(actor__bureau_id=bureau)
    owned = {
        "registry.Site": reg.Site.objects.filter(owner_id=bureau),
        "registry.Enterprise": reg.Enterprise.objects.filter(owner_id=bureau),
        "registry.Outlet": reg.Outlet.objects.filter(enterprise__owner_id=bureau),
        "registry.PermitLimit": reg.PermitLimit.objects.filter(outlet__enterprise__owner_id=bureau),
        "registry.Device": reg.Device.objects.filter(Q(site__owner_id=bureau) | Q(outlet__enterprise__owner_id=bureau)),
        "sharing.SharingAgreement": SharingAgreement.objects.filter(Q(provider_id=bureau) | Q(recipient_id=bureau)),
        "accounts.User": User.objects.filter(bureau_id=bureau, is_superuser=False),
    }
    for label, qs in owned.items():
        ids = qs.annotate(_pk_text=Cast("pk", output_field=CharField())).values("_pk_text")
        q |= Q(model=label, object_id__in=ids)
    q |= Q(model__in=[f"{m._meta.app_label}.{m.__name__}" for m in REGION_WIDE])
    return q


def data_level(user, obj, parameter: reg.Parameter | int | None = None, *, on: date | None = None) -> str | None:
    """The level of data ``user`` may read for a site or enterprise (and parameter).

    Returns ``"raw"``, ``"validated"`` or ``None`` (no data at all). With several
    agreements in force the most generous level wins. ``parameter=None`` asks
    about the site as a whole (any parameter)."""
    if not _signed_in(user):
        return None
    if user.is_superuser:
        return DataLevel.RAW
    site, enterprise = _data_holder(obj)
    holder = site or enterprise
    if holder is None:
        return None
    if holder.owner_id == user.bureau_id:
        return DataLevel.RAW
    if not user.bureau_id:
        return None
    agreements = agreements_in_force(user.bureau_id, on=on).filter(provider_id=holder.owner_id)
    if site is not None:
        agreements = agreements.filter(Q(all_sites=True) | Q(sites=site))
    else:
        agreements = agreements.filter(Q(all_enterprises=True) | Q(enterprises=enterprise))
    if parameter is not None:
        pk = parameter.pk if isinstance(parameter, reg.Parameter) else parameter
        agreements = agreements.filter(Q(all_parameters=True) | Q(parameters=pk))
    levels = set(agreements.values_list("level", flat=True))
    if DataLevel.RAW in levels:
        return DataLevel.RAW
    if DataLevel.VALIDATED in levels:
        return DataLevel.VALIDATED
    return None


def can_view_data(user, obj, parameter=None, *, level: str = DataLevel.VALIDATED, on: date | None = None) -> bool:
    """May ``user`` read data of ``level`` (``raw`` needs a raw grant; ``validated`` either)?"""
    granted = data_level(user, obj, parameter, on=on)
    if granted is None:
        return False
    return granted == DataLevel.RAW or level == DataLevel.VALIDATED


#: Roles that review (correct, invalidate, approve) their own bureau's data.
REVIEW_ROLES = frozenset({Role.ADMINISTRATOR, Role.MONITORING_STAFF})


def can_review_data(user, obj) -> bool:
    """May ``user`` correct, invalidate or approve data of ``obj`` (a series, site or outlet)?

    Only the owner bureau's administrators and monitoring staff (and superusers)."""
    if not _signed_in(user):
        return False
    if user.is_superuser:
        return True
    owner = getattr(obj, "owner_id", None)
    if owner is None and isinstance(obj, reg.Outlet):
        owner = obj.enterprise.owner_id
    return owner is not None and owner == user.bureau_id and user.role in REVIEW_ROLES


def can_push_data(bureau, obj) -> bool:
    """May a partner system of ``bureau`` (its API key, scope push) write data of ``obj``
    (a site or outlet)? Only the owner bureau's own systems: agreements share reading,
    never writing."""
    if bureau is None:
        return False
    bureau_pk = bureau.pk if isinstance(bureau, reg.Bureau) else bureau
    site, enterprise = _data_holder(obj)
    holder = site or enterprise
    return holder is not None and holder.owner_id == bureau_pk


# --- alarms and downstream warnings (gongzhi.alerts) ---------------------------------------------
#
# * An alarm is seen by its owner bureau (the bureau that owns the series), by every bureau that
#   received a downstream warning about it, and by co-governance offices for alarms that crossed
#   a boundary (have a warning). Superusers see all.
# * The owner bureau's administrators, monitoring staff and emergency duty officers acknowledge
#   and close its alarms.
# * A warning is acknowledged by the receiving bureau's emergency duty officers and
#   administrators; once escalated to the office level, also by the office's administrators.
# * Rules are managed by the owner bureau's administrators and monitoring staff.

ALARM_HANDLER_ROLES = frozenset({Role.ADMINISTRATOR, Role.MONITORING_STAFF, Role.EMERGENCY_DUTY_OFFICER})
WARNING_ACK_ROLES = frozenset({Role.ADMINISTRATOR, Role.EMERGENCY_DUTY_OFFICER})
RULE_MANAGER_ROLES = frozenset({Role.ADMINISTRATOR, Role.MONITORING_STAFF})


def visible_alarms(user, queryset: QuerySet) -> QuerySet:
    """The alarms of ``queryset`` that ``user`` may see (rules above)."""
    if not _signed_in(user):
        return queryset.none()
    if user.is_superuser:
        return queryset
    if not user.bureau_id:
        return queryset.none()
    q = Q(owner_id=user.bureau_id) | Q(warnings__bureau_id=user.bureau_id)
    if _is_office(user):
        q |= Q(warnings__isnull=False)
    return queryset.filter(pk__in=queryset.model.objects.filter(q).values("pk"))


def can_view_alarm(user, alarm) -> bool:
    if not _signed_in(user):
        return False
    if user.is_superuser:
        return True
    if not user.bureau_id:
        return False
    if alarm.owner_id == user.bureau_id:
        return True
    warnings = alarm.warnings.all()
    if _is_office(user):
        return warnings.exists()
    return warnings.filter(bureau_id=user.bureau_id).exists()


def can_handle_alarm(user, alarm) -> bool:
    """May ``user`` acknowledge or close ``alarm`` (its owner's handlers only)?"""
    if not _signed_in(user):
        return False
    if user.is_superuser:
        return True
    return alarm.owner_id == user.bureau_id and user.role in ALARM_HANDLER_ROLES


def can_acknowledge_warning(user, warning) -> bool:
    if not _signed_in(user):
        return False
    if user.is_superuser:
        return True
    if warning.bureau_id == user.bureau_id and user.role in WARNING_ACK_ROLES:
        return True
    return warning.level >= 2 and _is_office_admin(user)


def can_manage_alarm_rules(user, owner: reg.Bureau | int | None = None) -> bool:
    """May ``user`` create or change alarm rules of ``owner`` (default: the user's bureau)?"""
    if not _signed_in(user):
        return False
    if user.is_superuser:
        return True
    owner_pk = owner.pk if isinstance(owner, reg.Bureau) else owner
    return user.role in RULE_MANAGER_ROLES and (owner_pk is None or owner_pk == user.bureau_id)


def can_view_unattributed_packets(user) -> bool:
    """May ``user`` see archived HJ 212 packets that belong to no registered device (unknown
    MN, bytes that did not frame)? They have no owner bureau and may carry another bureau's
    MN and password, so only platform operators (superusers) see them; a bureau sees the
    packets of its own devices (:func:`visible` on devices)."""
    return _signed_in(user) and user.is_superuser
