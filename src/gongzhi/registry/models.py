"""The registry (基础信息): who governs what, and what is measured where.

Geometry is stored as GeoJSON (WGS-84, EPSG:4326) in JSON columns, so the same
schema works on SQLite and PostgreSQL without GDAL; geometry work is done by
:mod:`gongzhi.geo` (Shapely/pyproj). Point features keep plain ``lon``/``lat``
columns so that map queries and bounding-box filters are simple SQL.

Only :mod:`gongzhi.registry.services` writes these tables (and the admin,
through the same audited save path).
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

lon_validators = [MinValueValidator(-180), MaxValueValidator(180)]
lat_validators = [MinValueValidator(-90), MaxValueValidator(90)]


class JurisdictionLevel(models.TextChoices):
    PROVINCE = "province", _("省级")
    CITY = "city", _("地市级")
    COUNTY = "county", _("区县级")
    TOWN = "town", _("乡镇街道")


LEVEL_ORDER = {"province": 0, "city": 1, "county": 2, "town": 3}


class Jurisdiction(models.Model):
    """An administrative area (行政区): province → city → county → town."""

    adcode = models.CharField(
        _("行政区划代码"),
        max_length=12,
        unique=True,
        validators=[RegexValidator(r"^\d{6}(\d{3}(\d{3})?)?$", _("6、9 或 12 位数字"))],
    )
    name = models.CharField(_("名称"), max_length=64)
    name_en = models.CharField(_("英文名称"), max_length=128, blank=True)
    level = models.CharField(_("级别"), max_length=16, choices=JurisdictionLevel.choices)
    parent = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="children", verbose_name=_("上级")
    )
    boundary = models.JSONField(_("边界 (GeoJSON, WGS-84)"), null=True, blank=True)
    boundary_source = models.CharField(_("边界来源"), max_length=255, blank=True)
    area_km2 = models.FloatField(_("面积 (km²)"), null=True, blank=True)

    class Meta:
        verbose_name = _("行政区")
        verbose_name_plural = _("行政区")
        ordering = ["adcode"]

    def __str__(self) -> str:
        return f"{self.name} ({self.adcode})"

    def clean(self) -> None:
        if self.parent_id and LEVEL_ORDER[self.parent.level] >= LEVEL_ORDER[self.level]:
            raise ValidationError({"parent": _("上级行政区的级别必须高于本级")})

    def ancestors(self) -> list["Jurisdiction"]:
        out, node = [], self.parent
        while node is not None:
            out.append(node)
            node = node.parent
        return out


class BureauKind(models.TextChoices):
    BUREAU = "bureau", _("生态环境局")
    OFFICE = "office", _("区域协同办公室")


class Bureau(models.Model):
    """An environment bureau (生态环境局). Owns sites, devices, data and users.

    A bureau of kind ``office`` is a regional co-governance office: it administers
    objects that belong to no single bureau (waterbodies, the river network,
    joint governance zones)."""

    code = models.SlugField(_("代码"), max_length=40, unique=True)
    name = models.CharField(_("名称"), max_length=128, unique=True)
    short_name = models.CharField(_("简称"), max_length=32)
    name_en = models.CharField(_("英文名称"), max_length=160, blank=True)
    kind = models.CharField(_("类型"), max_length=16, choices=BureauKind.choices, default=BureauKind.BUREAU)
    jurisdiction = models.ForeignKey(
        Jurisdiction, on_delete=models.PROTECT, null=True, blank=True, related_name="bureaus", verbose_name=_("辖区")
    )
    parent = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="children", verbose_name=_("上级局")
    )
    contact = models.CharField(_("联系方式"), max_length=255, blank=True)

    class Meta:
        verbose_name = _("生态环境局")
        verbose_name_plural = _("生态环境局")
        ordering = ["code"]

    def __str__(self) -> str:
        return self.short_name or self.name


class JointGovernanceZone(models.Model):
    """A named group of bureaus that govern together under an agreement (e.g. 嘉昆太, 青吴嘉).

    Its joint zone (联防联治区) is the band within ``band_width_m`` metres of the
    shared boundaries between member jurisdictions; it is computed from the
    boundary geometry by :func:`gongzhi.registry.services.compute_joint_zone`
    and cached in ``band``."""

    code = models.SlugField(_("代码"), max_length=40, unique=True)
    name = models.CharField(_("名称"), max_length=128)
    name_en = models.CharField(_("英文名称"), max_length=160, blank=True)
    bureaus = models.ManyToManyField(Bureau, related_name="joint_zones", verbose_name=_("成员单位"))
    agreement_title = models.CharField(_("协议名称"), max_length=255, blank=True)
    agreement_signed = models.DateField(_("签署日期"), null=True, blank=True)
    description = models.TextField(_("说明"), blank=True)
    band_width_m = models.PositiveIntegerField(_("联防联治区宽度 (米)"), default=500)
    band = models.JSONField(_("联防联治区范围 (GeoJSON)"), null=True, blank=True, editable=False)
    band_computed_at = models.DateTimeField(_("计算时间"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("联防联治协作区")
        verbose_name_plural = _("联防联治协作区")
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


class SharedBoundary(models.Model):
    """The boundary line shared by two adjacent jurisdictions (computed)."""

    a = models.ForeignKey(Jurisdiction, on_delete=models.CASCADE, related_name="+", verbose_name=_("行政区甲"))
    b = models.ForeignKey(Jurisdiction, on_delete=models.CASCADE, related_name="+", verbose_name=_("行政区乙"))
    line = models.JSONField(_("共同边界 (GeoJSON)"))
    length_m = models.FloatField(_("长度 (米)"))
    cross_province = models.BooleanField(_("跨省"), default=False)

    class Meta:
        verbose_name = _("共同边界")
        verbose_name_plural = _("共同边界")
        constraints = [models.UniqueConstraint(fields=["a", "b"], name="shared_boundary_pair_unique")]

    def __str__(self) -> str:
        return f"{self.a.name} — {self.b.name}"


class WaterbodyKind(models.TextChoices):
    RIVER = "river", _("河流")
    LAKE = "lake", _("湖泊")
    RESERVOIR = "reservoir", _("水库")
    CANAL = "canal", _("运河/人工河道")


class Waterbody(models.Model):
    code = models.SlugField(_("代码"), max_length=40, unique=True)
    name = models.CharField(_("名称"), max_length=64)
    name_en = models.CharField(_("英文名称"), max_length=128, blank=True)
    kind = models.CharField(_("类型"), max_length=16, choices=WaterbodyKind.choices)
    river_type_reservoir = models.BooleanField(
        _("河道型水库"), default=False, help_text=_("河道型水库按河流评价（环办〔2011〕22号）")
    )
    geometry = models.JSONField(_("几何 (GeoJSON)"), null=True, blank=True)
    notes = models.TextField(_("说明"), blank=True)

    class Meta:
        verbose_name = _("水体")
        verbose_name_plural = _("水体")
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name

    @property
    def assessment_type(self) -> str:
        """``river`` or ``lake``/``reservoir`` as GB 3838 evaluation needs it (TP limits, TN)."""
        if self.kind == WaterbodyKind.CANAL or (self.kind == WaterbodyKind.RESERVOIR and self.river_type_reservoir):
            return WaterbodyKind.RIVER
        return self.kind


class RiverNode(models.Model):
    """A node of the directed river network: a confluence, an outlet, a section point."""

    code = models.SlugField(_("代码"), max_length=60, unique=True)
    name = models.CharField(_("名称"), max_length=64, blank=True)
    lon = models.FloatField(_("经度"), validators=lon_validators)
    lat = models.FloatField(_("纬度"), validators=lat_validators)

    class Meta:
        verbose_name = _("河网节点")
        verbose_name_plural = _("河网节点")
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name or self.code


class Reach(models.Model):
    """A directed river reach from ``from_node`` to ``to_node`` (the flow direction)."""

    code = models.SlugField(_("代码"), max_length=60, unique=True)
    waterbody = models.ForeignKey(Waterbody, on_delete=models.PROTECT, related_name="reaches", verbose_name=_("水体"))
    from_node = models.ForeignKey(RiverNode, on_delete=models.PROTECT, related_name="out_reaches", verbose_name=_("起点"))
    to_node = models.ForeignKey(RiverNode, on_delete=models.PROTECT, related_name="in_reaches", verbose_name=_("终点"))
    length_m = models.FloatField(_("长度 (米)"), validators=[MinValueValidator(0)])
    velocity_m_s = models.FloatField(_("典型流速 (米/秒)"), validators=[MinValueValidator(0.001)])
    geometry = models.JSONField(_("河道线 (GeoJSON)"), null=True, blank=True)
    schematic = models.BooleanField(_("示意河段"), default=False, help_text=_("由站点位置推算，非实测河道"))

    class Meta:
        verbose_name = _("河段")
        verbose_name_plural = _("河段")
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(condition=~models.Q(from_node=models.F("to_node")), name="reach_not_a_loop")
        ]

    def __str__(self) -> str:
        return f"{self.waterbody.name} {self.code}"

    @property
    def travel_time_s(self) -> float:
        return self.length_m / self.velocity_m_s


class SiteKind(models.TextChoices):
    WATER_SECTION = "water_section", _("水质断面")
    AIR_STATION = "air_station", _("空气站")


class AssessmentLevel(models.TextChoices):
    NATIONAL = "national", _("国考")
    PROVINCIAL = "provincial", _("省考")
    MUNICIPAL = "municipal", _("市考")
    DISTRICT = "district", _("区考")
    NONE = "none", _("非考核")


class WaterClass(models.IntegerChoices):
    I = 1, "Ⅰ"
    II = 2, "Ⅱ"
    III = 3, "Ⅲ"
    IV = 4, "Ⅳ"
    V = 5, "Ⅴ"


class Site(models.Model):
    """A monitoring site: a water section (断面) or an air station (空气站).

    Pollution sources are :class:`Enterprise` and :class:`Outlet`."""

    code = models.SlugField(_("站点编码"), max_length=40, unique=True)
    name = models.CharField(_("名称"), max_length=64)
    name_en = models.CharField(_("英文名称"), max_length=128, blank=True)
    kind = models.CharField(_("类型"), max_length=20, choices=SiteKind.choices)
    owner = models.ForeignKey(Bureau, on_delete=models.PROTECT, related_name="sites", verbose_name=_("所属局"))
    jurisdiction = models.ForeignKey(
        Jurisdiction, on_delete=models.PROTECT, null=True, blank=True, related_name="sites", verbose_name=_("所在行政区")
    )
    lon = models.FloatField(_("经度"), validators=lon_validators)
    lat = models.FloatField(_("纬度"), validators=lat_validators)
    location_note = models.CharField(_("位置说明"), max_length=255, blank=True)
    active = models.BooleanField(_("启用"), default=True)
    automatic = models.BooleanField(_("自动站"), default=True)
    station_type = models.CharField(
        _("站型"), max_length=16, blank=True, choices=[
            ("fixed", _("固定站")), ("shore", _("岸边站")), ("buoy", _("浮标站")), ("manual", _("手工监测点")),
        ],
    )
    network = models.CharField(
        _("所属网络"), max_length=16, blank=True,
        choices=[("national", _("国控")), ("provincial", _("省控")), ("municipal", _("市控")), ("demo", _("示例"))],
    )
    schematic = models.BooleanField(_("示意位置"), default=False, help_text=_("位置或存在为演示而设，非实测"))
    district_assignment_uncertain = models.BooleanField(
        _("归属待核"), default=False, help_text=_("点位距行政区界约 300 米以内，归属以来源资料为准")
    )
    external_code = models.CharField(_("外部编码"), max_length=40, blank=True, help_text=_("如国控站点编码 1146A"))
    source = models.CharField(_("数据来源"), max_length=255, blank=True)
    # water sections
    waterbody = models.ForeignKey(
        Waterbody, on_delete=models.PROTECT, null=True, blank=True, related_name="sites", verbose_name=_("水体")
    )
    waterbody_type = models.CharField(
        _("评价水体类型"), max_length=16, choices=WaterbodyKind.choices, blank=True,
        help_text=_("留空则取水体的评价类型；决定总磷限值及是否评价总氮"),
    )
    reach = models.ForeignKey(
        Reach, on_delete=models.SET_NULL, null=True, blank=True, related_name="sites", verbose_name=_("所在河段")
    )
    chainage_m = models.FloatField(_("距河段起点 (米)"), null=True, blank=True, validators=[MinValueValidator(0)])
    assessment_level = models.CharField(
        _("考核级别"), max_length=16, choices=AssessmentLevel.choices, default=AssessmentLevel.NONE
    )
    target_class = models.PositiveSmallIntegerField(_("水质目标"), choices=WaterClass.choices, null=True, blank=True)
    is_boundary = models.BooleanField(_("跨界断面"), default=False)
    upstream_jurisdiction = models.ForeignKey(
        Jurisdiction, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("上游行政区")
    )
    downstream_jurisdiction = models.ForeignKey(
        Jurisdiction, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("下游行政区")
    )
    drinking_water_source = models.BooleanField(_("饮用水水源地"), default=False)
    # air stations
    control_point = models.BooleanField(_("对照点"), default=False)

    class Meta:
        verbose_name = _("监测站点")
        verbose_name_plural = _("监测站点")
        ordering = ["code"]
        indexes = [models.Index(fields=["kind", "owner"]), models.Index(fields=["lon", "lat"])]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors = {}
        if self.kind == SiteKind.WATER_SECTION:
            if self.is_boundary and not (self.upstream_jurisdiction_id and self.downstream_jurisdiction_id):
                errors["is_boundary"] = _("跨界断面须填写上游和下游行政区")
            if self.reach_id and self.chainage_m is not None and self.chainage_m > self.reach.length_m:
                errors["chainage_m"] = _("距河段起点的距离超过河段长度")
        else:
            for field in ("waterbody", "reach", "target_class"):
                if getattr(self, field + ("_id" if field != "target_class" else "")):
                    errors[field] = _("仅水质断面可填写此项")
        if errors:
            raise ValidationError(errors)

    @property
    def evaluation_waterbody_type(self) -> str | None:
        if self.waterbody_type:
            return self.waterbody_type
        return self.waterbody.assessment_type if self.waterbody_id else None


class Enterprise(models.Model):
    """A pollution source (排污单位)."""

    code = models.SlugField(_("代码"), max_length=40, unique=True)
    name = models.CharField(_("名称"), max_length=128)
    credit_code = models.CharField(
        _("统一社会信用代码"), max_length=18, blank=True,
        validators=[RegexValidator(r"^[0-9A-HJ-NPQRTUWXY]{18}$", _("18 位统一社会信用代码"))],
    )
    industry = models.CharField(_("行业"), max_length=64, blank=True)
    owner = models.ForeignKey(Bureau, on_delete=models.PROTECT, related_name="enterprises", verbose_name=_("监管局"))
    jurisdiction = models.ForeignKey(
        Jurisdiction, on_delete=models.PROTECT, null=True, blank=True, related_name="enterprises", verbose_name=_("所在行政区")
    )
    address = models.CharField(_("地址"), max_length=255, blank=True)
    lon = models.FloatField(_("经度"), validators=lon_validators)
    lat = models.FloatField(_("纬度"), validators=lat_validators)
    permit_number = models.CharField(_("排污许可证编号"), max_length=40, blank=True)
    characteristic_pollutants = models.CharField(_("特征污染物"), max_length=255, blank=True)
    active = models.BooleanField(_("在产"), default=True)

    class Meta:
        verbose_name = _("排污单位")
        verbose_name_plural = _("排污单位")
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


class OutletKind(models.TextChoices):
    WASTEWATER = "wastewater", _("废水排放口")
    FLUE_GAS = "flue_gas", _("废气排放口")
    RAINWATER = "rainwater", _("雨水排放口")


class Outlet(models.Model):
    """A discharge outlet (排放口) of an enterprise."""

    enterprise = models.ForeignKey(Enterprise, on_delete=models.CASCADE, related_name="outlets", verbose_name=_("排污单位"))
    code = models.CharField(_("排放口编号"), max_length=20, help_text=_("如 DW001、DA001"))
    name = models.CharField(_("名称"), max_length=64)
    kind = models.CharField(_("类型"), max_length=16, choices=OutletKind.choices)
    lon = models.FloatField(_("经度"), validators=lon_validators)
    lat = models.FloatField(_("纬度"), validators=lat_validators)
    receiving_waterbody = models.ForeignKey(
        Waterbody, on_delete=models.PROTECT, null=True, blank=True, related_name="outlets", verbose_name=_("受纳水体")
    )
    reach = models.ForeignKey(
        Reach, on_delete=models.SET_NULL, null=True, blank=True, related_name="outlets", verbose_name=_("所在河段")
    )
    chainage_m = models.FloatField(_("距河段起点 (米)"), null=True, blank=True, validators=[MinValueValidator(0)])
    discharge_mode = models.CharField(_("排放方式"), max_length=32, blank=True, help_text=_("直接排放 / 间接排放"))

    class Meta:
        verbose_name = _("排放口")
        verbose_name_plural = _("排放口")
        ordering = ["enterprise__code", "code"]
        constraints = [models.UniqueConstraint(fields=["enterprise", "code"], name="outlet_code_unique_per_enterprise")]

    def __str__(self) -> str:
        return f"{self.enterprise.name} {self.code}"

    @property
    def owner(self) -> Bureau:
        return self.enterprise.owner


class AveragingPeriod(models.TextChoices):
    INSTANT = "instant", _("瞬时")
    HOUR = "hour", _("小时均值")
    DAY = "day", _("日均值")
    MONTH = "month", _("月均值")
    YEAR = "year", _("年均值")


class PermitLimit(models.Model):
    """A discharge limit from an outlet's permit, per factor and averaging period."""

    outlet = models.ForeignKey(Outlet, on_delete=models.CASCADE, related_name="limits", verbose_name=_("排放口"))
    parameter = models.ForeignKey("Parameter", on_delete=models.PROTECT, related_name="+", verbose_name=_("因子"))
    period = models.CharField(_("均值时段"), max_length=16, choices=AveragingPeriod.choices)
    limit = models.FloatField(_("上限"), null=True, blank=True, validators=[MinValueValidator(0)])
    lower = models.FloatField(_("下限"), null=True, blank=True, help_text=_("范围型限值（如 pH 6–9）的下限"))
    reference_oxygen_pct = models.FloatField(
        _("基准氧含量 (%)"), null=True, blank=True, help_text=_("废气按折算浓度（-Zs）评价时的基准氧含量")
    )
    confidence = models.CharField(
        _("限值可信度"), max_length=16, blank=True,
        choices=[("cited", _("已核对标准原文")), ("recalled", _("待核对")), ("demo", _("示例值"))],
    )
    unit = models.CharField(_("单位"), max_length=32)
    standard = models.CharField(_("依据标准"), max_length=64, help_text=_("如 GB 4287-2012 表2"))
    valid_from = models.DateField(_("生效日期"), null=True, blank=True)
    valid_to = models.DateField(_("失效日期"), null=True, blank=True)
    note = models.CharField(_("备注"), max_length=255, blank=True)

    class Meta:
        verbose_name = _("许可排放限值")
        verbose_name_plural = _("许可排放限值")
        constraints = [
            models.UniqueConstraint(fields=["outlet", "parameter", "period", "valid_from"], name="permit_limit_unique"),
            models.CheckConstraint(
                condition=models.Q(limit__isnull=False) | models.Q(lower__isnull=False), name="permit_limit_has_a_bound"
            ),
        ]

    def __str__(self) -> str:
        if self.lower is not None and self.limit is not None:
            bound = f"{self.lower:g}–{self.limit:g}"
        elif self.limit is not None:
            bound = f"≤ {self.limit:g}"
        else:
            bound = f"≥ {self.lower:g}"
        return f"{self.outlet} {self.parameter.key} {bound} {self.unit} ({self.get_period_display()})"

    def clean(self) -> None:
        if self.limit is None and self.lower is None:
            raise ValidationError(_("至少填写上限或下限"))
        if self.limit is not None and self.lower is not None and self.lower > self.limit:
            raise ValidationError({"lower": _("下限大于上限")})

    @property
    def owner(self) -> Bureau:
        return self.outlet.enterprise.owner


