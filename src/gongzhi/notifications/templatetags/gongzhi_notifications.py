"""The header badge of unread notifications (included once by web/base.html)."""

from __future__ import annotations

from django import template

from gongzhi.notifications import services

register = template.Library()


@register.inclusion_tag("notifications/_badge_link.html", takes_context=True)
def notification_badge(context):
    user = context.get("user")
    return {"count": services.unread_count(user=user) if user is not None else 0}
