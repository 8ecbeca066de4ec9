"""Admin (Chinese): bureaus' webhook endpoints and the delivery log. Who may do what is asked of
gongzhi.sharing.policy (administered_bureaus / can_administer_bureau); edits go through services."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from gongzhi.notifications import services
from gongzhi.notifications.models import Delivery, WebhookEndpoint
from gongzhi.sharing import policy


class WebhookEndpointForm(forms.ModelForm):
    url = forms.URLField(label=_("地址"), max_length=500, assume_scheme="https")

    class Meta:
        model = WebhookEndpoint
        fields = "__all__"
        widgets = {"secret": forms.PasswordInput(render_value=True)}

    def _post_clean(self):
        super()._post_clean()
        for name, message in services.webhook_endpoint_errors(self.instance).items():
            self.add_error(name if name in self.fields else None, message)


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    list_display = ("name", "bureau", "url", "kinds", "active", "timeout_seconds")
    list_filter = ("active", "bureau")
    search_fields = ("name", "url")
    fields = ("bureau", "name", "url", "secret", "kinds", "active", "timeout_seconds")

    def get_queryset(self, request):
        return super().get_queryset(request).filter(bureau__in=policy.administered_bureaus(request.user))

    def has_module_permission(self, request):
        return policy.administered_bureaus(request.user).exists()

    def has_view_permission(self, request, obj=None):
        return self.has_change_permission(request, obj)

    def has_add_permission(self, request):
        return policy.administered_bureaus(request.user).exists()

    def has_change_permission(self, request, obj=None):
        if obj is None:
            return policy.administered_bureaus(request.user).exists()
        return policy.can_administer_bureau(request.user, obj.bureau_id)

    def has_delete_permission(self, request, obj=None):
        return self.has_change_permission(request, obj)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "bureau":
            kwargs["queryset"] = policy.administered_bureaus(request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    form = WebhookEndpointForm

    def save_model(self, request, obj, form, change):
        services.save_webhook_endpoint(endpoint=obj)


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = ("id", "channel", "recipient", "endpoint", "kind", "status", "attempts", "next_attempt_at", "sent_at", "last_error")
    list_filter = ("status", "channel")
    search_fields = ("notification__subject", "notification__ref", "last_error")
    list_select_related = ("notification__recipient", "endpoint")
    readonly_fields = [f.name for f in Delivery._meta.fields]
    actions = ["retry_now"]
    date_hierarchy = "created"

    @admin.display(description=_("接收人"))
    def recipient(self, obj):
        return obj.notification.recipient

    @admin.display(description=_("类型"))
    def kind(self, obj):
        return obj.notification.kind

    def get_queryset(self, request):
        from django.db.models import Q

        qs = super().get_queryset(request)
        if request.user.is_superuser:
            return qs
        bureaus = policy.administered_bureaus(request.user)
        return qs.filter(Q(endpoint__bureau__in=bureaus) | Q(notification__recipient__bureau__in=bureaus))

    def has_module_permission(self, request):
        return policy.administered_bureaus(request.user).exists()

    def has_view_permission(self, request, obj=None):
        return policy.administered_bureaus(request.user).exists()

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description=_("立即重试所选投递"))
    def retry_now(self, request, queryset):
        count = services.retry_now(delivery_ids=queryset.values_list("pk", flat=True))
        self.message_user(request, _("%(count)d 条投递已重新排队") % {"count": count})
