"""Admin glue: every permission question the Django admin asks is answered by
:mod:`gongzhi.sharing.policy`.

Django's per-model permissions (``auth.Permission``, groups) are not used for
bureau users; a superuser may do everything (the policy says so too). Access to
the admin *site* itself is Django's ``is_staff`` flag ("may log into the admin"),
which bureau administrators grant to their users.

``PolicyAdminMixin`` (for ``ModelAdmin``) and ``PolicyInlineMixin`` (for inlines):

* ``get_queryset`` → :func:`policy.visible`; an object outside it is a 404.
* ``has_view_permission`` → :func:`policy.can_view` (per object); for the list,
  "can see or create at least one".
* ``has_change_permission`` / ``has_delete_permission`` → :func:`policy.can_change`
  (per object); without an object, :func:`policy.can_create` (the roles that write
  this kind of object).
* ``has_add_permission`` → :func:`policy.can_create`.
* Foreign keys to bureaus (owner, bureau, provider) and to bureau-owned parents
  (site, enterprise, outlet) offer only what :func:`policy.writable_bureaus` allows.
* Every admin view runs inside ``acting_as(request.user, via="admin")`` so the
  audit trail names the user and the path even when the admin is mounted under a
  URL prefix the request middleware does not recognise.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _t
from django.utils.translation import gettext_lazy as _

from gongzhi.audit.context import acting_as
from gongzhi.registry import models as reg
from gongzhi.sharing import policy

#: Foreign-key fields naming the bureau that owns the object being edited.
OWNER_FIELDS = frozenset({"owner", "bureau", "provider"})


def audit_label(model) -> str:
    return f"{model._meta.app_label}.{model.__name__}"


def audit_url(obj) -> str:
    """The audit-event changelist filtered to ``obj``."""
    query = urlencode({"model": audit_label(type(obj)), "object_id": str(obj.pk)})
    return reverse("admin:audit_auditevent_changelist") + "?" + query


def writable_choices(user, model, target):
    """Objects of ``target`` that ``user`` may attach a new/changed ``model`` object to."""
    bureaus = policy.writable_bureaus(user, model)
    if target is reg.Bureau:
        return bureaus
    if user.is_superuser:
        return target._default_manager.all()
    if target is reg.Site or target is reg.Enterprise:
        return target._default_manager.filter(owner__in=bureaus)
    if target is reg.Outlet:
        return target._default_manager.filter(enterprise__owner__in=bureaus)
    return None


def geometry_summary(value) -> str:
    """A short description of a GeoJSON value (never the coordinates themselves)."""
    if not value:
        return _t("（无）")
    import json

    kind = value.get("type", "?") if isinstance(value, dict) else type(value).__name__
    size = len(json.dumps(value, separators=(",", ":")))
    points = 0

    def count(c):
        nonlocal points
        if isinstance(c, (list, tuple)):
            if c and isinstance(c[0], (int, float)):
                points += 1
            else:
                for x in c:
                    count(x)

    if isinstance(value, dict):
        for geom in _geometries(value):
            count(geom.get("coordinates"))
    return _t("GeoJSON %(kind)s，%(points)d 个坐标点，%(kb).1f KB") % {"kind": kind, "points": points, "kb": size / 1024}


def _geometries(value: dict):
    t = value.get("type")
    if t == "FeatureCollection":
        for f in value.get("features") or []:
            yield from _geometries(f)
    elif t == "Feature":
        if value.get("geometry"):
            yield from _geometries(value["geometry"])
    elif t == "GeometryCollection":
        for g in value.get("geometries") or []:
            yield from _geometries(g)
    else:
        yield value


def _geometry_display(field: str):
    def summary(self, obj):
        return geometry_summary(getattr(obj, field, None)) if obj is not None and obj.pk else "-"

    summary.__name__ = f"{field}_summary"

    summary.short_description = _("几何 (摘要)")
    return summary


class _PolicyPermissions:
    def _may_list(self, request) -> bool:
        user = request.user
        if policy.can_create(user, self.model):
            return True
        return policy.visible(user, self.model._default_manager.all()).exists()


class PolicyAdminMixin(_PolicyPermissions):
    """Mix into a ``ModelAdmin`` before ``admin.ModelAdmin``."""

    #: Names of GeoJSON fields shown read-only as a summary (never in a form widget).
    geometry_fields: tuple[str, ...] = ()
    change_form_template = "admin/gongzhi/change_form.html"
    #: The template the change form extends (``admin/auth/user/change_form.html`` for users).
    base_change_form_template = "admin/change_form.html"

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        for name in cls.geometry_fields:
            if not hasattr(cls, f"{name}_summary"):
                setattr(cls, f"{name}_summary", _geometry_display(name))

    # --- what the user sees --------------------------------------------------------------------

    def get_queryset(self, request):
        return policy.visible(request.user, super().get_queryset(request))

    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        if obj is None:
            raise Http404(_t("对象不存在，或您无权查看"))
        return obj

    # --- permissions --------------------------------------------------------------------------

    def has_module_permission(self, request):
        return self._may_list(request)

    def has_view_permission(self, request, obj=None):
        if obj is None:
            return self._may_list(request)
        return policy.can_view(request.user, obj)

    def has_add_permission(self, request):
        return policy.can_create(request.user, self.model)

    def has_change_permission(self, request, obj=None):
        if obj is None:
            return policy.can_create(request.user, self.model)
        return policy.can_change(request.user, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is None:
            return policy.can_create(request.user, self.model)
        return policy.can_change(request.user, obj)

    # --- forms --------------------------------------------------------------------------------

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        target = db_field.remote_field.model
        if (db_field.name in OWNER_FIELDS and target is reg.Bureau) or target in (reg.Site, reg.Enterprise, reg.Outlet):
            choices = writable_choices(request.user, self.model, target)
            if choices is not None:
                kwargs["queryset"] = choices
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_exclude(self, request, obj=None):
        return tuple(super().get_exclude(request, obj) or ()) + tuple(self.geometry_fields)

    def get_readonly_fields(self, request, obj=None):
        fields = tuple(super().get_readonly_fields(request, obj))
        return fields + tuple(f"{name}_summary" for name in self.geometry_fields if f"{name}_summary" not in fields)

    # --- saving: policy re-checked on the new state, inside the audited context ----------------

    def save_model(self, request, obj, form, change):
        if not policy.can_change(request.user, obj):
            raise PermissionDenied
        with acting_as(request.user, via="admin"):
            super().save_model(request, obj, form, change)

    def delete_model(self, request, obj):
        if not policy.can_change(request.user, obj):
            raise PermissionDenied
        with acting_as(request.user, via="admin"):
            super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            if not policy.can_change(request.user, obj):
                raise PermissionDenied
        with acting_as(request.user, via="admin"):
            super().delete_queryset(request, queryset)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        with acting_as(request.user, via="admin"):
            return super().changeform_view(request, object_id, form_url, extra_context)

    def changelist_view(self, request, extra_context=None):
        with acting_as(request.user, via="admin"):
            return super().changelist_view(request, extra_context)

    def delete_view(self, request, object_id, extra_context=None):
        with acting_as(request.user, via="admin"):
            return super().delete_view(request, object_id, extra_context)

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        context["gongzhi_base_change_form"] = self.base_change_form_template
        if obj is not None and obj.pk:
            context["gongzhi_audit_url"] = audit_url(obj)
        return super().render_change_form(request, context, add, change, form_url, obj)

    @admin.display(description=_("审计记录"))
    def audit_link(self, obj):
        if obj is None or not obj.pk:
            return "-"
        return format_html('<a href="{}">{}</a>', audit_url(obj), _t("审计记录"))


class PolicyInlineMixin(_PolicyPermissions):
    """Mix into an inline before ``admin.TabularInline``/``StackedInline``.

    ``obj`` in inline permission methods is the *parent* object."""

    def get_queryset(self, request):
        return policy.visible(request.user, super().get_queryset(request))

    def has_view_permission(self, request, obj=None):
        return policy.can_view(request.user, obj) if obj is not None else self._may_list(request)

    def has_add_permission(self, request, obj=None):
        if obj is None:
            return policy.can_create(request.user, self.model)
        return policy.can_change(request.user, obj) and policy.can_create(request.user, self.model, owner=policy.owner_id(obj))

    def has_change_permission(self, request, obj=None):
        return policy.can_change(request.user, obj) if obj is not None else policy.can_create(request.user, self.model)

    def has_delete_permission(self, request, obj=None):
        return self.has_change_permission(request, obj)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        target = db_field.remote_field.model
        if target in (reg.Site, reg.Enterprise, reg.Outlet) and db_field.name != self.fk_name:
            choices = writable_choices(request.user, self.model, target)
            if choices is not None:
                kwargs["queryset"] = choices
        return super().formfield_for_foreignkey(db_field, request, **kwargs)
