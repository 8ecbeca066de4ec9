"""Alarm rules, alarms and their history, downstream warnings (预警 / 告警).

Only :mod:`gongzhi.alerts.services` writes these tables (the admin saves through it).
Who sees an alarm is decided by :mod:`gongzhi.sharing.policy`.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _


class GroupKind(models.TextChoices):
    EXPLICIT = "explicit", _("指定站点")
    BOUNDARY = "boundary", _("全部跨界断面")
    DRINKING = "drinking", _("全部饮用水水源地")
    BUREAU = "bureau", _("某局的全部站点")


class SiteGroup(models.Model):
    """A named set of sites a rule can apply to (站点组): listed sites, every boundary section,
    every drinking-water source, or every site of one bureau."""

    code = models.SlugField(_("代码"), max_length=40, unique=True)
    name = models.CharField(_("名称"), max_length=64)
    owner = models.ForeignKey("registry.Bureau", on_delete=models.PROTECT, related_name="+", verbose_name=_("所属局"))
    kind = models.CharField(_("类型"), max_length=16, choices=GroupKind.choices, default=GroupKind.EXPLICIT)
    bureau = models.ForeignKey(
        "registry.Bureau", on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("站点所属局"),
        help_text=_("类型为“某局的全部站点”时填写"),
    )
    sites = models.ManyToManyField("registry.Site", blank=True, related_name="+", verbose_name=_("站点"))

    class Meta:
        verbose_name = _("站点组")
        verbose_name_plural = _("站点组")
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


class RuleKind(models.TextChoices):
    EXCEEDANCE = "exceedance", _("超标")
    RATE = "rate", _("变化速率")
    MISSING = "missing", _("数据缺失")
    FLAG = "flag", _("设备标记")
    BLOOM = "bloom", _("蓝藻水华等级")


class LimitSource(models.TextChoices):
    TARGET_CLASS = "target_class", _("站点水质目标（GB 3838）")
    STANDARD_CLASS = "standard_class", _("指定水质类别限值（GB 3838）")
    PERMIT = "permit", _("排污许可限值")
    PERMIT_EARLY = "permit_early", _("排污许可限值（实时预警）")
    FIXED = "fixed", _("固定限值")
    AIR_GRADE = "air_grade", _("环境空气质量标准限值（GB 3095）")


class DataLevel(models.TextChoices):
    VALUE = "value", _("到达数据")
    HOUR = "hour", _("小时均值")
    DAY = "day", _("日均值")


class Severity(models.TextChoices):
    NOTICE = "notice", _("提示")
    WARNING = "warning", _("警告")
    SEVERE = "severe", _("严重")


class AlarmRule(models.Model):
    """A condition to watch (告警规则). Scope: one site, one outlet, a site group, or — none
    given — every site and outlet of the owner bureau (every one in the region for a
    co-governance office) that measures the parameter."""

    name = models.CharField(_("名称"), max_length=128)
    owner = models.ForeignKey("registry.Bureau", on_delete=models.PROTECT, related_name="+", verbose_name=_("所属局"))
    kind = models.CharField(_("规则类型"), max_length=16, choices=RuleKind.choices)
    parameter = models.ForeignKey(
        "registry.Parameter", on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("因子"),
        help_text=_("数据缺失、设备标记、许可限值规则可留空（全部因子）"),
    )
    site = models.ForeignKey("registry.Site", on_delete=models.CASCADE, null=True, blank=True, related_name="+", verbose_name=_("站点"))
    outlet = models.ForeignKey("registry.Outlet", on_delete=models.CASCADE, null=True, blank=True, related_name="+", verbose_name=_("排放口"))
    group = models.ForeignKey(SiteGroup, on_delete=models.PROTECT, null=True, blank=True, related_name="rules", verbose_name=_("站点组"))
    data = models.CharField(_("判定数据"), max_length=8, choices=DataLevel.choices, default=DataLevel.VALUE,
                            help_text=_("许可限值规则按限值的均值时段自动选择"))
    limit_source = models.CharField(_("限值来源"), max_length=16, choices=LimitSource.choices, blank=True)
    standard_class = models.PositiveSmallIntegerField(_("水质类别"), null=True, blank=True,
                                                      validators=[MinValueValidator(1), MaxValueValidator(5)])
    air_grade = models.PositiveSmallIntegerField(
        _("空气质量标准级别"), null=True, blank=True, choices=[(1, _("一级")), (2, _("二级"))],
        help_text=_("GB 3095 限值：小时均值用 1 小时平均限值，日均值用 24 小时平均限值；到达数据与 1 小时限值比较（预警）"))
    upper = models.FloatField(_("上限"), null=True, blank=True)
    lower = models.FloatField(_("下限"), null=True, blank=True)
    rate_per_h = models.FloatField(_("变化速率上限（每小时）"), null=True, blank=True, validators=[MinValueValidator(0)])
    flags = models.CharField(_("设备标记"), max_length=32, blank=True, help_text=_("如 D,C,M,F（HJ 212 数据标记）"))
    bloom_level = models.PositiveSmallIntegerField(_("水华等级下限"), null=True, blank=True,
                                                   validators=[MinValueValidator(2), MaxValueValidator(5)],
                                                   help_text=_("达到该等级即告警（Ⅱ=2 … Ⅴ=5）"))
    chla_breaks = models.CharField(_("叶绿素a 分级界限"), max_length=64, blank=True,
                                   help_text=_("按叶绿素a 判定时必填：Ⅱ–Ⅳ–Ⅴ 级四个递增下限 (µg/L)，逗号分隔"))
    missing_minutes = models.PositiveIntegerField(_("缺失时长（分钟）"), null=True, blank=True)
    duration_minutes = models.PositiveIntegerField(_("持续时长（分钟）"), default=0, help_text=_("条件持续满足该时长才告警"))
    hysteresis_pct = models.FloatField(_("回差（%）"), default=5.0, validators=[MinValueValidator(0), MaxValueValidator(50)],
                                       help_text=_("恢复须回到限值以内该比例"))
    min_clear_minutes = models.PositiveIntegerField(_("最短恢复时长（分钟）"), default=0,
                                                    help_text=_("恢复持续该时长才解除，抑制频繁启闭"))
    severity = models.CharField(_("告警级别"), max_length=8, choices=Severity.choices, default=Severity.WARNING)
    propagate = models.BooleanField(_("向下游预警"), default=True)
    ack_minutes = models.PositiveIntegerField(_("确认时限（分钟）"), default=30)
    enabled = models.BooleanField(_("启用"), default=True)
    created = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("告警规则")
        verbose_name_plural = _("告警规则")
        ordering = ["owner__code", "name"]

    def __str__(self) -> str:
        return self.name

    def flag_set(self) -> frozenset[str]:
        return frozenset(f.strip().upper() for f in self.flags.replace("，", ",").split(",") if f.strip())

    def chla_break_values(self) -> tuple[float, ...] | None:
        if not self.chla_breaks.strip():
            return None
        return tuple(float(x) for x in self.chla_breaks.replace("，", ",").split(","))

    def clean(self) -> None:
        errors: dict = {}
        scopes = [x for x in (self.site_id, self.outlet_id, self.group_id) if x]
        if len(scopes) > 1:
            errors["site"] = _("站点、排放口、站点组只能选一项")
        k = self.kind
        if k == RuleKind.EXCEEDANCE:
            if not self.limit_source:
                errors["limit_source"] = _("超标规则须选择限值来源")
            elif self.limit_source == LimitSource.FIXED and self.upper is None and self.lower is None:
                errors["upper"] = _("固定限值须填写上限或下限")
            elif self.limit_source == LimitSource.STANDARD_CLASS and not self.standard_class:
                errors["standard_class"] = _("须填写水质类别")
            elif self.limit_source == LimitSource.AIR_GRADE and self.air_grade not in (1, 2):
                errors["air_grade"] = _("须选择空气质量标准级别")
            if self.limit_source not in (LimitSource.PERMIT, LimitSource.PERMIT_EARLY) and not self.parameter_id:
                errors["parameter"] = _("须选择因子")
            if self.upper is not None and self.lower is not None and self.lower > self.upper:
                errors["lower"] = _("下限大于上限")
        elif k == RuleKind.RATE:
            if not self.rate_per_h:
                errors["rate_per_h"] = _("须填写变化速率上限")
            if not self.parameter_id:
                errors["parameter"] = _("须选择因子")
        elif k == RuleKind.MISSING and not self.missing_minutes:
            errors["missing_minutes"] = _("须填写缺失时长")
        elif k == RuleKind.FLAG and not self.flag_set():
            errors["flags"] = _("须填写至少一个数据标记")
        elif k == RuleKind.BLOOM:
            if not self.bloom_level:
                errors["bloom_level"] = _("须填写水华等级")
            if not self.parameter_id:
                errors["parameter"] = _("须选择因子（藻密度或叶绿素a）")
            else:
                key = self.parameter.key
                if key in ("chl_a", "chla"):
                    try:
                        b = self.chla_break_values()
                    except ValueError:
                        b = ()
                    if not b or len(b) != 4 or any(y <= x for x, y in zip(b, b[1:])):
                        errors["chla_breaks"] = _("叶绿素a 分级须配置四个递增界限（平台未内置 HJ 1098 叶绿素a 界限）")
                elif key != "algal_density":
                    errors["parameter"] = _("水华等级只按藻密度或叶绿素a 判定")
        if errors:
            raise ValidationError(errors)


class AlarmState(models.TextChoices):
    OPEN = "open", _("未确认")
    ACKNOWLEDGED = "acknowledged", _("已确认")
    RESOLVED = "resolved", _("已恢复")
    CLOSED = "closed", _("已关闭")


ACTIVE_STATES = (AlarmState.OPEN, AlarmState.ACKNOWLEDGED)


class Alarm(models.Model):
    """One raised condition (告警): one rule on one series (and data level). While it is open
    or acknowledged ``open_key`` holds ``rule:series:data`` (unique), so the same condition
    never opens a second alarm; it is emptied when the alarm is resolved or closed."""

    rule = models.ForeignKey(AlarmRule, on_delete=models.PROTECT, related_name="alarms", verbose_name=_("规则"))
    series = models.ForeignKey("observations.Series", on_delete=models.PROTECT, related_name="+", verbose_name=_("序列"))
    data = models.CharField(_("判定数据"), max_length=8, choices=DataLevel.choices, default=DataLevel.VALUE)
    site = models.ForeignKey("registry.Site", on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("站点"))
    outlet = models.ForeignKey("registry.Outlet", on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("排放口"))
    parameter = models.ForeignKey("registry.Parameter", on_delete=models.PROTECT, related_name="+", verbose_name=_("因子"))
    owner = models.ForeignKey("registry.Bureau", on_delete=models.PROTECT, related_name="+", verbose_name=_("所属局"))
    kind = models.CharField(_("类型"), max_length=16, choices=RuleKind.choices)
    severity = models.CharField(_("告警级别"), max_length=8, choices=Severity.choices, default=Severity.WARNING)
    state = models.CharField(_("状态"), max_length=16, choices=AlarmState.choices, default=AlarmState.OPEN)
    open_key = models.CharField(_("去重键"), max_length=64, null=True, blank=True, unique=True, editable=False)
    #: ``rule:site-or-outlet:parameter:data`` while active, for the rules whose alarms are merged per
    #: place (``services.MERGED_KINDS``; ``*`` for the parameter of a device-flag rule): unique, so
    #: two evaluators meeting two kinds of data of one place at once cannot open two alarms
    place_key = models.CharField(_("地点去重键"), max_length=96, null=True, blank=True, unique=True, editable=False)
    started_at = models.DateTimeField(_("开始时间"), help_text=_("条件开始满足的数据时间"))
    raised_at = models.DateTimeField(_("告警时间"))
    value = models.FloatField(_("触发值"), null=True, blank=True)
    peak = models.FloatField(_("极值"), null=True, blank=True)
    limit = models.FloatField(_("限值"), null=True, blank=True)
    unit = models.CharField(_("单位"), max_length=32, blank=True)
    evidence = models.JSONField(_("依据"), default=dict, blank=True)
    acknowledged_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("确认人"))
    acknowledged_at = models.DateTimeField(_("确认时间"), null=True, blank=True)
    resolved_at = models.DateTimeField(_("恢复时间"), null=True, blank=True)
    closed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("关闭人"))
    closed_at = models.DateTimeField(_("关闭时间"), null=True, blank=True)
    close_note = models.TextField(_("关闭说明"), blank=True)

    class Meta:
        verbose_name = _("告警")
        verbose_name_plural = _("告警")
        ordering = ["-raised_at", "-id"]
        indexes = [models.Index(fields=["state", "raised_at"]), models.Index(fields=["owner", "state"])]

    def __str__(self) -> str:
        return f"{self.place} {self.parameter.name_zh} · {self.rule.name}"

    @property
    def place(self):
        return self.site or self.outlet

    @property
    def active(self) -> bool:
        return self.state in ACTIVE_STATES


class EventKind(models.TextChoices):
    OPENED = "opened", _("告警产生")
    ACKNOWLEDGED = "acknowledged", _("确认")
    RESOLVED = "resolved", _("恢复")
    CLOSED = "closed", _("关闭")
    REPEATED = "repeated", _("再次触发（已合并）")
    WARNING_SENT = "warning_sent", _("向下游发出预警")
    WARNING_ACKNOWLEDGED = "warning_acknowledged", _("下游确认预警")
    ESCALATED = "escalated", _("预警升级")


class AlarmEvent(models.Model):
    """The history of an alarm (who did what, when). Never changed."""

    alarm = models.ForeignKey(Alarm, on_delete=models.CASCADE, related_name="events", verbose_name=_("告警"))
    kind = models.CharField(_("事件"), max_length=24, choices=EventKind.choices)
    at = models.DateTimeField(_("时间"))
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("操作人"))
    bureau = models.ForeignKey("registry.Bureau", on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("相关局"))
    note = models.TextField(_("说明"), blank=True)
    data = models.JSONField(_("数据"), default=dict, blank=True)

    class Meta:
        verbose_name = _("告警记录")
        verbose_name_plural = _("告警记录")
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.at:%Y-%m-%d %H:%M}"


class WarningState(models.TextChoices):
    PENDING = "pending", _("待确认")
    ACKNOWLEDGED = "acknowledged", _("已确认")
    CANCELLED = "cancelled", _("已撤销")
    JOINED = "joined", _("已并入同地点预警")


class EscalationLevel(models.IntegerChoices):
    DUTY = 0, _("应急值班人员")
    ADMINISTRATOR = 1, _("局管理员")
    OFFICE = 2, _("区域协同办公室")


class DownstreamWarning(models.Model):
    """A warning to one downstream bureau about an alarm upstream (下游预警), with the places
    the water reaches in its area and when, and an acknowledgement deadline."""

    alarm = models.ForeignKey(Alarm, on_delete=models.CASCADE, related_name="warnings", verbose_name=_("告警"))
    bureau = models.ForeignKey("registry.Bureau", on_delete=models.PROTECT, related_name="+", verbose_name=_("下游局"))
    created = models.DateTimeField(_("发出时间"))
    first_arrival = models.DateTimeField(_("最早到达时间"))
    travel_time_s = models.FloatField(_("最短传播时间（秒）"))
    distance_m = models.FloatField(_("距离（米）"))
    targets = models.JSONField(_("受影响点位"), default=list, help_text=_("站点/取水口及到达时间"))
    path = models.JSONField(_("传播路径"), default=list, help_text=_("[[经度, 纬度], …]"))
    deadline = models.DateTimeField(_("确认期限"))
    state = models.CharField(_("状态"), max_length=16, choices=WarningState.choices, default=WarningState.PENDING)
    level = models.PositiveSmallIntegerField(_("升级级别"), choices=EscalationLevel.choices, default=EscalationLevel.DUTY)
    escalated_at = models.DateTimeField(_("最近升级时间"), null=True, blank=True)
    acknowledged_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("确认人"))
    acknowledged_at = models.DateTimeField(_("确认时间"), null=True, blank=True)
    note = models.TextField(_("确认说明"), blank=True)
    joined_to = models.ForeignKey("self", on_delete=models.SET_NULL, null=True, blank=True, related_name="joined",
                                  verbose_name=_("并入的预警"),
                                  help_text=_("同一地点另一告警的待确认预警：不再重复通知，随其确认"))

    class Meta:
        verbose_name = _("下游预警")
        verbose_name_plural = _("下游预警")
        ordering = ["first_arrival", "id"]
        constraints = [models.UniqueConstraint(fields=["alarm", "bureau"], name="warning_one_per_bureau")]
        indexes = [models.Index(fields=["state", "deadline"])]

    def __str__(self) -> str:
        return f"{self.bureau} ← {self.alarm}"


class EvaluationMark(models.Model):
    """The high-water mark of the durable catch-up (评估进度): values received (or aggregates
    computed) up to ``position`` have been evaluated."""

    name = models.CharField(_("名称"), max_length=32, unique=True)
    position = models.DateTimeField(_("位置"))
    updated = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("评估进度")
        verbose_name_plural = _("评估进度")

    def __str__(self) -> str:
        return f"{self.name} @ {self.position:%Y-%m-%d %H:%M:%S}"
