"""The observation store (监测数据).

A *series* is one site (or outlet) × parameter × kind (real-time, minute, hour,
day, lab sample) with its unit and owner bureau. An *observation* is one value
of a series at a time, exactly as received: it is never updated. A correction
or an invalidation is a :class:`Revision` (a new version with who, why and
when); the raw value stays queryable.

The observation table is deliberately narrow (composite primary key
``(series, time)``, no surrogate id) because it is the one table that grows by
tens of thousands of rows a second; the primary key is also the idempotency
key: the same value of the same series at the same time is stored once.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class SeriesKind(models.TextChoices):
    REALTIME = "rtd", _("实时数据")
    MINUTE = "min", _("分钟数据")
    HOUR = "hour", _("小时数据")
    DAY = "day", _("日数据")
    SAMPLE = "sample", _("手工/实验室样品")


class Source(models.IntegerChoices):
    DEVICE = 1, _("数采仪")
    PARTNER = 2, _("协作方系统")
    IMPORT = 3, _("文件导入")
    MANUAL = 4, _("人工录入")


# QC flag bits (数据质控标记), combined in Observation.qc. Documented in docs/observations.md.
QC_UNIT_CONVERTED = 1 << 0  # value converted from the unit the source sent
QC_OUT_OF_RANGE = 1 << 1  # outside the physical range of the parameter
QC_FLAG_INVALID = 1 << 2  # HJ 212 data flag makes the value invalid (F, M, D, C, T, B …)
QC_FUTURE = 1 << 3  # timestamp in the future beyond tolerance
QC_LATE = 1 << 4  # arrived after its aggregate was computed
QC_UNKNOWN_UNIT = 1 << 5  # unit not recognised: value kept, not converted
QC_NEGATIVE = 1 << 6  # negative value of a non-negative quantity
QC_BACKFILL = 1 << 7  # back-filled (补传, HJ 212-2025 RF=1 or late resend)

QC_BITS = {
    QC_UNIT_CONVERTED: "unit_converted",
    QC_OUT_OF_RANGE: "out_of_range",
    QC_FLAG_INVALID: "flag_invalid",
    QC_FUTURE: "future",
    QC_LATE: "late",
    QC_UNKNOWN_UNIT: "unknown_unit",
    QC_NEGATIVE: "negative",
    QC_BACKFILL: "backfill",
}
#: bits that make a value unusable for assessment until a reviewer says otherwise
QC_INVALIDATING = QC_OUT_OF_RANGE | QC_FLAG_INVALID | QC_FUTURE | QC_NEGATIVE


def qc_names(bits: int) -> list[str]:
    return [name for bit, name in QC_BITS.items() if bits & bit]


class Series(models.Model):
    site = models.ForeignKey("registry.Site", on_delete=models.PROTECT, null=True, blank=True, related_name="series", verbose_name=_("站点"))
    outlet = models.ForeignKey("registry.Outlet", on_delete=models.PROTECT, null=True, blank=True, related_name="series", verbose_name=_("排放口"))
    parameter = models.ForeignKey("registry.Parameter", on_delete=models.PROTECT, related_name="series", verbose_name=_("因子"))
    kind = models.CharField(_("数据类型"), max_length=8, choices=SeriesKind.choices)
    unit = models.CharField(_("单位"), max_length=32, blank=True)
    owner = models.ForeignKey("registry.Bureau", on_delete=models.PROTECT, related_name="series", verbose_name=_("所属局"))
    created = models.DateTimeField(_("创建时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("数据序列")
        verbose_name_plural = _("数据序列")
        constraints = [
            models.CheckConstraint(
                condition=(models.Q(site__isnull=False) & models.Q(outlet__isnull=True))
                | (models.Q(site__isnull=True) & models.Q(outlet__isnull=False)),
                name="series_site_xor_outlet",
            ),
            models.UniqueConstraint(
                fields=["site", "parameter", "kind"], condition=models.Q(site__isnull=False), name="series_unique_site"
            ),
            models.UniqueConstraint(
                fields=["outlet", "parameter", "kind"], condition=models.Q(outlet__isnull=False), name="series_unique_outlet"
            ),
        ]

    def __str__(self) -> str:
        where = self.site or self.outlet
        return f"{where} · {self.parameter.key} · {self.kind}"


class Observation(models.Model):
    pk = models.CompositePrimaryKey("series_id", "time")
    # No database foreign-key constraint on the hottest table: the check would run a
    # trigger per inserted row (raw COPY has none). Series ids come only from the series
    # resolver, and series are never deleted while they have data (PROTECT in the ORM).
    # no index of its own: the primary key (series, time) serves every lookup by series, and a
    # second index on the store's biggest table costs every insert (write amplification)
    series = models.ForeignKey(
        Series, on_delete=models.PROTECT, db_constraint=False, db_index=False, related_name="observations",
        verbose_name=_("序列"),
    )
    time = models.DateTimeField(_("时间"), help_text=_("实时数据为采样时刻；分钟/小时/日数据为时段起始时刻"))
    value = models.FloatField(_("数值"), null=True)
    vmin = models.FloatField(_("最小值"), null=True)
    vmax = models.FloatField(_("最大值"), null=True)
    total = models.FloatField(_("累计值"), null=True, help_text=_("HJ 212 -Cou"))
    flag = models.CharField(_("数据标记"), max_length=2, blank=True, help_text=_("HJ 212 数据标记 N/F/M/S/D/C/T/B"))
    qc = models.IntegerField(_("质控标记"), default=0)
    source = models.SmallIntegerField(_("来源"), choices=Source.choices)
    received = models.DateTimeField(_("接收时间"))
    packet_id = models.BigIntegerField(_("原始报文"), null=True, blank=True)

    class Meta:
        verbose_name = _("监测数据")
        verbose_name_plural = _("监测数据")
        indexes = [models.Index(fields=["received"], name="obs_received_idx")]

    @property
    def usable(self) -> bool:
        return not (self.qc & QC_INVALIDATING)


class Revision(models.Model):
    """A correction or invalidation of one observation: a new version with who and why."""

    series = models.ForeignKey(Series, on_delete=models.PROTECT, related_name="revisions", verbose_name=_("序列"))
    time = models.DateTimeField(_("时间"))
    version = models.PositiveIntegerField(_("版本"))
    value = models.FloatField(_("修正值"), null=True, blank=True)
    invalid = models.BooleanField(_("判为无效"), default=False)
    reason = models.CharField(_("原因"), max_length=255)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("操作人"))
    created = models.DateTimeField(_("时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("数据修正")
        verbose_name_plural = _("数据修正")
        constraints = [models.UniqueConstraint(fields=["series", "time", "version"], name="revision_version_unique")]
        ordering = ["series", "time", "version"]


# --- aggregates, dirty periods, latest values, approvals, imports ---------------------------------


class Period(models.TextChoices):
    """Aggregation periods: Beijing-time (UTC+8) clock hours, natural days and calendar months."""

    HOUR = "hour", _("小时")
    DAY = "day", _("日")
    MONTH = "month", _("月")


class Aggregate(models.Model):
    """A computed hour/day/month statistic (统计值) of one measurement.

    Hour aggregates belong to the real-time or minute series they are computed from;
    day and month aggregates belong to the *anchor* series of the measurement group
    (same site or outlet and parameter, all automatic kinds: the series with the lowest
    id, which never changes). See :mod:`gongzhi.observations.aggregates`."""

    series = models.ForeignKey(Series, on_delete=models.PROTECT, related_name="aggregates", verbose_name=_("序列"))
    period = models.CharField(_("时段"), max_length=5, choices=Period.choices)
    start = models.DateTimeField(_("时段起始"))
    value = models.FloatField(_("均值"), null=True)
    vmin = models.FloatField(_("最小值"), null=True)
    vmax = models.FloatField(_("最大值"), null=True)
    n = models.IntegerField(_("有效个数"), default=0, help_text=_("参与计算的数值（或有效时段）个数"))
    coverage = models.FloatField(_("覆盖率"), default=0.0, help_text=_("小时：有效分钟/60；日：有效小时/24；月：有效日/当月天数"))
    valid = models.BooleanField(_("有效"), default=False)
    flag = models.CharField(_("数据标记"), max_length=2, blank=True)
    source_kind = models.CharField(_("来源数据类型"), max_length=8, blank=True)
    computed = models.DateTimeField(_("计算时间"))

    class Meta:
        verbose_name = _("统计值")
        verbose_name_plural = _("统计值")
        constraints = [models.UniqueConstraint(fields=["series", "period", "start"], name="aggregate_unique")]


class DirtyPeriod(models.Model):
    """An hour of a series whose aggregates must be recomputed (待重算时段).

    Filled by :func:`~gongzhi.observations.services.write_observations` in the writer's
    transaction for every newly stored value and by ``revise``; an hour implies its day
    and month. ``version`` grows each time the key is marked again, so a recompute
    deletes only the keys it has seen (a key marked again meanwhile survives)."""

    series = models.ForeignKey(Series, on_delete=models.CASCADE, related_name="+", verbose_name=_("序列"))
    start = models.DateTimeField(_("小时起始"))
    end = models.DateTimeField(_("小时结束"))
    version = models.BigIntegerField(_("版本"), default=1)

    class Meta:
        verbose_name = _("待重算时段")
        verbose_name_plural = _("待重算时段")
        constraints = [models.UniqueConstraint(fields=["series", "start"], name="dirty_period_unique")]


class LatestValue(models.Model):
    """The newest stored value of each series (最新值), kept by ``write_observations``.

    Replaced only by a value with a later time, so late or out-of-order arrivals never
    move it backwards."""

    series = models.OneToOneField(Series, on_delete=models.CASCADE, primary_key=True, related_name="latest", verbose_name=_("序列"))
    time = models.DateTimeField(_("时间"))
    value = models.FloatField(_("数值"), null=True)
    flag = models.CharField(_("数据标记"), max_length=2, blank=True)
    qc = models.IntegerField(_("质控标记"), default=0)
    received = models.DateTimeField(_("接收时间"))

    class Meta:
        verbose_name = _("最新值")
        verbose_name_plural = _("最新值")


class ValidatedPeriod(models.Model):
    """A time range of a site's or outlet's data approved by the owner's reviewers (审核通过).

    ``parameter`` empty: every parameter. A partner whose agreement grants ``validated``
    data sees only values (and aggregates) inside approved periods."""

    site = models.ForeignKey("registry.Site", on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("站点"))
    outlet = models.ForeignKey("registry.Outlet", on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("排放口"))
    parameter = models.ForeignKey("registry.Parameter", on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("因子"))
    start = models.DateTimeField(_("起始"))
    end = models.DateTimeField(_("结束"))
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("审核人"))
    approved_at = models.DateTimeField(_("审核时间"), auto_now_add=True)
    note = models.CharField(_("说明"), max_length=255, blank=True)

    class Meta:
        verbose_name = _("审核通过时段")
        verbose_name_plural = _("审核通过时段")
        constraints = [
            models.CheckConstraint(
                condition=(models.Q(site__isnull=False) & models.Q(outlet__isnull=True))
                | (models.Q(site__isnull=True) & models.Q(outlet__isnull=False)),
                name="validated_site_xor_outlet",
            ),
            models.CheckConstraint(condition=models.Q(end__gt=models.F("start")), name="validated_period_ordered"),
        ]
        indexes = [models.Index(fields=["site", "start"]), models.Index(fields=["outlet", "start"])]


class ImportBatch(models.Model):
    """One file imported into the store (手工/实验室数据导入): who, what, result counts."""

    filename = models.CharField(_("文件名"), max_length=255)
    sha256 = models.CharField(_("文件摘要"), max_length=64)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+", verbose_name=_("导入人"))
    source = models.SmallIntegerField(_("来源"), choices=Source.choices)
    created = models.DateTimeField(_("时间"), auto_now_add=True)
    accepted = models.IntegerField(_("写入"), default=0)
    duplicates = models.IntegerField(_("重复"), default=0)
    rejected = models.IntegerField(_("拒收"), default=0)

    class Meta:
        verbose_name = _("数据导入批次")
        verbose_name_plural = _("数据导入批次")


class SampleRecord(models.Model):
    """The sample id (样品编号) of a lab/manual sample at a site and time."""

    site = models.ForeignKey("registry.Site", on_delete=models.PROTECT, related_name="+", verbose_name=_("站点"))
    time = models.DateTimeField(_("采样时间"))
    sample_id = models.CharField(_("样品编号"), max_length=64)
    batch = models.ForeignKey(ImportBatch, on_delete=models.PROTECT, related_name="samples", verbose_name=_("导入批次"))

    class Meta:
        verbose_name = _("样品")
        verbose_name_plural = _("样品")
        constraints = [models.UniqueConstraint(fields=["site", "time"], name="sample_record_unique")]


class PendingChange(models.Model):
    """One write's effect on the derived tables, waiting to be applied (变更待处理).

    A transactional outbox: :func:`~gongzhi.observations.services.write_observations`
    adds ONE row per call, in the writer's transaction, listing the (series, hour)
    pairs it touched and the newest value per series. Committed with the data, so
    nothing is missed and nothing is applied before its data is visible.
    :func:`~gongzhi.observations.services.apply_pending_changes` folds the rows into
    :class:`DirtyPeriod` and :class:`LatestValue` and deletes them. This keeps the
    per-series upserts off the acknowledgement path (the gateway acks after commit).
    ``payload`` is compact JSON: ``{"h": [[series, hour], …], "l": [[series, time,
    value, flag, qc], …], "r": received}`` with ``hour`` in whole hours and ``time`` and
    ``received`` in microseconds since 1970-01-01 UTC (integers: exact and cheap)."""

    created = models.DateTimeField(_("时间"), auto_now_add=True)
    payload = models.TextField(_("内容"))

    class Meta:
        verbose_name = _("待处理变更")
        verbose_name_plural = _("待处理变更")
