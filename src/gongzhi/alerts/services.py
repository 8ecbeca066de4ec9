"""Writers of the alerts app: rules, the alarm lifecycle, downstream warnings, escalation.

Every function takes keyword arguments only; time-dependent ones take ``now`` (tests pass a
fake clock). Permission questions go to :mod:`gongzhi.sharing.policy`.

Lifecycle: ``open`` → ``acknowledged`` (a handler of the owner bureau) → ``resolved`` (the
condition cleared, by the evaluator) — or ``closed`` with a note at any time by a handler
(e.g. a sensor fault, not pollution: pending downstream warnings are then cancelled). One
alarm per condition: the dedup key ``rule:series:data`` is unique among active alarms.

One alarm per place, parameter and rule, too: a logger sends the same analyser's readings as
real-time, minute and hourly values (three series), and one discharge crosses a value rule on
each. The first kind to cross opens the alarm; the others join it (:data:`MERGED_KINDS`, listed
in its evidence as ``also_on`` with an event each, no new notification or warning, no second
verdict). The alarm stays open while any of them is in the condition. Device flags join per
place, whatever the parameter (a station in calibration).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading

from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from gongzhi.accounts.models import Role, User
from gongzhi.alerts import propagation
from gongzhi.alerts.models import (
    ACTIVE_STATES, Alarm, AlarmEvent, AlarmRule, AlarmState, DownstreamWarning, EscalationLevel, EventKind,
    RuleKind, Severity, SiteGroup, WarningState,
)
from gongzhi.registry import models as reg
from gongzhi.sharing import policy

log = logging.getLogger(__name__)


class AlertsError(Exception):
    """An action that is not allowed or not possible (the message says why)."""


# --- rules ---------------------------------------------------------------------------------------

_rules_version = [0]
_rules_lock = threading.Lock()


def rules_changed() -> None:
    """Tell evaluators in this process to recompile (other processes notice ``updated``)."""
    with _rules_lock:
        _rules_version[0] += 1


def local_rules_version() -> int:
    return _rules_version[0]


def save_rule(*, rule: AlarmRule, user=None) -> AlarmRule:
    """Validate and save ``rule`` (new or changed). ``user`` None: system (demo seed, import)."""
    if user is not None and not policy.can_manage_alarm_rules(user, rule.owner_id):
        raise AlertsError("only the owner bureau's administrators and monitoring staff manage its rules")
    rule.full_clean()
    rule.save()
    transaction.on_commit(rules_changed)
    return rule


def create_rule(*, user=None, **fields) -> AlarmRule:
    return save_rule(rule=AlarmRule(**fields), user=user)


def create_group(*, code: str, name: str, owner: reg.Bureau, kind: str, bureau: reg.Bureau | None = None,
                 sites=(), user=None) -> SiteGroup:
    if user is not None and not policy.can_manage_alarm_rules(user, owner.pk):
        raise AlertsError("only the owner bureau's administrators and monitoring staff manage site groups")
    group = SiteGroup(code=code, name=name, owner=owner, kind=kind, bureau=bureau)
    group.full_clean()
    group.save()
    if sites:
        group.sites.set(sites)
    transaction.on_commit(rules_changed)
    return group


# --- notifications --------------------------------------------------------------------------------


def _send(*, recipients, kind: str, subject: str, body: str, subject_en: str, body_en: str, link: str,
          payload: dict, ref: str, urgent: bool, now: dt.datetime) -> int:
    """Hand a message to the notifications app; returns the number of recipients (0 if none).
    A failure is logged and recorded by the caller, never raised: an alarm is stored even if
    the message cannot go out."""
    recipients = [u for u in recipients if u.is_active]
    if not recipients:
        return 0
    from gongzhi.notifications.services import notify

    notify(recipients=recipients, kind=kind, subject=subject, body=body, subject_en=subject_en, body_en=body_en,
           link=link, payload=payload, ref=ref, urgent=urgent, now=now)
    return len(recipients)


def _safe_send(**kw) -> tuple[int, str]:
    try:
        return _send(**kw), ""
    except Exception as exc:  # a broken channel never loses the alarm
        log.exception("notification %s failed", kw.get("ref"))
        return 0, f"{type(exc).__name__}: {exc}"[:300]


def _alarm_link(alarm: Alarm) -> str:
    return reverse("alarm-detail", args=[alarm.pk])


def _place_name(alarm: Alarm) -> tuple[str, str]:
    if alarm.site_id:
        return alarm.site.name, alarm.site.name_en or alarm.site.name
    o = alarm.outlet
    return f"{o.enterprise.name} {o.name}", f"{o.enterprise.name} {o.code}"


def _bj(t: dt.datetime) -> str:
    return timezone.localtime(t, dt.timezone(dt.timedelta(hours=8))).strftime("%Y-%m-%d %H:%M")


# --- raising and clearing (called by the evaluator) ----------------------------------------------


def open_key(rule_id: int, series_id: int, data: str) -> str:
    return f"{rule_id}:{series_id}:{data}"


#: Ask :mod:`gongzhi.alerts.verdicts` (the analytics package) whether a new value alarm is an
#: instrument fault before warning downstream.
JUDGE_VERDICTS = True


#: Rules whose alarms at one place and parameter are one alarm whichever kind of series
#: (real-time, minute, hourly or daily values, lab samples) crossed them: the same water or
#: discharge seen at several resolutions. Missing data stays per series: one feed of a logger
#: can stop while the others go on, and a whole station gone silent is merged on its own
#: (``evaluation._station_silences``). Device-flag alarms are merged per place whatever the
#: parameter: a station in calibration or maintenance (flag C or M) flags all its analysers at
#: once, which is one thing to see to.
MERGED_KINDS = frozenset({RuleKind.EXCEEDANCE, RuleKind.RATE, RuleKind.FLAG, RuleKind.BLOOM})
#: series kinds in the history notes (the same words in every language the notes are read in)
_KIND_ZH = {"rtd": "实时", "min": "分钟", "hour": "小时", "day": "日", "sample": "样品"}


def place_key(rule_id: int, rule_kind: str, data: str, series) -> str:
    """The key an alarm of a merged rule holds while active (:attr:`Alarm.place_key`)."""
    place = f"s{series.site_id}" if series.site_id is not None else f"o{series.outlet_id}"
    parameter = "*" if rule_kind == RuleKind.FLAG else series.parameter_id
    return f"{rule_id}:{place}:{parameter}:{data}"


def _place_alarm(rule_id: int, rule_kind: str, data: str, series) -> Alarm | None:
    """The active alarm of this rule and data level at the series' place and parameter (any
    parameter for a device-flag rule: a station in calibration flags every analyser) (locked)."""
    return Alarm.objects.select_for_update().filter(place_key=place_key(rule_id, rule_kind, data, series)).first()


def _join(alarm: Alarm, series, started_at: dt.datetime, value: float | None, now: dt.datetime) -> None:
    """``series`` (another kind of data of the alarm's place and parameter, or for device flags
    any series of the place) met the condition too."""
    also = [a for a in alarm.evidence.get("also_on", []) if a["series"] != series.pk]
    also.append({"series": series.pk, "kind": series.kind, "parameter": series.parameter_id,
                 "started_at": started_at.isoformat(), "value": value, "cleared_at": None})
    alarm.evidence = {**alarm.evidence, "also_on": also}
    alarm.save(update_fields=["evidence"])
    other_zh = other_en = ""  # another parameter (device flags are merged per place)
    if series.parameter_id != alarm.parameter_id:
        other_zh, other_en = f"{series.parameter.name_zh} ", f"{series.parameter.key} "
    AlarmEvent.objects.create(
        alarm=alarm, kind=EventKind.REPEATED, at=now, bureau_id=alarm.owner_id,
        note=f"{other_zh}{_KIND_ZH.get(series.kind, series.kind)}数据同样触发 / also met on {other_en}{series.kind} data",
        data={"series": series.pk, "kind": series.kind, "value": value, "started_at": started_at.isoformat()})


def _join_place_alarm(rule: AlarmRule, data: str, series, started_at: dt.datetime, value: float | None,
                      now: dt.datetime) -> Alarm | None:
    """The active alarm of the series' place for this merged rule, which the series joins (None:
    there is none)."""
    with transaction.atomic():
        alarm = _place_alarm(rule.pk, rule.kind, data, series)
        if alarm is not None:
            _join(alarm, series, started_at, value, now)
        return alarm


def raise_alarm(*, rule: AlarmRule, series, data: str, started_at: dt.datetime, value: float | None,
                peak: float | None = None, limit: float | None = None, evidence: dict | None = None,
                now: dt.datetime | None = None) -> tuple[Alarm, bool]:
    """Open the alarm of this condition, or return the active one (``created`` False): the
    condition's own, or (:data:`MERGED_KINDS`) the one another kind of series of the same place,
    parameter and rule opened, which this series then joins.

    On a new alarm: history event, message to the owner's duty officers, and — when the rule
    says so — warnings to the downstream bureaus."""
    now = now or timezone.now()
    key = open_key(rule.pk, series.pk, data)
    existing = Alarm.objects.filter(open_key=key).first()
    if existing is not None:
        return existing, False
    merged = rule.kind in MERGED_KINDS
    if merged:
        existing = _join_place_alarm(rule, data, series, started_at, value, now)
        if existing is not None:
            return existing, False
    try:
        with transaction.atomic():
            alarm = Alarm.objects.create(
                place_key=place_key(rule.pk, rule.kind, data, series) if merged else None,
                rule=rule, series=series, data=data, site_id=series.site_id, outlet_id=series.outlet_id,
                parameter_id=series.parameter_id, owner_id=series.owner_id, kind=rule.kind, severity=rule.severity,
                state=AlarmState.OPEN, open_key=key, started_at=started_at, raised_at=now, value=value,
                peak=peak if peak is not None else value, limit=limit, unit=series.unit, evidence=evidence or {},
            )
            AlarmEvent.objects.create(alarm=alarm, kind=EventKind.OPENED, at=now, bureau_id=alarm.owner_id,
                                      data={"value": value, "limit": limit, **(evidence or {})})
    except IntegrityError:  # another evaluator opened it (or, merged, one of its place) first
        existing = Alarm.objects.filter(open_key=key).first()
        if existing is not None:
            return existing, False
        if merged:
            existing = _join_place_alarm(rule, data, series, started_at, value, now)
            if existing is not None:
                return existing, False
        raise
    verdict = None
    if rule.kind in (RuleKind.EXCEEDANCE, RuleKind.RATE, RuleKind.BLOOM) and JUDGE_VERDICTS:
        from gongzhi.alerts.verdicts import judge

        verdict = judge(alarm, now=now)
        if verdict is not None:
            alarm.evidence = {**alarm.evidence, "verdict": verdict}
            alarm.save(update_fields=["evidence"])
    _notify_owner(alarm, now)
    if verdict is not None and verdict.get("verdict") == "FAULT":
        AlarmEvent.objects.create(alarm=alarm, kind=EventKind.OPENED, at=now,
                                  note="疑似仪器故障：不向下游预警 / likely an instrument fault: no downstream warning",
                                  data={"verdict": verdict.get("verdict"), "reasons": verdict.get("reasons", [])})
        return alarm, True
    if rule.propagate and (alarm.site_id or alarm.outlet_id):
        try:
            propagate(alarm=alarm, now=now)
        except Exception:  # the alarm stands even if the network cannot be traced
            log.exception("propagation of alarm %s failed", alarm.pk)
    return alarm, True


def _notify_owner(alarm: Alarm, now: dt.datetime) -> None:
    users = User.objects.filter(bureau_id=alarm.owner_id, role=Role.EMERGENCY_DUTY_OFFICER, is_active=True)
    zh, en = _place_name(alarm)
    p = alarm.parameter
    p_zh, p_en = p.name_zh, p.name_en or p.key
    silent = (alarm.evidence or {}).get("station_silent")
    if silent:  # a whole station gone silent: one alarm for its parameters
        p_zh, p_en = f"全部 {silent} 项因子", f"all {silent} parameters"
    value = "" if alarm.value is None else f"{alarm.value:g} {alarm.unit}".strip()
    n, err = _safe_send(
        recipients=list(users), kind="alarm.opened", subject=f"告警：{zh} {p_zh} {alarm.rule.name}",
        body=f"{zh} {p_zh} {value}，规则“{alarm.rule.name}”，开始于 {_bj(alarm.started_at)}（北京时间）。",
        subject_en=f"Alarm: {en} {p_en} {alarm.rule.name}",
        body_en=f"{en} {p_en} {value}, rule \"{alarm.rule.name}\", since {_bj(alarm.started_at)} (Beijing time).",
        link=_alarm_link(alarm), payload={"alarm": alarm.pk}, ref=f"alarm:{alarm.pk}",
        urgent=alarm.severity == Severity.SEVERE, now=now,
    )
    if err:
        AlarmEvent.objects.create(alarm=alarm, kind=EventKind.OPENED, at=now, note=f"notification failed: {err}")


def resolve_alarm(*, rule_id: int, series_id: int, data: str, cleared_at: dt.datetime, value: float | None = None,
                  evidence: dict | None = None, now: dt.datetime | None = None) -> Alarm | None:
    """The condition cleared: resolve its active alarm (None if there is none, or if the
    condition still holds on another kind of data of the alarm's place: the alarm stays open and
    is handed to that series)."""
    now = now or timezone.now()
    with transaction.atomic():
        alarm = Alarm.objects.select_for_update().filter(open_key=open_key(rule_id, series_id, data)).first()
        if alarm is None:
            _leave(rule_id, series_id, data, cleared_at)
            return None
        ev = alarm.evidence or {}
        still = [a for a in ev.get("also_on", []) if a.get("cleared_at") is None]
        if still:
            nxt = still[0]
            also = [a for a in ev["also_on"] if a is not nxt]
            cleared = [*ev.get("cleared_on", []), {"series": series_id, "cleared_at": cleared_at.isoformat()}]
            alarm.evidence = {**ev, "also_on": also, "cleared_on": cleared}
            alarm.open_key = open_key(rule_id, nxt["series"], data)
            alarm.save(update_fields=["evidence", "open_key"])
            AlarmEvent.objects.create(
                alarm=alarm, kind=EventKind.REPEATED, at=now, bureau_id=alarm.owner_id,
                note=f"条件在{_KIND_ZH.get(nxt['kind'], nxt['kind'])}数据上仍持续 / the condition persists on "
                     f"{nxt['kind']} data", data={"value": value, "cleared_series": series_id, **(evidence or {})})
            return None
        alarm.state, alarm.open_key, alarm.place_key, alarm.resolved_at = AlarmState.RESOLVED, None, None, now
        alarm.save(update_fields=["state", "open_key", "place_key", "resolved_at"])
        AlarmEvent.objects.create(alarm=alarm, kind=EventKind.RESOLVED, at=now,
                                  data={"value": value, "cleared_at": cleared_at.isoformat(), **(evidence or {})})
    return alarm


def _leave(rule_id: int, series_id: int, data: str, cleared_at: dt.datetime) -> None:
    """A series that had joined an alarm of its place (:func:`_join`) cleared: note it there."""
    from gongzhi.observations.models import Series

    kind = AlarmRule.objects.filter(pk=rule_id).values_list("kind", flat=True).first()
    if kind not in MERGED_KINDS:
        return
    series = Series.objects.filter(pk=series_id).only("site_id", "outlet_id", "parameter_id").first()
    if series is None:
        return
    alarm = _place_alarm(rule_id, kind, data, series)
    if alarm is None:
        return
    also = alarm.evidence.get("also_on", [])
    for a in also:
        if a["series"] == series_id and a.get("cleared_at") is None:
            a["cleared_at"] = cleared_at.isoformat()
            alarm.evidence = {**alarm.evidence, "also_on": also}
            alarm.save(update_fields=["evidence"])
            return


# --- user actions --------------------------------------------------------------------------------


def acknowledge_alarm(*, alarm: Alarm, user, note: str = "", now: dt.datetime | None = None) -> Alarm:
    now = now or timezone.now()
    if not policy.can_handle_alarm(user, alarm):
        raise AlertsError("only the owner bureau's duty officers, monitoring staff and administrators acknowledge")
    with transaction.atomic():
        alarm = Alarm.objects.select_for_update().get(pk=alarm.pk)
        if alarm.state != AlarmState.OPEN:
            raise AlertsError(f"the alarm is {alarm.state}, not open")
        alarm.state, alarm.acknowledged_by, alarm.acknowledged_at = AlarmState.ACKNOWLEDGED, user, now
        alarm.save(update_fields=["state", "acknowledged_by", "acknowledged_at"])
        AlarmEvent.objects.create(alarm=alarm, kind=EventKind.ACKNOWLEDGED, at=now, user=user,
                                  bureau_id=user.bureau_id, note=note.strip())
    return alarm


def close_alarm(*, alarm: Alarm, user, note: str, now: dt.datetime | None = None) -> Alarm:
    """Close with a note (e.g. "sensor fault, confirmed on site"); pending warnings are cancelled."""
    now = now or timezone.now()
    if not policy.can_handle_alarm(user, alarm):
        raise AlertsError("only the owner bureau's duty officers, monitoring staff and administrators close alarms")
    if not note or not note.strip():
        raise AlertsError("closing an alarm needs a note")
    with transaction.atomic():
        alarm = Alarm.objects.select_for_update().get(pk=alarm.pk)
        if alarm.state == AlarmState.CLOSED:
            raise AlertsError("the alarm is closed already")
        alarm.state, alarm.open_key, alarm.place_key = AlarmState.CLOSED, None, None
        alarm.closed_by, alarm.closed_at, alarm.close_note = user, now, note.strip()
        alarm.save(update_fields=["state", "open_key", "place_key", "closed_by", "closed_at", "close_note"])
        AlarmEvent.objects.create(alarm=alarm, kind=EventKind.CLOSED, at=now, user=user, bureau_id=user.bureau_id,
                                  note=note.strip())
        pending = list(alarm.warnings.filter(state=WarningState.PENDING).select_related("bureau"))
        for w in pending:
            w.state = WarningState.CANCELLED
            w.save(update_fields=["state"])
    zh, en = _place_name(alarm)
    for w in pending:
        _safe_send(
            recipients=_recipients(w.bureau, w.level), kind="warning.cancelled",
            subject=f"预警撤销：{zh}", body=f"上游 {zh} 的告警已关闭：{note.strip()}",
            subject_en=f"Warning withdrawn: {en}", body_en=f"The alarm upstream at {en} was closed: {note.strip()}",
            link=_alarm_link(alarm), payload={"alarm": alarm.pk, "warning": w.pk}, ref=f"warning:{w.pk}:cancel",
            urgent=False, now=now,
        )
    return alarm


def acknowledge_warning(*, warning: DownstreamWarning, user, note: str = "", now: dt.datetime | None = None) -> DownstreamWarning:
    now = now or timezone.now()
    if not policy.can_acknowledge_warning(user, warning):
        raise AlertsError("only the receiving bureau's duty officers and administrators acknowledge its warning")
    with transaction.atomic():
        w = DownstreamWarning.objects.select_for_update().get(pk=warning.pk)
        if w.state != WarningState.PENDING:
            raise AlertsError(f"the warning is {w.state}, not pending")
        w.state, w.acknowledged_by, w.acknowledged_at, w.note = WarningState.ACKNOWLEDGED, user, now, note.strip()
        w.save(update_fields=["state", "acknowledged_by", "acknowledged_at", "note"])
        AlarmEvent.objects.create(alarm_id=w.alarm_id, kind=EventKind.WARNING_ACKNOWLEDGED, at=now, user=user,
                                  bureau_id=w.bureau_id, note=note.strip(), data={"warning": w.pk})
        for j in DownstreamWarning.objects.select_for_update().filter(joined_to=w, state=WarningState.JOINED):
            j.state, j.acknowledged_by, j.acknowledged_at, j.note = WarningState.ACKNOWLEDGED, user, now, note.strip()
            j.save(update_fields=["state", "acknowledged_by", "acknowledged_at", "note"])
            AlarmEvent.objects.create(alarm_id=j.alarm_id, kind=EventKind.WARNING_ACKNOWLEDGED, at=now, user=user,
                                      bureau_id=j.bureau_id, note=note.strip(), data={"warning": j.pk, "with": w.pk})
    return w


# --- propagation and escalation ------------------------------------------------------------------


def _recipients(bureau: reg.Bureau, level: int) -> list:
    """Who is told at each escalation level: the bureau's emergency duty officers, then its
    administrators, then the administrators of the co-governance offices it works with."""
    if level <= EscalationLevel.DUTY:
        return list(User.objects.filter(bureau=bureau, role=Role.EMERGENCY_DUTY_OFFICER, is_active=True))
    if level == EscalationLevel.ADMINISTRATOR:
        return list(User.objects.filter(bureau=bureau, role=Role.ADMINISTRATOR, is_active=True))
    offices = reg.Bureau.objects.filter(kind=reg.BureauKind.OFFICE, joint_zones__bureaus=bureau).distinct()
    if not offices.exists():
        offices = reg.Bureau.objects.filter(kind=reg.BureauKind.OFFICE)
    return list(User.objects.filter(bureau__in=offices, role=Role.ADMINISTRATOR, is_active=True))


def _warning_text(w: DownstreamWarning, alarm: Alarm, level: int) -> dict:
    zh, en = _place_name(alarm)
    p = alarm.parameter
    first = w.targets[0] if w.targets else None
    where_zh = f"，最早约 {_bj(w.first_arrival)} 到达{first['name']}" if first else f"，约 {_bj(w.first_arrival)} 进入辖区"
    where_en = (f", first reaching {first.get('name_en') or first['name']} about {_bj(w.first_arrival)}" if first
                else f", entering your area about {_bj(w.first_arrival)}")
    tag_zh = "" if level == 0 else "【升级】"
    tag_en = "" if level == 0 else "[escalated] "
    return {
        "subject": f"{tag_zh}上游预警：{zh} {p.name_zh}",
        "body": f"上游 {zh} {p.name_zh} 告警（{alarm.rule.name}）{where_zh}（北京时间）。请于 {_bj(w.deadline)} 前确认。",
        "subject_en": f"{tag_en}Upstream warning: {en} {p.name_en or p.key}",
        "body_en": f"Alarm upstream at {en}, {p.name_en or p.key} ({alarm.rule.name}){where_en} (Beijing time). "
                   f"Acknowledge by {_bj(w.deadline)}.",
    }


def _send_warning(w: DownstreamWarning, alarm: Alarm, level: int, now: dt.datetime) -> tuple[int, str]:
    kind = "warning.downstream" if level == EscalationLevel.DUTY else "warning.escalated"
    return _safe_send(recipients=_recipients(w.bureau, level), kind=kind, link=_alarm_link(alarm),
                      payload={"alarm": alarm.pk, "warning": w.pk, "level": level},
                      ref=f"warning:{w.pk}:{level}", urgent=True, now=now, **_warning_text(w, alarm, level))


#: an alarm at a place whose earlier warning a bureau has not acknowledged within this time joins it
JOIN_WINDOW = dt.timedelta(hours=12)


def propagate(*, alarm: Alarm, now: dt.datetime | None = None) -> list[DownstreamWarning]:
    """Create one warning per downstream bureau (first arrival, places, path, deadline) and
    tell its emergency duty officers. Idempotent: a bureau warned already is not warned twice."""
    now = now or timezone.now()
    places, reached = propagation.downstream_of(site=alarm.site, outlet=alarm.outlet)
    deadline = now + dt.timedelta(minutes=alarm.rule.ack_minutes)
    downstream = [
        {"site": p.site.code, "name": p.site.name, "name_en": p.site.name_en, "bureau": p.site.owner.short_name,
         "travel_time_s": round(p.travel_time_s), "distance_m": round(p.distance_m),
         "arrival": propagation.arrival(alarm.started_at, p.travel_time_s).isoformat(),
         "drinking_water_source": p.site.drinking_water_source, "boundary": p.site.is_boundary,
         "lon": p.site.lon, "lat": p.site.lat}
        for p in places
    ]
    alarm.evidence = {**alarm.evidence, "downstream": downstream}
    alarm.save(update_fields=["evidence"])
    created = []
    for br in sorted(reached.values(), key=lambda b: b.travel_time_s):
        targets = [
            {"site": p.site.code, "name": p.site.name, "name_en": p.site.name_en,
             "travel_time_s": round(p.travel_time_s), "distance_m": round(p.distance_m),
             "arrival": propagation.arrival(alarm.started_at, p.travel_time_s).isoformat(),
             "drinking_water_source": p.site.drinking_water_source, "lon": p.site.lon, "lat": p.site.lat}
            for p in sorted(br.places, key=lambda p: p.travel_time_s)
        ]
        # another parameter of the same place while the bureau has not yet acknowledged the first
        # warning: joined to it (no second notification; acknowledged with it)
        place = {"alarm__site_id": alarm.site_id} if alarm.site_id else {"alarm__outlet_id": alarm.outlet_id}
        lead = (DownstreamWarning.objects.filter(bureau=br.bureau, state=WarningState.PENDING, joined_to=None,
                                                 alarm__state__in=ACTIVE_STATES, created__gte=now - JOIN_WINDOW, **place)
                .exclude(alarm=alarm).order_by("created", "pk").first())
        try:
            with transaction.atomic():
                w = DownstreamWarning.objects.create(
                    alarm=alarm, bureau=br.bureau, created=now,
                    first_arrival=propagation.arrival(alarm.started_at, br.travel_time_s),
                    travel_time_s=br.travel_time_s, distance_m=br.distance_m, targets=targets, path=br.path,
                    deadline=deadline, state=WarningState.JOINED if lead else WarningState.PENDING,
                    level=EscalationLevel.DUTY, joined_to=lead,
                )
        except IntegrityError:
            continue
        if lead is not None:
            AlarmEvent.objects.create(alarm=alarm, kind=EventKind.WARNING_SENT, at=now, bureau=br.bureau,
                                      note=f"并入同一地点待确认的预警 #{lead.pk}（告警 #{lead.alarm_id}），不重复通知 / "
                                           f"joined the pending warning #{lead.pk} of the same place, not notified again",
                                      data={"warning": w.pk, "joined_to": lead.pk, "recipients": 0})
            created.append(w)
            continue
        n, err = _send_warning(w, alarm, EscalationLevel.DUTY, now)
        AlarmEvent.objects.create(alarm=alarm, kind=EventKind.WARNING_SENT, at=now, bureau=br.bureau,
                                  note=err, data={"warning": w.pk, "recipients": n, "reason": br.reason,
                                                  "travel_time_s": round(br.travel_time_s)})
        created.append(w)
    return created


def escalate_due(*, now: dt.datetime | None = None) -> list[DownstreamWarning]:
    """Escalate every pending warning whose deadline has passed to the next level (duty officers
    → administrators → co-governance office), with a new deadline; returns those escalated.
    At the office level an overdue warning stays pending (nobody is above the office)."""
    now = now or timezone.now()
    out = []
    due = (DownstreamWarning.objects.filter(state=WarningState.PENDING, deadline__lte=now, level__lt=EscalationLevel.OFFICE)
           .select_related("alarm__rule", "alarm__parameter", "alarm__site", "alarm__outlet__enterprise", "bureau"))
    for w in due:
        with transaction.atomic():
            n_rows = DownstreamWarning.objects.filter(pk=w.pk, state=WarningState.PENDING, level=w.level).update(
                level=w.level + 1, escalated_at=now, deadline=now + dt.timedelta(minutes=w.alarm.rule.ack_minutes))
            if not n_rows:  # acknowledged or escalated meanwhile
                continue
            w.refresh_from_db()
        n, err = _send_warning(w, w.alarm, w.level, now)
        AlarmEvent.objects.create(alarm=w.alarm, kind=EventKind.ESCALATED, at=now, bureau=w.bureau, note=err,
                                  data={"warning": w.pk, "level": w.level, "recipients": n})
        out.append(w)
    return out


# --- demo rules ----------------------------------------------------------------------------------


def seed_demo_rules() -> int:
    """Default rules for the demo region (idempotent): boundary sections against their target
    class for ammonia, permanganate index, total phosphorus and DO (sustained 10 minutes,
    propagated downstream), device fault flags, missing data for 30 minutes at boundary sections,
    outlet permit limits (on their averaging periods, and as an early warning on values as they
    arrive, sustained 15 minutes). Returns the number of rules created."""
    office = reg.Bureau.objects.filter(kind=reg.BureauKind.OFFICE).order_by("pk").first()
    if office is None:
        return 0
    group, _ = SiteGroup.objects.get_or_create(
        code="boundary-sections", defaults={"name": "全部跨界断面", "owner": office, "kind": "boundary"})
    specs = [
        ("跨界断面氨氮超水质目标", "nh3_n"), ("跨界断面高锰酸盐指数超水质目标", "codmn"),
        ("跨界断面总磷超水质目标", "tp"), ("跨界断面溶解氧低于水质目标", "do"),
    ]
    made = 0
    params = {p.key: p for p in reg.Parameter.objects.filter(key__in=[k for _, k in specs] + ["algal_density"])}
    for name, key in specs:
        if key in params and not AlarmRule.objects.filter(name=name, owner=office).exists():
            create_rule(name=name, owner=office, kind=RuleKind.EXCEEDANCE, parameter=params[key], group=group,
                        limit_source="target_class", duration_minutes=10, min_clear_minutes=30, severity="severe")
            made += 1
    extra = [
        dict(name="设备故障标记（D/C/M/F）", kind=RuleKind.FLAG, flags="D,C,M,F", propagate=False, severity="notice"),
        dict(name="跨界断面数据缺失 30 分钟", kind=RuleKind.MISSING, missing_minutes=30, propagate=False, severity="notice"),
    ]
    for spec in extra:
        if not AlarmRule.objects.filter(name=spec["name"], owner=office).exists():
            create_rule(owner=office, group=group, **spec)
            made += 1
    if "algal_density" in params and not AlarmRule.objects.filter(name="蓝藻水华中度及以上", owner=office).exists():
        create_rule(name="蓝藻水华中度及以上", owner=office, kind=RuleKind.BLOOM, parameter=params["algal_density"],
                    bloom_level=4, propagate=False)
        made += 1
    # ambient air: GB 3095 Grade Ⅱ, PM2.5 on day means, O3 on hour means (air stations only)
    for name, key, data in (("空气站 PM2.5 日均值超二级标准", "pm2_5", "day"), ("空气站臭氧小时均值超二级标准", "o3", "hour")):
        p = reg.Parameter.objects.filter(key=key).first()
        if p is not None and not AlarmRule.objects.filter(name=name, owner=office).exists():
            create_rule(name=name, owner=office, kind=RuleKind.EXCEEDANCE, parameter=p, limit_source="air_grade",
                        air_grade=2, data=data, propagate=False, severity="warning")
            made += 1
    if not AlarmRule.objects.filter(name="排放口实时浓度超许可限值预警", owner=office).exists():
        create_rule(name="排放口实时浓度超许可限值预警", owner=office, kind=RuleKind.EXCEEDANCE,
                    limit_source="permit_early", duration_minutes=15, min_clear_minutes=30, severity="warning")
        made += 1
    if not AlarmRule.objects.filter(name="排放口超许可限值", owner=office).exists():
        create_rule(name="排放口超许可限值", owner=office, kind=RuleKind.EXCEEDANCE, limit_source="permit",
                    severity="severe")
        made += 1
    return made
