"""Template helpers of the shared page frame: the navigation of the platform's pages."""

from __future__ import annotations

from django import template
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _

register = template.Library()

#: The top navigation: (URL name, label, path prefixes that mark it active). Pages still to
#: come (assessments 考核评价, data review 数据审核, status 运行状态) get one line each here.
NAVIGATION = (
    ("map", _("一张图"), ("/map/", "/sites/")),
    ("overview", _("概览"), ("/overview/", "/joint-zones/")),
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
