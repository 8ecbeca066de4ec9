"""The audit trail in the admin (操作审计): read-only for everyone, superusers included.
Which events a user sees is decided by :func:`gongzhi.sharing.policy.visible`."""

from __future__ import annotations

import json

from django.apps import apps
from django.contrib import admin
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _t
from django.utils.translation import gettext_lazy as _

from gongzhi.audit.models import AuditEvent
from gongzhi.sharing import policy


def _short(value) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 200 else text[:200] + "…"


def _field_label(model_label: str, name: str) -> str:
    try:
        model = apps.get_model(model_label)
        return str(model._meta.get_field(name).verbose_name)
    except (LookupError, ValueError, Exception):  # unknown model or field: show the name
        return name


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ("time", "actor_name", "via", "action", "model", "object_link", "changed_fields")
    list_filter = ("model", "action", "via", ("actor", admin.RelatedOnlyFieldListFilter))
    search_fields = ("object_repr", "object_id", "actor_name", "reason")
    date_hierarchy = "time"
    list_select_related = ("actor",)
    fields = ("time", "actor", "actor_name", "via", "action", "model", "object_id", "object_link", "reason", "changes_table")
    readonly_fields = fields

    # policy: visible through the policy; nobody adds, changes or deletes an event
    def get_queryset(self, request):
        return policy.visible(request.user, super().get_queryset(request))

    def has_module_permission(self, request):
        return self.has_view_permission(request)

    def has_view_permission(self, request, obj=None):
        if obj is not None:
            return policy.can_view(request.user, obj)
        return policy.visible(request.user, AuditEvent.objects.all()).exists() or bool(
            getattr(request.user, "is_superuser", False)
        )

    def has_add_permission(self, request):
        return policy.can_create(request.user, AuditEvent)

    def has_change_permission(self, request, obj=None):
        return obj is not None and policy.can_change(request.user, obj)

    def has_delete_permission(self, request, obj=None):
        return obj is not None and policy.can_change(request.user, obj)

    def get_object(self, request, object_id, from_field=None):
        from django.http import Http404

        obj = super().get_object(request, object_id, from_field)
        if obj is None:
            raise Http404(_t("对象不存在，或您无权查看"))
        return obj

    def get_actions(self, request):
        return {}  # no bulk delete

    @admin.display(description=_("对象"), ordering="object_repr")
    def object_link(self, obj):
        try:
            model = apps.get_model(obj.model)
            target = model._default_manager.filter(pk=obj.object_id).first()
        except (LookupError, ValueError):
            target = None
        if target is None:
            return obj.object_repr
        try:
            url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_change", args=[obj.object_id])
        except NoReverseMatch:
            return obj.object_repr
        return format_html('<a href="{}">{}</a>', url, obj.object_repr)

    @admin.display(description=_("变更字段"))
    def changed_fields(self, obj):
        changes = obj.changes or {}
        return "、".join(_field_label(obj.model, k) for k in list(changes)[:8]) + ("…" if len(changes) > 8 else "")

    @admin.display(description=_("变更内容"))
    def changes_table(self, obj):
        changes = obj.changes or {}
        if not changes:
            return "-"
        rows = []
        for name, change in changes.items():
            if isinstance(change, (list, tuple)) and len(change) == 2:
                before, after = change
            elif isinstance(change, dict):  # many-to-many: {"added": [...]} etc.
                before, after = "", "; ".join(f"{k}: {_short(v)}" for k, v in change.items())
            else:
                before, after = "", change
            rows.append((_field_label(obj.model, name), name, _short("" if before is None else before), _short("" if after is None else after)))
        body = format_html_join("", "<tr><td>{} <code>{}</code></td><td>{}</td><td>{}</td></tr>", rows)
        return format_html(
            '<table class="gongzhi-changes"><thead><tr><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>{}</tbody></table>',
            _t("字段"), _t("原值"), _t("新值"), body,
        )
