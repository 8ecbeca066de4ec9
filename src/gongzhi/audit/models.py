"""Audit trail: who changed which registry or sharing object, when, and what changed."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Action(models.TextChoices):
    CREATE = "create", _("新增")
    UPDATE = "update", _("修改")
    DELETE = "delete", _("删除")
    IMPORT = "import", _("导入")


class AuditEvent(models.Model):
    time = models.DateTimeField(_("时间"), auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("操作人")
    )
    actor_name = models.CharField(_("操作人名称"), max_length=150, blank=True, help_text=_("操作人被删除后仍可查"))
    via = models.CharField(_("途径"), max_length=32, blank=True, help_text=_("admin、import、demo、api、cli"))
    action = models.CharField(_("操作"), max_length=16, choices=Action.choices)
    model = models.CharField(_("对象类型"), max_length=64, db_index=True)
    object_id = models.CharField(_("对象 ID"), max_length=64, db_index=True)
    object_repr = models.CharField(_("对象"), max_length=255)
    changes = models.JSONField(_("变更内容"), default=dict, blank=True)
    reason = models.CharField(_("原因"), max_length=255, blank=True)

    class Meta:
        verbose_name = _("审计记录")
        verbose_name_plural = _("审计记录")
        ordering = ["-time", "-id"]

    def __str__(self) -> str:
        return f"{self.time:%Y-%m-%d %H:%M:%S} {self.actor_name} {self.get_action_display()} {self.object_repr}"
