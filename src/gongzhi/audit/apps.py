from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AuditConfig(AppConfig):
    name = "gongzhi.audit"
    label = "audit"
    verbose_name = _("操作审计")

    def ready(self) -> None:
        from gongzhi.audit import signals

        signals.connect()
