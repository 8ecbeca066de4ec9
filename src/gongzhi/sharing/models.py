"""Sharing agreements (数据共享方案): which of a provider's data a partner sees."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _


class DataLevel(models.TextChoices):
    """How far down the review pipeline a partner may look.

    ``raw``: everything as received, flags included; ``validated``: only data the
    owner's monitoring staff have approved."""

    RAW = "raw", _("原始数据")
    VALIDATED = "validated", _("审核后数据")


class SharingAgreement(models.Model):
    provider = models.ForeignKey(
        "registry.Bureau", on_delete=models.PROTECT, related_name="agreements_given", verbose_name=_("提供方")
    )
    recipient = models.ForeignKey(
        "registry.Bureau", on_delete=models.PROTECT, related_name="agreements_received", verbose_name=_("接收方")
    )
    title = models.CharField(_("名称"), max_length=160)
    purpose = models.TextField(_("共享目的"))
    level = models.CharField(_("数据级别"), max_length=16, choices=DataLevel.choices, default=DataLevel.VALIDATED)
    valid_from = models.DateField(_("起始日期"))
    valid_to = models.DateField(_("截止日期"), null=True, blank=True, help_text=_("留空表示长期有效"))
    all_sites = models.BooleanField(_("全部站点"), default=False)
    sites = models.ManyToManyField("registry.Site", blank=True, related_name="agreements", verbose_name=_("共享站点"))
    all_enterprises = models.BooleanField(_("全部排污单位"), default=False)
    enterprises = models.ManyToManyField(
        "registry.Enterprise", blank=True, related_name="agreements", verbose_name=_("共享排污单位")
    )
    all_parameters = models.BooleanField(_("全部因子"), default=True)
    parameters = models.ManyToManyField(
        "registry.Parameter", blank=True, related_name="agreements", verbose_name=_("共享因子")
    )
    active = models.BooleanField(_("有效"), default=True, help_text=_("提供方可随时中止"))
    created = models.DateTimeField(_("创建时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("共享协议")
        verbose_name_plural = _("共享协议")
        ordering = ["provider__code", "recipient__code", "valid_from"]
        constraints = [
            models.CheckConstraint(condition=~models.Q(provider=models.F("recipient")), name="agreement_between_two_bureaus"),
            models.CheckConstraint(
                condition=models.Q(valid_to__isnull=True) | models.Q(valid_to__gte=models.F("valid_from")),
                name="agreement_dates_ordered",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.provider} → {self.recipient}: {self.title}"

    def clean(self) -> None:
        if self.provider_id and self.provider_id == self.recipient_id:
            raise ValidationError(_("提供方与接收方不能相同"))
        if self.valid_to and self.valid_from and self.valid_to < self.valid_from:
            raise ValidationError({"valid_to": _("截止日期早于起始日期")})
