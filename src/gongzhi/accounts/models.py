"""Users. Every user belongs to one bureau and holds one role there."""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    """What a user does in their bureau. Permissions follow from the role in
    :mod:`gongzhi.sharing.policy`, never from checks in views."""

    ADMINISTRATOR = "administrator", _("管理员")
    MONITORING_STAFF = "monitoring_staff", _("监测人员")
    ANALYST = "analyst", _("分析人员")
    ENFORCEMENT_OFFICER = "enforcement_officer", _("执法人员")
    RIVER_CHIEF = "river_chief", _("河长")
    EMERGENCY_DUTY_OFFICER = "emergency_duty_officer", _("应急值班人员")
    VIEWER = "viewer", _("只读用户")


class User(AbstractUser):
    bureau = models.ForeignKey(
        "registry.Bureau",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="users",
        verbose_name=_("所属生态环境局"),
        help_text=_("平台运维超级用户可不属于任何局；其他用户必须属于一个局。"),
    )
    role = models.CharField(_("角色"), max_length=32, choices=Role.choices, default=Role.VIEWER)
    phone = models.CharField(_("电话"), max_length=32, blank=True)

    class Meta:
        verbose_name = _("用户")
        verbose_name_plural = _("用户")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(is_superuser=True) | models.Q(bureau__isnull=False),
                name="user_has_bureau_unless_superuser",
            )
        ]

    def __str__(self) -> str:
        name = self.get_full_name() or self.username
        return f"{name} ({self.bureau.short_name})" if self.bureau_id else name