class ProtocolVersion(models.TextChoices):
    HJ212_2005 = "2005", "HJ/T 212-2005"
    HJ212_2017 = "2017", "HJ 212-2017"
    HJ212_2025 = "2025", "HJ 212-2025"


class Device(models.Model):
    """A data logger (数采仪) speaking HJ 212, measuring one site or one outlet."""

    mn = models.CharField(
        _("设备唯一标识 MN"), max_length=27, unique=True,
        validators=[RegexValidator(r"^[0-9A-Za-z]{1,24}$", _("MN 为 1–24 位字母或数字"))],
    )
    password = models.CharField(_("访问密码 PW"), max_length=9, help_text=_("HJ 212 PW 字段，6 位"))
    protocol_version = models.CharField(
        _("协议版本"), max_length=4, choices=ProtocolVersion.choices, default=ProtocolVersion.HJ212_2017
    )
    system_code = models.CharField(_("系统编码 ST"), max_length=3, help_text=_("21 地表水、22 空气、31 废气源、32 废水源"))
    name = models.CharField(_("名称"), max_length=64, blank=True)
    vendor = models.CharField(_("厂商"), max_length=64, blank=True)
    site = models.ForeignKey(Site, on_delete=models.PROTECT, null=True, blank=True, related_name="devices", verbose_name=_("监测站点"))
    outlet = models.ForeignKey(Outlet, on_delete=models.PROTECT, null=True, blank=True, related_name="devices", verbose_name=_("排放口"))
    parameters = models.ManyToManyField("Parameter", blank=True, related_name="devices", verbose_name=_("监测因子"))
    interval_s = models.PositiveIntegerField(_("实时数据间隔 (秒)"), default=60)
    enabled = models.BooleanField(_("启用"), default=True)
    installed = models.DateField(_("安装日期"), null=True, blank=True)

    class Meta:
        verbose_name = _("数采仪")
        verbose_name_plural = _("数采仪")
        ordering = ["mn"]
        constraints = [
            models.CheckConstraint(
                condition=(models.Q(site__isnull=False) & models.Q(outlet__isnull=True))
                | (models.Q(site__isnull=True) & models.Q(outlet__isnull=False)),
                name="device_measures_site_xor_outlet",
            )
        ]

    def __str__(self) -> str:
        return f"{self.mn} {self.name}".strip()

    def clean(self) -> None:
        if bool(self.site_id) == bool(self.outlet_id):
            raise ValidationError(_("数采仪必须且只能关联一个监测站点或一个排放口"))

    @property
    def owner(self) -> Bureau:
        return self.site.owner if self.site_id else self.outlet.enterprise.owner


