"""Notifications (通知).

A :class:`Notification` is the in-app message itself (one per recipient). Every other channel
(email, webhook, SMS/WeCom gateways) gets a :class:`Delivery` row that the dispatcher sends,
retries with backoff, defers through quiet hours, or gives up on. Only
:mod:`gongzhi.notifications.services` writes these tables.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

#: msgctxt of the strings other apps translate differently (a merged .po holds each msgid once per context)
CTX = "notifications"


#: Names of the kinds the platform sends (others are shown by their code).
KIND_LABELS = {
    "alarm.opened": _("告警触发"),
    "alarm.resolved": _("告警解除"),
    "warning.downstream": pgettext_lazy(CTX, "下游预警"),
    "warning.escalated": pgettext_lazy(CTX, "预警升级"),
    "warning.cancelled": _("预警撤销"),
}


class Notification(models.Model):
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications", verbose_name=_("接收人")
    )
    kind = models.CharField(_("类型"), max_length=64, help_text=_("例如 alarm.opened、warning.downstream"))
    subject = models.CharField(_("标题"), max_length=200)
    body = models.TextField(_("正文"), blank=True)
    subject_en = models.CharField(_("英文标题"), max_length=200, blank=True)
    body_en = models.TextField(_("英文正文"), blank=True)
    link = models.CharField(_("链接"), max_length=500, blank=True)
    payload = models.JSONField(_("附加数据"), default=dict, blank=True)
    ref = models.CharField(_("来源对象"), max_length=128, blank=True, db_index=True, help_text=_("例如 alarm:42"))
    urgent = models.BooleanField(_("紧急"), default=False)
    created = models.DateTimeField(pgettext_lazy(CTX, "创建时间"), db_index=True)
    read_at = models.DateTimeField(_("阅读时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("通知")
        verbose_name_plural = _("通知")
        ordering = ["-created", "-id"]
        indexes = [models.Index(fields=["recipient", "read_at"], name="notif_recipient_unread")]

    def __str__(self) -> str:
        return f"{self.kind} → {self.recipient_id}: {self.subject}"

    def subject_for(self, language: str) -> str:
        return self.subject_en if language.startswith("en") and self.subject_en else self.subject

    def body_for(self, language: str) -> str:
        return self.body_en if language.startswith("en") and self.body_en else self.body

    @property
    def kind_label(self) -> str:
        return str(KIND_LABELS.get(self.kind, self.kind))

    @property
    def safe_link(self) -> str:
        """The link if it is a site path or an http(s) URL (never ``javascript:`` and the like)."""
        link = (self.link or "").strip()
        if (link.startswith("/") and not link.startswith("//")) or link.startswith(("http://", "https://")):
            return link
        return ""


class DeliveryStatus(models.TextChoices):
    QUEUED = "queued", _("排队中")
    SENDING = "sending", _("发送中")
    SENT = "sent", _("已发送")
    FAILED = "failed", _("失败")
    DEFERRED = "deferred", _("免打扰推迟")


class Delivery(models.Model):
    """One notification on one channel (for webhooks: to one endpoint)."""

    notification = models.ForeignKey(Notification, on_delete=models.CASCADE, related_name="deliveries", verbose_name=_("通知"))
    channel = models.CharField(_("渠道"), max_length=32)
    endpoint = models.ForeignKey(
        "WebhookEndpoint", on_delete=models.CASCADE, null=True, blank=True, related_name="deliveries", verbose_name=_("回调地址")
    )
    status = models.CharField(pgettext_lazy(CTX, "状态"), max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.QUEUED)
    attempts = models.PositiveIntegerField(_("尝试次数"), default=0)
    next_attempt_at = models.DateTimeField(_("下次尝试"), null=True, blank=True)
    last_error = models.TextField(_("最近错误"), blank=True)
    created = models.DateTimeField(pgettext_lazy(CTX, "创建时间"))
    sent_at = models.DateTimeField(_("发送时间"), null=True, blank=True)
    claimed_at = models.DateTimeField(_("领取时间"), null=True, blank=True)
    claim_token = models.CharField(_("领取标记"), max_length=32, blank=True, db_index=True)

    class Meta:
        verbose_name = _("投递")
        verbose_name_plural = _("投递")
        ordering = ["-created", "-id"]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="delivery_due")]

    def __str__(self) -> str:
        return f"{self.channel} #{self.notification_id} {self.status}"


class Subscription(models.Model):
    """Whether a user gets notifications of kinds matching ``kind_pattern`` on ``channel``.

    ``kind_pattern`` is an exact kind (``alarm.opened``), a prefix glob (``alarm.*``) or ``*``;
    the most specific matching row wins; with none, the channel's default applies."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_subscriptions", verbose_name=_("用户")
    )
    kind_pattern = models.CharField(_("通知类型"), max_length=64, help_text=_("例如 alarm.*、warning.downstream 或 *"))
    channel = models.CharField(_("渠道"), max_length=32)
    enabled = models.BooleanField(pgettext_lazy(CTX, "启用"), default=True)

    class Meta:
        verbose_name = _("通知订阅")
        verbose_name_plural = _("通知订阅")
        constraints = [
            models.UniqueConstraint(fields=["user", "kind_pattern", "channel"], name="subscription_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.kind_pattern} {self.channel} {'on' if self.enabled else 'off'}"


class QuietHours(models.Model):
    """A user's quiet period in Beijing time; may cross midnight (22:00–07:00).
    Non-urgent email, webhook and gateway deliveries wait until it ends; in-app is immediate."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="quiet_hours", verbose_name=_("用户")
    )
    start = models.TimeField(_("开始（北京时间）"))
    end = models.TimeField(_("结束（北京时间）"))
    enabled = models.BooleanField(pgettext_lazy(CTX, "启用"), default=True)

    class Meta:
        verbose_name = _("免打扰时段")
        verbose_name_plural = _("免打扰时段")

    def __str__(self) -> str:
        return f"{self.user_id} {self.start:%H:%M}–{self.end:%H:%M}"


class WebhookEndpoint(models.Model):
    """A bureau's receiver of signed JSON notifications (see docs/notifications.md)."""

    bureau = models.ForeignKey(
        "registry.Bureau", on_delete=models.CASCADE, related_name="webhook_endpoints", verbose_name=_("生态环境局")
    )
    name = models.CharField(_("名称"), max_length=100)
    url = models.URLField(_("地址"), max_length=500)
    secret = models.CharField(_("签名密钥"), max_length=200, help_text=_("用于 HMAC-SHA256 签名，至少 16 个字符"))
    kinds = models.CharField(
        _("通知类型"), max_length=500, blank=True, help_text=_("以逗号分隔，例如 alarm.*,warning.*；留空表示全部")
    )
    active = models.BooleanField(pgettext_lazy(CTX, "启用"), default=True)
    timeout_seconds = models.FloatField(_("超时（秒）"), default=5.0)

    class Meta:
        verbose_name = _("回调地址")
        verbose_name_plural = _("回调地址")

    def __str__(self) -> str:
        return f"{self.name} ({self.url})"

    def patterns(self) -> list[str]:
        return [p.strip() for p in self.kinds.split(",") if p.strip()] or ["*"]
