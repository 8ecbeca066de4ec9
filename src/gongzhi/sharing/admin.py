"""Admin for sharing agreements (数据共享方案). Permissions: :mod:`gongzhi.sharing.policy`."""

from __future__ import annotations

from django.contrib import admin

from gongzhi.registry import models as reg
from gongzhi.sharing import policy
from gongzhi.sharing.admin_policy import PolicyAdminMixin, writable_choices
from gongzhi.sharing.models import SharingAgreement


@admin.register(SharingAgreement)
class SharingAgreementAdmin(PolicyAdminMixin, admin.ModelAdmin):
    list_display = ("title", "provider", "recipient", "level", "valid_from", "valid_to", "all_sites", "all_parameters", "active")
    list_filter = ("level", "active", "provider", "recipient", "all_sites", "all_parameters")
    search_fields = ("title", "purpose", "provider__name", "recipient__name")
    list_select_related = ("provider", "recipient")
    filter_horizontal = ("sites", "enterprises", "parameters")
    fieldsets = (
        (None, {"fields": ("title", "provider", "recipient", "purpose", "level", ("valid_from", "valid_to"), "active")}),
        (None, {"fields": ("all_sites", "sites", "all_enterprises", "enterprises", "all_parameters", "parameters")}),
    )

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        # a provider shares only what it owns
        target = db_field.remote_field.model
        if target in (reg.Site, reg.Enterprise):
            kwargs["queryset"] = writable_choices(request.user, SharingAgreement, target).select_related("owner")
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if db_field.name == "recipient":
            field.queryset = policy.visible(request.user, reg.Bureau.objects.all())
        return field