class ParameterDomain(models.TextChoices):
    WATER = "water", _("水")
    AIR = "air", _("气")
    NOISE = "noise", _("噪声")
    WASTEWATER_PROCESS = "wastewater_process", _("污水处理工况")
    FLUE_GAS_PROCESS = "flue_gas_process", _("烟气处理工况")
    DEVICE = "device", _("设备信息")
    OTHER = "other", _("其他")


class Parameter(models.Model):
    """One canonical measured quantity (监测因子), whatever code a logger uses for it."""

    key = models.SlugField(_("标识"), max_length=40, unique=True, help_text=_("平台内统一标识，如 nh3_n、pm2_5"))
    code_2017 = models.CharField(_("HJ 212-2017 编码"), max_length=12, blank=True, db_index=True)
    code_2005 = models.CharField(_("HJ/T 212-2005 编码"), max_length=12, blank=True, db_index=True)
    name_zh = models.CharField(_("中文名称"), max_length=64)
    name_en = models.CharField(_("英文名称"), max_length=128, blank=True)
    unit = models.CharField(_("单位"), max_length=32, blank=True, help_text=_("HJ 212 附录B 单位（污染源）"))
    ambient_unit = models.CharField(_("环境质量单位"), max_length=32, blank=True, help_text=_("空气站等环境质量监测的单位，如 µg/m³"))
    emission_unit = models.CharField(_("排放量单位"), max_length=32, blank=True)
    decimals = models.PositiveSmallIntegerField(_("小数位数"), null=True, blank=True)
    data_type = models.CharField(_("数据类型"), max_length=20, blank=True, help_text=_("如 N5.2"))
    domain = models.CharField(_("类别"), max_length=24, choices=ParameterDomain.choices, default=ParameterDomain.OTHER)
    source = models.CharField(_("来源"), max_length=128, blank=True)

    class Meta:
        verbose_name = _("监测因子")
        verbose_name_plural = _("监测因子")
        ordering = ["key"]

    def __str__(self) -> str:
        return f"{self.name_zh} ({self.code_2017 or self.key})"


