"""Admin for the registry (基础信息管理), in Chinese. Every permission question goes
to :mod:`gongzhi.sharing.policy` through :class:`~gongzhi.sharing.admin_policy.PolicyAdminMixin`;
imports use :mod:`gongzhi.registry.importers`, the same service as the CLI."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _t
from django.utils.translation import gettext_lazy as _

from gongzhi.audit.context import acting_as, current_actor
from gongzhi.registry import importers, services
from gongzhi.registry import models as reg
from gongzhi.sharing import policy
from gongzhi.sharing.admin_policy import PolicyAdminMixin, PolicyInlineMixin

admin.site.site_header = _("共治 · 管理后台")
admin.site.site_title = _("共治管理后台")
admin.site.index_title = _("基础信息与权限管理")


class ReadOnlyAdminMixin:
    """Computed objects: visible through the policy, changed by nobody in the admin."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# --- import ---------------------------------------------------------------------------------------


class ImportForm(forms.Form):
    file = forms.FileField(label=_("文件"), help_text=_("CSV（UTF-8 或 GBK）或 XLSX"))
    partial = forms.BooleanField(
        label=_("部分导入"), required=False, help_text=_("只写入无误的行；不选则任何一行出错都不写入")
    )
    dry_run = forms.BooleanField(label=_("试运行"), required=False, help_text=_("只检查，不写入"))


