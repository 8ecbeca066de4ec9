"""Template helpers of the shared page frame: the navigation of the platform's pages."""

from __future__ import annotations

from django import template
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _

register = template.Library()

#: The top navigation: (URL name, label, path prefixes that mark it active). A page whose URL
#: name is not (yet) routed is left out.
NAVIGATION = (
    ("map", _("一张图"), ("/map/", "/sites/")),
    ("overview", _("概览"), ("/overview/", "/joint-zones/")),
    ("assessments", _("考核评价"), ("/assessments/",)),
    ("alarms", _("预警"), ("/alerts/",)),
    ("review", _("数据审核"), ("/review/",)),
    ("ingest-status", _("运行状态"), ("/status/",)),
)


@register.simple_tag(takes_context=True)
def nav_items(context):
    request = context.get("request")
    path = request.path if request is not None else ""
    items = []
    for name, label, prefixes in NAVIGATION:
        try:
            url = reverse(name)
        except NoReverseMatch:
            continue
        active = path.startswith(prefixes) or (name == "map" and path == "/")
        items.append({"url": url, "label": label, "active": active})
    return items


@register.filter
def num(value, decimals: int = 4):
    """A measured value for display: up to ``decimals`` decimals, no trailing zeros."""
    if value is None or value == "":
        return ""
    try:
        v = float(value)
    except (TypeError, ValueError):
        return value
    if v != v:
        return ""
    text = f"{v:.{int(decimals)}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text
