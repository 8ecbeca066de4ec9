"""Forms of the notification settings page."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from gongzhi.notifications.channels import all_channels
from gongzhi.notifications.models import CTX


def user_channel_choices():
    return [(c.name, c.label or c.name) for c in all_channels().values() if c.per_user and not c.immediate]


class QuietHoursForm(forms.Form):
    start = forms.TimeField(label=_("开始（北京时间）"), widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"))
    end = forms.TimeField(label=_("结束（北京时间）"), widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"))
    enabled = forms.BooleanField(label=pgettext_lazy(CTX, "启用"), required=False, initial=True)


class SubscriptionForm(forms.Form):
    kind_pattern = forms.RegexField(
        label=_("通知类型"), max_length=64, regex=r"^(\*|[a-z0-9_]+(\.[a-z0-9_]+)*(\.\*)?)$",
        help_text=_("例如 alarm.*、warning.downstream 或 *"),
        error_messages={"invalid": _("请填写通知类型，如 alarm.*、warning.downstream 或 *")},
    )
    channel = forms.ChoiceField(label=_("渠道"), choices=())
    enabled = forms.TypedChoiceField(label=_("接收"), choices=(("1", _("接收")), ("0", _("不接收"))), coerce=lambda v: v == "1")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["channel"].choices = user_channel_choices()
