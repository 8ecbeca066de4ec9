"""One mechanism records every change of an audited model, whatever path made it
(admin, services, import, demo loader): model signals, with the actor taken from
:mod:`gongzhi.audit.context`."""

from __future__ import annotations

import datetime
import decimal

from django.db.models.signals import m2m_changed, post_delete, post_save, pre_save

from gongzhi.audit.context import current_actor

AUDITED = (
    "registry.Jurisdiction",
    "registry.Bureau",
    "registry.JointGovernanceZone",
    "registry.Waterbody",
    "registry.RiverNode",
    "registry.Reach",
    "registry.Site",
    "registry.Enterprise",
    "registry.Outlet",
    "registry.PermitLimit",
    "registry.Device",
    "registry.Parameter",
    "registry.ParameterAlias",
    "sharing.SharingAgreement",
    "accounts.User",
)
# Fields never written to the trail (secrets, bulky geometry, bookkeeping).
SECRET_FIELDS = {"password"}
BULKY_FIELDS = {"boundary", "band", "geometry", "line"}
SKIP_FIELDS = {"last_login", "band_computed_at", "date_joined"}


def _plain(value):
    if isinstance(value, (datetime.date, datetime.datetime, datetime.time)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    return value


def snapshot(instance) -> dict:
    out = {}
    for field in instance._meta.concrete_fields:
        name = field.attname
        if field.name in SKIP_FIELDS:
            continue
        value = getattr(instance, name)
        if field.name in SECRET_FIELDS:
            value = "***" if value else ""
        elif field.name in BULKY_FIELDS:
            value = "<geometry>" if value else None
        out[field.name] = _plain(value)
    return out


def _label(sender) -> str:
    return f"{sender._meta.app_label}.{sender.__name__}"


def _record(action: str, instance, changes: dict) -> None:
    from gongzhi.audit.models import AuditEvent

    actor = current_actor()
    user = actor.user if getattr(actor.user, "pk", None) else None
    AuditEvent.objects.create(
        actor=user,
        actor_name=actor.name,
        via=actor.via,
        action=action,
        model=_label(type(instance)),
        object_id=str(instance.pk),
        object_repr=str(instance)[:255],
        changes=changes,
        reason=actor.reason[:255],
    )


def _pre_save(sender, instance, raw=False, **kwargs):
    if raw or instance.pk is None:
        instance._audit_before = None
        return
    try:
        before = sender._default_manager.get(pk=instance.pk)
    except sender.DoesNotExist:
        instance._audit_before = None
        return
    instance._audit_before = snapshot(before)
    # secrets are masked in snapshots; keep the raw old values (in memory only) to see a change
    instance._audit_secret_before = {
        f.attname: getattr(before, f.attname) for f in sender._meta.concrete_fields if f.name in SECRET_FIELDS
    }


def _post_save(sender, instance, created, raw=False, **kwargs):
    if raw:
        return
    after = snapshot(instance)
    before = getattr(instance, "_audit_before", None)
    if created or before is None:
        _record("create", instance, {k: [None, v] for k, v in after.items() if v not in (None, "", False)})
        return
    diff = {k: [before.get(k), v] for k, v in after.items() if before.get(k) != v}
    secrets_before = getattr(instance, "_audit_secret_before", None) or {}
    for field in instance._meta.concrete_fields:
        if field.attname in secrets_before and secrets_before[field.attname] != getattr(instance, field.attname):
            diff[field.name] = ["***" if secrets_before[field.attname] else "", "*** (changed)"]
    instance._audit_secret_before = None
    if diff:
        _record("update", instance, diff)


def _post_delete(sender, instance, **kwargs):
    _record("delete", instance, {k: [v, None] for k, v in snapshot(instance).items() if v not in (None, "", False)})


def _m2m_changed(sender, instance, action, pk_set, model, **kwargs):
    if action not in ("post_add", "post_remove", "post_clear") or not hasattr(instance, "_meta"):
        return
    if _label(type(instance)) not in AUDITED:
        return
    field = next(
        (f.name for f in instance._meta.many_to_many if f.remote_field.through is sender), sender._meta.model_name
    )
    verb = {"post_add": "added", "post_remove": "removed", "post_clear": "cleared"}[action]
    _record("update", instance, {field: {verb: sorted(pk_set or [])}})


def connect() -> None:
    from django.apps import apps

    for label in AUDITED:
        model = apps.get_model(label)
        uid = f"audit-{label}"
        pre_save.connect(_pre_save, sender=model, dispatch_uid=uid + "-pre")
        post_save.connect(_post_save, sender=model, dispatch_uid=uid + "-post")
        post_delete.connect(_post_delete, sender=model, dispatch_uid=uid + "-del")
        for field in model._meta.many_to_many:
            m2m_changed.connect(_m2m_changed, sender=field.remote_field.through, dispatch_uid=f"{uid}-m2m-{field.name}")
