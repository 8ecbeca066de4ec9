"""Pages: the notification list (mark read), the header badge (polled by htmx) and the user's
subscription and quiet-hours settings. Every write goes through services; every query is the
signed-in user's own (services.notifications_for)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from gongzhi.notifications import services
from gongzhi.notifications.channels import all_channels
from gongzhi.notifications.forms import QuietHoursForm, SubscriptionForm
from gongzhi.notifications.models import QuietHours

HTMX_STOP_POLLING = 286  # htmx stops an "every" trigger on this status


@login_required
@require_GET
def notification_list(request):
    unread_only = request.GET.get("unread") == "1"
    qs = services.notifications_for(user=request.user, unread_only=unread_only).prefetch_related("deliveries")
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    language = get_language() or "zh-hans"
    rows = [{
        "n": n, "subject": n.subject_for(language), "body": n.body_for(language),
        "deliveries": sorted(n.deliveries.all(), key=lambda d: d.channel),
    } for n in page.object_list]
    return render(request, "notifications/list.html", {
        "page": page, "rows": rows, "unread_only": unread_only, "unread": services.unread_count(user=request.user),
    })


@require_GET
def badge(request):
    if not request.user.is_authenticated:
        return HttpResponse(status=HTMX_STOP_POLLING)
    response = render(request, "notifications/_badge_link.html", {"count": services.unread_count(user=request.user)})
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def mark_read(request):
    ids = "all" if request.POST.get("all") == "1" else request.POST.getlist("id")
    services.mark_read(user=request.user, notification_ids=ids)
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        target = "notifications"
    return redirect(target)


@login_required
@require_GET
def open_notification(request, pk: int):
    if services.valid_id(pk) is None:
        raise Http404
    n = services.notifications_for(user=request.user).filter(pk=pk).first()
    if n is None:
        raise Http404
    services.mark_read(user=request.user, notification_ids=[n.pk])
    return redirect(n.safe_link or "notifications")


@login_required
@require_http_methods(["GET", "POST"])
def settings_page(request):
    user = request.user
    quiet = QuietHours.objects.filter(user=user).first()
    quiet_form = QuietHoursForm(initial={"start": quiet.start, "end": quiet.end, "enabled": quiet.enabled} if quiet else {"enabled": True})
    sub_form = SubscriptionForm(initial={"kind_pattern": "alarm.*", "enabled": "1"})
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "quiet":
            quiet_form = QuietHoursForm(request.POST)
            if quiet_form.is_valid():
                services.set_quiet_hours(user=user, **quiet_form.cleaned_data)
                messages.success(request, _("免打扰时段已保存"))
                return redirect("notifications-settings")
        elif action == "quiet-clear":
            services.set_quiet_hours(user=user, start=None, end=None)
            messages.success(request, _("免打扰时段已取消"))
            return redirect("notifications-settings")
        elif action == "subscribe":
            sub_form = SubscriptionForm(request.POST)
            if sub_form.is_valid():
                services.set_subscription(user=user, **sub_form.cleaned_data)
                messages.success(request, _("订阅已保存"))
                return redirect("notifications-settings")
        elif action == "unsubscribe":
            services.delete_subscription(user=user, subscription_id=request.POST.get("id"))
            return redirect("notifications-settings")
    channels = all_channels()
    return render(request, "notifications/settings.html", {
        "quiet": quiet, "quiet_form": quiet_form, "sub_form": sub_form,
        "subscriptions": user.notification_subscriptions.order_by("channel", "kind_pattern"),
        "channel_labels": {name: c.label or name for name, c in channels.items()},
        "email_available": "email" in channels, "sms_available": "sms" in channels,
    }, status=400 if request.method == "POST" else 200)