class ParameterAlias(models.Model):
    """Another code a logger may send for a parameter (other national lists, vendor codes)."""

    code = models.CharField(_("编码"), max_length=32, unique=True)
    parameter = models.ForeignKey(Parameter, on_delete=models.CASCADE, related_name="aliases", verbose_name=_("监测因子"))
    source = models.CharField(_("来源"), max_length=128, blank=True, help_text=_("如 厂商编码、HJ 524"))

    class Meta:
        verbose_name = _("因子编码别名")
        verbose_name_plural = _("因子编码别名")
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} → {self.parameter.key}"


class UnknownCode(models.Model):
    """A code received that the catalog does not know. Kept and reported, never dropped:
    an administrator maps it to a parameter with an alias."""

    code = models.CharField(_("编码"), max_length=32, unique=True)
    first_seen = models.DateTimeField(_("首次出现"), auto_now_add=True)
    last_seen = models.DateTimeField(_("最近出现"), auto_now=True)
    count = models.PositiveBigIntegerField(_("次数"), default=0)
    example_source = models.CharField(_("示例来源"), max_length=128, blank=True, help_text=_("如设备 MN"))
    resolved_to = models.ForeignKey(
        Parameter, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("已映射为")
    )

    class Meta:
        verbose_name = _("未知编码")
        verbose_name_plural = _("未知编码")
        ordering = ["-count"]

    def __str__(self) -> str:
        return self.code