class ImportAdminMixin:
    """An "导入" button on the changelist: upload a file, choose the mode, read the per-row report."""

    import_kind: str = ""
    change_list_template = "admin/gongzhi/change_list_import.html"

    def _url_name(self, suffix: str) -> str:
        opts = self.model._meta
        return f"{opts.app_label}_{opts.model_name}_{suffix}"

    def get_urls(self):
        urls = [
            path("import/", self.admin_site.admin_view(self.import_view), name=self._url_name("import")),
            path("import/template/", self.admin_site.admin_view(self.template_view), name=self._url_name("import_template")),
        ]
        return urls + super().get_urls()

    def changelist_view(self, request, extra_context=None):
        extra_context = dict(extra_context or {})
        extra_context.update(
            gongzhi_can_import=self.has_add_permission(request),
            gongzhi_import_url_name=f"{self.admin_site.name}:{self._url_name('import')}",
            gongzhi_template_url_name=f"{self.admin_site.name}:{self._url_name('import_template')}",
        )
        return super().changelist_view(request, extra_context)

    def template_view(self, request):
        response = HttpResponse(importers.template_bytes(self.import_kind), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{self.import_kind}.csv"'
        return response

    def import_view(self, request):
        if not self.has_add_permission(request):
            raise PermissionDenied
        report = None
        if request.method == "POST":
            form = ImportForm(request.POST, request.FILES)
            if form.is_valid():
                upload = form.cleaned_data["file"]
                report = importers.import_file(
                    kind=self.import_kind,
                    data=upload.read(),
                    filename=upload.name,
                    user=request.user,
                    partial=form.cleaned_data["partial"],
                    dry_run=form.cleaned_data["dry_run"],
                    reason=f"admin import {upload.name}",
                )
                level = messages.SUCCESS if report.ok else (messages.WARNING if report.written else messages.ERROR)
                self.message_user(request, report.summary(), level)
        else:
            form = ImportForm()
        context = {
            **self.admin_site.each_context(request),
            "title": _t("导入%(what)s") % {"what": self.model._meta.verbose_name_plural},
            "opts": self.model._meta,
            "form": form,
            "report": report,
            "changelist_url_name": f"{self.admin_site.name}:{self._url_name('changelist')}",
            "template_url_name": f"{self.admin_site.name}:{self._url_name('import_template')}",
        }
        return TemplateResponse(request, "admin/gongzhi/import.html", context)


# --- region-wide objects --------------------------------------------------------------------------


@admin.register(reg.Jurisdiction)
class JurisdictionAdmin(PolicyAdminMixin, admin.ModelAdmin):
    list_display = ("adcode", "name", "level", "parent", "area_km2")
    list_filter = ("level",)
    search_fields = ("adcode", "name", "name_en")
    list_select_related = ("parent",)
    geometry_fields = ("boundary",)
    fieldsets = (
        (None, {"fields": ("adcode", "name", "name_en", "level", "parent", "area_km2")}),
        (_("边界"), {"classes": ("collapse",), "fields": ("boundary_summary", "boundary_source")}),
    )


@admin.register(reg.Bureau)
class BureauAdmin(PolicyAdminMixin, admin.ModelAdmin):
    list_display = ("code", "name", "short_name", "kind", "jurisdiction", "parent")
    list_filter = ("kind",)
    search_fields = ("code", "name", "short_name", "name_en")
    list_select_related = ("jurisdiction", "parent")


@admin.register(reg.JointGovernanceZone)
class JointGovernanceZoneAdmin(PolicyAdminMixin, admin.ModelAdmin):
    list_display = ("code", "name", "members", "band_width_m", "band_computed_at")
    search_fields = ("code", "name", "name_en", "agreement_title")
    filter_horizontal = ("bureaus",)
    geometry_fields = ("band",)
    actions = ("recompute_band",)
    fieldsets = (
        (None, {"fields": ("code", "name", "name_en", "bureaus", "agreement_title", "agreement_signed", "description")}),
        (_("联防联治区"), {"fields": ("band_width_m", "band_computed_at", "band_summary", "objects_in_zone")}),
    )

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("bureaus")

    def get_readonly_fields(self, request, obj=None):
        return tuple(super().get_readonly_fields(request, obj)) + ("band_computed_at", "objects_in_zone")

    @admin.display(description=_("成员单位"))
    def members(self, obj):
        return "、".join(b.short_name or b.name for b in obj.bureaus.all())

    @admin.display(description=_("联防联治区内的站点与排污单位"))
    def objects_in_zone(self, obj):
        if obj is None or not obj.pk:
            return "-"
        if not obj.band:
            return _t("尚未计算联防联治区（在列表中选择“重新计算联防联治区”）")
        # the viewing user: every admin view runs inside acting_as(request.user)
        user = current_actor().user
        inside = services.objects_in_joint_zone(obj)
        rows = []
        for kind, label in (("sites", _t("站点")), ("enterprises", _t("排污单位"))):
            for o, dist in inside[kind]:
                if not policy.can_view(user, o):
                    continue
                rows.append((label, o.code, o.name, o.owner, f"{dist:.0f}" if dist == dist else "-"))
        if not rows:
            return _t("联防联治区内没有站点或排污单位")
        body = format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", rows)
        return format_html(
            "<table><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>{}</tbody></table>",
            _t("类型"), _t("编码"), _t("名称"), _t("所属局"), _t("距共同边界 (米)"), body,
        )

    @admin.action(description=_("重新计算联防联治区"))
    def recompute_band(self, request, queryset):
        done = 0
        for zone in queryset:
            if not policy.can_change(request.user, zone):
                self.message_user(request, _t("无权修改：%(zone)s") % {"zone": zone}, messages.ERROR)
                continue
            try:
                services.compute_joint_zone(zone=zone, actor=request.user, via="admin")
            except ValueError as exc:
                self.message_user(request, _t("%(zone)s：%(error)s") % {"zone": zone, "error": exc}, messages.ERROR)
                continue
            done += 1
        if done:
            self.message_user(request, _t("已重新计算 %(n)d 个联防联治区") % {"n": done}, messages.SUCCESS)


@admin.register(reg.SharedBoundary)
class SharedBoundaryAdmin(ReadOnlyAdminMixin, PolicyAdminMixin, admin.ModelAdmin):
    list_display = ("__str__", "a", "b", "length_m", "cross_province")
    list_filter = ("cross_province",)
    search_fields = ("a__name", "b__name", "a__adcode", "b__adcode")
    list_select_related = ("a", "b")
    geometry_fields = ("line",)
    fields = ("a", "b", "length_m", "cross_province", "line_summary")


@admin.register(reg.Waterbody)
class WaterbodyAdmin(PolicyAdminMixin, admin.ModelAdmin):
    list_display = ("code", "name", "kind", "river_type_reservoir")
    list_filter = ("kind", "river_type_reservoir")
    search_fields = ("code", "name", "name_en")
    geometry_fields = ("geometry",)
    fieldsets = (
        (None, {"fields": ("code", "name", "name_en", "kind", "river_type_reservoir", "notes")}),
        (_("几何"), {"classes": ("collapse",), "fields": ("geometry_summary",)}),
    )


@admin.register(reg.RiverNode)
class RiverNodeAdmin(PolicyAdminMixin, admin.ModelAdmin):
    list_display = ("code", "name", "lon", "lat")
    search_fields = ("code", "name")


@admin.register(reg.Reach)
class ReachAdmin(PolicyAdminMixin, admin.ModelAdmin):
    list_display = ("code", "waterbody", "from_node", "to_node", "length_m", "velocity_m_s", "schematic")
    list_filter = ("waterbody", "schematic")
    search_fields = ("code", "waterbody__name", "from_node__code", "to_node__code")
    list_select_related = ("waterbody", "from_node", "to_node")
    geometry_fields = ("geometry",)
    fieldsets = (
        (None, {"fields": ("code", "waterbody", "from_node", "to_node", "length_m", "velocity_m_s", "schematic")}),
        (_("几何"), {"classes": ("collapse",), "fields": ("geometry_summary",)}),
    )


# --- bureau-owned objects -------------------------------------------------------------------------


@admin.register(reg.Site)
class SiteAdmin(ImportAdminMixin, PolicyAdminMixin, admin.ModelAdmin):
    import_kind = "sites"
    list_display = ("code", "name", "kind", "owner", "jurisdiction", "waterbody", "assessment_level", "target_class", "is_boundary", "active")
    list_filter = ("kind", "owner", "assessment_level", "is_boundary", "waterbody", "network", "active")
    search_fields = ("code", "name", "name_en", "external_code")
    list_select_related = ("owner", "jurisdiction", "waterbody")
    fieldsets = (
        (None, {"fields": (
            "code", "name", "name_en", "kind", "owner", "jurisdiction", ("lon", "lat"), "location_note",
            "active", "automatic", "station_type", "network", "external_code", "source",
            "schematic", "district_assignment_uncertain",
        )}),
        (_("水质断面"), {"fields": (
            "waterbody", "waterbody_type", "reach", "chainage_m", "assessment_level", "target_class",
            "is_boundary", "upstream_jurisdiction", "downstream_jurisdiction", "drinking_water_source",
        )}),
        (_("空气站"), {"fields": ("control_point",)}),
    )


class OutletInline(PolicyInlineMixin, admin.TabularInline):
    model = reg.Outlet
    extra = 0
    fields = ("code", "name", "kind", "lon", "lat", "receiving_waterbody", "reach", "chainage_m", "discharge_mode")
    show_change_link = True


@admin.register(reg.Enterprise)
class EnterpriseAdmin(ImportAdminMixin, PolicyAdminMixin, admin.ModelAdmin):
    import_kind = "enterprises"
    list_display = ("code", "name", "owner", "industry", "jurisdiction", "permit_number", "active")
    list_filter = ("owner", "industry", "active")
    search_fields = ("code", "name", "credit_code", "permit_number")
    list_select_related = ("owner", "jurisdiction")
    inlines = (OutletInline,)


class PermitLimitInline(PolicyInlineMixin, admin.TabularInline):
    model = reg.PermitLimit
    extra = 0
    fields = ("parameter", "period", "lower", "limit", "unit", "reference_oxygen_pct", "standard", "confidence", "valid_from", "valid_to")


@admin.register(reg.Outlet)
class OutletAdmin(PolicyAdminMixin, admin.ModelAdmin):
    list_display = ("__str__", "enterprise", "code", "name", "kind", "receiving_waterbody")
    list_filter = ("kind", "enterprise__owner", "receiving_waterbody")
    search_fields = ("code", "name", "enterprise__code", "enterprise__name")
    list_select_related = ("enterprise", "receiving_waterbody")
    inlines = (PermitLimitInline,)


@admin.register(reg.PermitLimit)
class PermitLimitAdmin(ImportAdminMixin, PolicyAdminMixin, admin.ModelAdmin):
    import_kind = "limits"
    list_display = ("outlet", "parameter", "period", "lower", "limit", "unit", "standard", "valid_from", "confidence")
    list_filter = ("period", "confidence", "outlet__enterprise__owner")
    search_fields = ("outlet__code", "outlet__enterprise__code", "outlet__enterprise__name", "parameter__key", "parameter__name_zh")
    list_select_related = ("outlet__enterprise", "parameter")


@admin.register(reg.Device)
class DeviceAdmin(ImportAdminMixin, PolicyAdminMixin, admin.ModelAdmin):
    import_kind = "devices"
    list_display = ("mn", "name", "system_code", "protocol_version", "site", "outlet", "interval_s", "enabled")
    list_filter = ("protocol_version", "system_code", "enabled")
    search_fields = ("mn", "name", "vendor", "site__code", "site__name", "outlet__enterprise__name")
    list_select_related = ("site", "outlet__enterprise")
    filter_horizontal = ("parameters",)

    def get_fields(self, request, obj=None):
        fields = list(super().get_fields(request, obj))
        if obj is not None and not policy.can_change(request.user, obj) and "password" in fields:
            fields.remove("password")  # the PW opens the logger's channel: only for who may change it
        return fields


class ParameterAliasInline(PolicyInlineMixin, admin.TabularInline):
    model = reg.ParameterAlias
    extra = 0


class CodeIndexMixin:
    """The in-process code index must forget a changed catalog."""

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        services.code_index.invalidate()

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        services.code_index.invalidate()

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        services.code_index.invalidate()

    def delete_queryset(self, request, queryset):
        super().delete_queryset(request, queryset)
        services.code_index.invalidate()


@admin.register(reg.Parameter)
class ParameterAdmin(CodeIndexMixin, PolicyAdminMixin, admin.ModelAdmin):
    list_display = ("key", "code_2017", "code_2005", "name_zh", "name_en", "unit", "ambient_unit", "domain")
    list_filter = ("domain",)
    search_fields = ("key", "code_2017", "code_2005", "name_zh", "name_en", "aliases__code")
    inlines = (ParameterAliasInline,)


@admin.register(reg.ParameterAlias)
class ParameterAliasAdmin(CodeIndexMixin, PolicyAdminMixin, admin.ModelAdmin):
    list_display = ("code", "parameter", "source")
    search_fields = ("code", "parameter__key", "parameter__name_zh", "source")
    list_select_related = ("parameter",)


class MapCodesForm(forms.Form):
    parameter = forms.ModelChoiceField(label=_("监测因子"), queryset=reg.Parameter.objects.all())
    source = forms.CharField(label=_("来源"), max_length=128, required=False, help_text=_("如 厂商编码"))


@admin.register(reg.UnknownCode)
class UnknownCodeAdmin(PolicyAdminMixin, admin.ModelAdmin):
    list_display = ("code", "count", "first_seen", "last_seen", "example_source", "resolved_to")
    list_filter = (("resolved_to", admin.EmptyFieldListFilter),)
    search_fields = ("code", "example_source")
    readonly_fields = ("code", "count", "first_seen", "last_seen", "example_source")
    actions = ("map_to_parameter",)

    def has_add_permission(self, request):
        return False  # recorded by the ingest path, never typed in

    @admin.action(description=_("映射为监测因子（新增编码别名）"))
    def map_to_parameter(self, request, queryset):
        if not policy.can_create(request.user, reg.ParameterAlias):
            raise PermissionDenied
        if "apply" in request.POST:
            form = MapCodesForm(request.POST)
            if form.is_valid():
                parameter = form.cleaned_data["parameter"]
                source = form.cleaned_data["source"] or _t("由未知编码映射")
                mapped, skipped = 0, []
                with acting_as(request.user, via="admin"):
                    for unknown in queryset:
                        if reg.ParameterAlias.objects.filter(code=unknown.code).exists() or reg.Parameter.objects.filter(
                            code_2017=unknown.code
                        ).exists():
                            skipped.append(unknown.code)
                            continue
                        services.save_object(
                            reg.ParameterAlias(code=unknown.code, parameter=parameter, source=source),
                            actor=request.user, via="admin",
                        )
                        unknown.resolved_to = parameter
                        unknown.save(update_fields=["resolved_to"])
                        mapped += 1
                services.code_index.invalidate()
                self.message_user(
                    request, _t("已将 %(n)d 个编码映射为 %(param)s") % {"n": mapped, "param": parameter}, messages.SUCCESS
                )
                if skipped:
                    self.message_user(
                        request, _t("以下编码已有映射，未改动：%(codes)s") % {"codes": "、".join(skipped)}, messages.WARNING
                    )
                return None
        else:
            form = MapCodesForm()
        context = {
            **self.admin_site.each_context(request),
            "title": _t("映射未知编码"),
            "opts": self.model._meta,
            "queryset": queryset,
            "form": form,
        }
        return TemplateResponse(request, "admin/registry/unknowncode/map_codes.html", context)
