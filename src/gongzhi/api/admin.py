"""Admin of API tokens, partner keys and idempotency records (platform operators only).

Adding a token or key generates its secret and shows it once in the message bar; only
its digest is stored. Secrets are never edited: revoke and create a new one."""

from __future__ import annotations

from django.contrib import admin, messages
from django.utils import timezone
from django.utils.translation import gettext as _t
from django.utils.translation import gettext_lazy as _

from gongzhi.api import services
from gongzhi.api.models import ApiToken, IdempotencyRecord, PartnerKey


class _SuperuserOnly:
    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_superuser

    def has_add_permission(self, request):
        return request.user.is_active and request.user.is_superuser

    def has_change_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_superuser


@admin.display(description=_("状态"))
def _state(obj):
    return {"active": _t("有效"), "expired": _t("已过期"), "revoked": _t("已吊销")}[obj.state()]


class _SecretAdmin(_SuperuserOnly, admin.ModelAdmin):
    readonly_fields = ("prefix", "created", "last_used", "revoked")
    actions = ["revoke_selected"]
    list_filter = ("revoked",)

    @admin.action(description=_("吊销所选"))
    def revoke_selected(self, request, queryset):
        n = 0
        for obj in queryset:
            if obj.revoked is None:
                services.revoke(obj=obj)
                n += 1
        self.message_user(request, _t("已吊销 %(n)d 个") % {"n": n}, messages.SUCCESS)

    def _days(self, obj):
        if obj.expires is None:
            return None
        return max(1, (obj.expires - timezone.now()).days)


@admin.register(ApiToken)
class ApiTokenAdmin(_SecretAdmin):
    list_display = ("prefix", "user", "name", _state, "created", "last_used", "expires")
    search_fields = ("prefix", "user__username", "name")
    fields = ("user", "name", "expires", "prefix", "created", "last_used", "revoked")
    autocomplete_fields = ()

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields + (("user",) if obj else ())

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        issued = services.create_token(user=obj.user, name=obj.name, expires_in_days=self._days(obj))
        if obj.expires is not None:
            ApiToken.objects.filter(pk=issued.obj.pk).update(expires=obj.expires)
        obj.pk = issued.obj.pk
        self.message_user(request, _t("令牌已创建，仅显示这一次，请立即保存：%(s)s") % {"s": issued.secret}, messages.WARNING)


@admin.register(PartnerKey)
class PartnerKeyAdmin(_SecretAdmin):
    list_display = ("prefix", "bureau", "name", "scope", _state, "created", "last_used", "expires")
    search_fields = ("prefix", "bureau__code", "name")
    fields = ("bureau", "name", "expires", "prefix", "created", "last_used", "revoked")

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields + (("bureau",) if obj else ())

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        issued = services.create_partner_key(bureau=obj.bureau, name=obj.name, created_by=request.user, expires_in_days=self._days(obj))
        if obj.expires is not None:
            PartnerKey.objects.filter(pk=issued.obj.pk).update(expires=obj.expires)
        obj.pk = issued.obj.pk
        self.message_user(request, _t("密钥已创建，仅显示这一次，请立即保存：%(s)s") % {"s": issued.secret}, messages.WARNING)


@admin.register(IdempotencyRecord)
class IdempotencyRecordAdmin(_SuperuserOnly, admin.ModelAdmin):
    list_display = ("key", "bureau", "status", "created")
    search_fields = ("key", "bureau__code")
    readonly_fields = ("bureau", "key", "body_hash", "status", "response", "created")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
