"""Early warning across boundaries (联防联控): alarm rules, the alarm lifecycle, anomaly
verdicts, upstream→downstream propagation, acknowledgement deadlines and escalation."""
from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AlertsConfig(AppConfig):
    name = "gongzhi.alerts"
    verbose_name = _("预警")

    def ready(self) -> None:
        from gongzhi.alerts import evaluation

        evaluation.install()
