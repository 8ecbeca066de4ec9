"""Admin for alarm rules and site groups (告警规则配置), in Chinese; alarms and warnings are
shown read-only (they change through the alarm pages and services). Permission questions go to
:mod:`gongzhi.sharing.policy`; rules are saved through :func:`gongzhi.alerts.services.save_rule`."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Q

from gongzhi.alerts import services
from gongzhi.alerts.models import Alarm, AlarmEvent, AlarmRule, DownstreamWarning, SiteGroup
from gongzhi.registry import models as reg
from gongzhi.sharing import policy


class _OwnedByBureau(admin.ModelAdmin):
    """Rules and groups of the user's own bureau; managed by its administrators and monitoring staff."""

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        u = request.user
        if u.is_superuser:
            return qs
        return qs.filter(owner_id=u.bureau_id) if u.bureau_id else qs.none()

    def has_module_permission(self, request):
        return policy.can_manage_alarm_rules(request.user)

    def has_view_permission(self, request, obj=None):
        return policy.can_manage_alarm_rules(request.user, obj.owner_id if obj else None)

    def has_add_permission(self, request):
        return policy.can_manage_alarm_rules(request.user)

    def has_change_permission(self, request, obj=None):
        return policy.can_manage_alarm_rules(request.user, obj.owner_id if obj else None)

    def has_delete_permission(self, request, obj=None):
        return False  # rules are disabled, not deleted: alarms keep pointing at them

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        u = request.user
        if db_field.name == "owner" and not u.is_superuser:
            kwargs["queryset"] = reg.Bureau.objects.filter(pk=u.bureau_id)
        if db_field.name == "site":
            kwargs["queryset"] = policy.visible(u, reg.Site.objects.all())
        if db_field.name == "outlet":
            kwargs["queryset"] = policy.visible(u, reg.Outlet.objects.all())
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(SiteGroup)
class SiteGroupAdmin(_OwnedByBureau):
    list_display = ("code", "name", "kind", "owner")
    filter_horizontal = ("sites",)

    def save_model(self, request, obj, form, change):
        if not policy.can_manage_alarm_rules(request.user, obj.owner_id):
            raise PermissionError("not allowed")
        obj.full_clean()
        obj.save()
        services.rules_changed()


@admin.register(AlarmRule)
class AlarmRuleAdmin(_OwnedByBureau):
    list_display = ("name", "owner", "kind", "parameter", "limit_source", "data", "severity", "propagate", "enabled")
    list_filter = ("kind", "enabled", "severity")
    search_fields = ("name",)
    fieldsets = (
        (None, {"fields": ("name", "owner", "kind", "parameter", "severity", "enabled")}),
        ("适用范围", {"fields": ("site", "outlet", "group", "data")}),
        ("判定条件", {"fields": ("limit_source", "standard_class", "air_grade", "upper", "lower", "rate_per_h", "flags",
                             "bloom_level", "chla_breaks", "missing_minutes", "duration_minutes")}),
        ("抑制频繁启闭", {"fields": ("hysteresis_pct", "min_clear_minutes")}),
        ("下游预警", {"fields": ("propagate", "ack_minutes")}),
    )

    def save_model(self, request, obj, form, change):
        services.save_rule(rule=obj, user=request.user)


class _ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_module_permission(self, request):
        return request.user.is_authenticated and request.user.is_active

    def has_view_permission(self, request, obj=None):
        if obj is None:
            return self.has_module_permission(request)
        alarm = obj if isinstance(obj, Alarm) else obj.alarm
        return policy.can_view_alarm(request.user, alarm)


class EventInline(admin.TabularInline):
    model = AlarmEvent
    extra = 0
    can_delete = False
    fields = ("at", "kind", "user", "bureau", "note")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Alarm)
class AlarmAdmin(_ReadOnly):
    list_display = ("id", "raised_at", "state", "kind", "severity", "site", "outlet", "parameter", "owner", "value", "limit")
    list_filter = ("state", "kind", "severity")
    inlines = [EventInline]

    def get_queryset(self, request):
        return policy.visible_alarms(request.user, super().get_queryset(request))


@admin.register(DownstreamWarning)
class DownstreamWarningAdmin(_ReadOnly):
    list_display = ("id", "alarm", "bureau", "first_arrival", "deadline", "state", "level")
    list_filter = ("state", "level")

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        u = request.user
        if u.is_superuser:
            return qs
        return qs.filter(Q(bureau_id=u.bureau_id) | Q(alarm__owner_id=u.bureau_id)) if u.bureau_id else qs.none()
