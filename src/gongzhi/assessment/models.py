"""The assessment cache (评价结果缓存).

Per site and period, the inputs the standards engine needs (water: the period means of each
indicator; air: the daily concentrations and AQI), computed from the observation store's
aggregates at the raw data level. A row is valid only while ``version`` equals the
fingerprint of the site's month aggregates of that period
(:func:`gongzhi.assessment.services.fingerprints`): any recompute of those aggregates (late
data, a correction, an invalidation) changes the fingerprint, and the next read recomputes
and overwrites the row. Written only by :mod:`gongzhi.assessment.services`."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class FactKind(models.TextChoices):
    WATER = "water", _("水质")
    AIR = "air", _("空气质量")


class CachedFacts(models.Model):
    kind = models.CharField(_("类型"), max_length=8, choices=FactKind.choices)
    site = models.ForeignKey("registry.Site", on_delete=models.CASCADE, related_name="+", verbose_name=_("站点"))
    start = models.DateTimeField(_("时段起始"))
    end = models.DateTimeField(_("时段结束"))
    version = models.CharField(_("数据版本"), max_length=64)
    payload = models.JSONField(_("内容"))
    computed = models.DateTimeField(_("计算时间"))

    class Meta:
        verbose_name = _("评价缓存")
        verbose_name_plural = _("评价缓存")
        constraints = [models.UniqueConstraint(fields=["kind", "site", "start", "end"], name="assessment_facts_unique")]
