"""Credentials of the API and the idempotency records of the partner push.

* :class:`ApiToken` (个人 API 令牌): a secret of one user; requests made with it act as
  that user, with exactly the user's rights under :mod:`gongzhi.sharing.policy`.
* :class:`PartnerKey` (协作方接入密钥): a secret of one bureau for machine-to-machine
  push; its principal is the bureau, its only scope is ``push``.

Secrets are shown once, when created; only their SHA-256 digest is stored (the secrets
are 256-bit random strings, so an unsalted digest is enough to make a database dump
useless to an attacker). ``prefix`` (the first characters) identifies a secret in lists
and logs without revealing it.

:class:`IdempotencyRecord` keeps the response of every processed push batch under its
``Idempotency-Key`` for ``GONGZHI_API_IDEMPOTENCY_DAYS`` days (default 7): a resend
within that time gets the stored response back; older records are deleted by
``gongzhi api purge-idempotency`` (run it daily) and are ignored when found.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class _Secret(models.Model):
    name = models.CharField(_("用途说明"), max_length=100, blank=True)
    prefix = models.CharField(_("前缀"), max_length=16, editable=False, help_text=_("密钥的前几位，用于识别"))
    key_hash = models.CharField(_("摘要 (SHA-256)"), max_length=64, unique=True, editable=False)
    created = models.DateTimeField(_("创建时间"), default=timezone.now, editable=False)
    last_used = models.DateTimeField(_("最近使用"), null=True, blank=True, editable=False)
    expires = models.DateTimeField(_("过期时间"), null=True, blank=True, help_text=_("留空表示长期有效"))
    revoked = models.DateTimeField(_("吊销时间"), null=True, blank=True)

    class Meta:
        abstract = True

    def state(self, now=None) -> str:
        """``active``, ``expired`` or ``revoked``."""
        now = now or timezone.now()
        if self.revoked is not None:
            return "revoked"
        if self.expires is not None and self.expires <= now:
            return "expired"
        return "active"


class ApiToken(_Secret):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens", verbose_name=_("用户"))

    class Meta:
        verbose_name = _("API 令牌")
        verbose_name_plural = _("API 令牌")
        ordering = ["-created"]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user})"


class KeyScope(models.TextChoices):
    PUSH = "push", _("数据推送")


class PartnerKey(_Secret):
    bureau = models.ForeignKey("registry.Bureau", on_delete=models.CASCADE, related_name="api_keys", verbose_name=_("所属局"))
    scope = models.CharField(_("权限范围"), max_length=16, choices=KeyScope.choices, default=KeyScope.PUSH)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("创建人")
    )

    class Meta:
        verbose_name = _("协作方接入密钥")
        verbose_name_plural = _("协作方接入密钥")
        ordering = ["-created"]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.bureau})"


class IdempotencyRecord(models.Model):
    """The stored response of one processed push batch (see the module docstring for retention)."""

    bureau = models.ForeignKey("registry.Bureau", on_delete=models.CASCADE, related_name="+", verbose_name=_("所属局"))
    key = models.CharField(_("幂等键"), max_length=128)
    body_hash = models.CharField(_("请求摘要 (SHA-256)"), max_length=64)
    status = models.PositiveSmallIntegerField(_("响应状态码"))
    response = models.JSONField(_("响应"))
    created = models.DateTimeField(_("时间"), default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("推送幂等记录")
        verbose_name_plural = _("推送幂等记录")
        constraints = [models.UniqueConstraint(fields=["bureau", "key"], name="idempotency_key_unique_per_bureau")]

    def __str__(self) -> str:
        return f"{self.bureau} {self.key}"
