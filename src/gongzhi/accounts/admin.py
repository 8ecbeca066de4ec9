"""Admin for users (用户管理): Django's user admin plus bureau and role.

A bureau administrator sees and manages only the users of their bureau (the
policy says so), can put them only in their own bureau and can never create or
change a superuser; groups and model permissions are shown to superusers only
(bureau users' rights come from their role, see :mod:`gongzhi.sharing.policy`)."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext_lazy as _

from gongzhi.accounts.models import User
from gongzhi.sharing.admin_policy import PolicyAdminMixin

SUPERUSER_ONLY_FIELDS = ("is_superuser", "groups", "user_permissions")


@admin.register(User)
class UserAdmin(PolicyAdminMixin, DjangoUserAdmin):
    list_display = ("username", "last_name", "first_name", "bureau", "role", "is_staff", "is_active", "last_login")
    list_filter = ("bureau", "role", "is_staff", "is_active", "is_superuser")
    search_fields = ("username", "first_name", "last_name", "email", "phone")
    list_select_related = ("bureau",)
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        (_("个人信息"), {"fields": ("last_name", "first_name", "email", "phone")}),
        (_("所属与角色"), {"fields": ("bureau", "role")}),
        (_("权限"), {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        (_("重要日期"), {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (None, {"classes": ("wide",), "fields": ("username", "usable_password", "password1", "password2")}),
        (_("所属与角色"), {"fields": ("bureau", "role", "is_staff")}),
    )
    readonly_fields = ("last_login", "date_joined")

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if request.user.is_superuser:
            return fieldsets
        out = []
        for name, opts in fieldsets:
            fields = tuple(f for f in opts["fields"] if f not in SUPERUSER_ONLY_FIELDS)
            out.append((name, {**opts, "fields": fields}))
        return out

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        bureau = form.base_fields.get("bureau")
        if bureau is not None and not request.user.is_superuser:
            bureau.required = True
            bureau.empty_label = None
        return form

    def save_model(self, request, obj, form, change):
        if obj.is_superuser and not request.user.is_superuser:
            raise PermissionDenied
        super().save_model(request, obj, form, change)
