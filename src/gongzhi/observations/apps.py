from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ObservationsConfig(AppConfig):
    name = "gongzhi.observations"
    label = "observations"
    verbose_name = _("监测数据")
