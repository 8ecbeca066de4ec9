"""Live virtual loggers (虚拟数采仪): HJ 212-2017 over TCP, asyncio, all devices in one process.

Each :class:`VirtualLogger` keeps one TCP connection to the gateway and behaves like a data
logger in the field:

* real-time data (CN 2011) every ``interval_s / speed`` seconds (at least 1 s), on a grid
  aligned to its own clock; minute data (2051) every 10 minutes for pollution sources (ST
  31/32); hourly data (2061) just after each hour — the minute and hour values are the mean,
  minimum and maximum of its own real-time samples, with -Cou totals for flows and loads and
  the HJ 212-2017 Appendix C flag rules (water: any abnormal value makes the period abnormal;
  gas: at least 75 % normal values make it N, else D);
* every upload asks for a reply (Flag=5) and is sent again after ``ack_timeout`` seconds
  without its 9014, up to ``retries`` times; unacknowledged uploads wait in a bounded outbox
  and go out again after a reconnect (store and forward);
* reconnects with exponential backoff (with jitter) when the connection fails;
* answers the platform's 1012 (set time) — 9011 QnRtn=1, sets its clock, 9012 ExeRtn=1 — and
  1011 (get time).

The values come from a :class:`LiveSource`: the same :class:`~gongzhi.simulator.signals.Simulator`
as the back-fill, generated hour by hour a day ahead for every device at once, with a little
sub-hour noise per sample. Pure asyncio and the codec: no Django.
"""

from __future__ import annotations

import asyncio
import collections
import datetime as dt
import json
import logging
import math
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

from gongzhi.hj212 import CST, Decoder, Packet, build_data, build_exe_reply, build_qn_reply, format_time, parse_time
from gongzhi.hj212.builders import build_segment, flag_for, frame
from gongzhi.simulator.episodes import Episode
from gongzhi.simulator.signals import ADDITIVE_CODES, DECIMALS, LabelledEvent, SimulationResult, Simulator

__all__ = ["LiveSource", "VirtualLogger", "LoggerStats", "run_loggers", "period_flag"]

log = logging.getLogger("gongzhi.simulator")
UTC = dt.timezone.utc
HOUR = dt.timedelta(hours=1)
GAS_NORMAL_SHARE = 0.75  # HJ 212-2017 Appendix C notes
MINUTE_PERIOD_S = 600
CHUNK = dt.timedelta(days=1)


def period_flag(flags: Sequence[str], *, gas: bool) -> str:
    """Flag of a minute/hour value from its samples' flags (HJ 212-2017 Appendix C notes)."""
    if not flags:
        return "N"
    abnormal = [f for f in flags if f != "N"]
    if gas:
        return "N" if len(flags) - len(abnormal) >= GAS_NORMAL_SHARE * len(flags) else "D"
    if not abnormal:
        return "N"
    return collections.Counter(abnormal).most_common(1)[0][0]


class LiveSource:
    """Hourly values of every device, generated a day at a time (noise continues across days),
    and the labels of what was injected. Shared by all the loggers of a process."""

    def __init__(self, sim: Simulator, start: dt.datetime, *, state: dict | None = None) -> None:
        """``state``: the generator's noise state where the values should continue from (a
        back-fill's, :func:`load_state`); without it every slow signal starts from a fresh draw
        and steps at ``start``, which the alarm rules and the verdicts would see as a change."""
        self.sim = sim
        self.chunk_start = start.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        self.result: SimulationResult | None = None
        self.state: dict = dict(state or {})
        self.episodes: dict[str, Episode] = {}
        self.events: list[LabelledEvent] = []
        self._advance(self.chunk_start)

    def _advance(self, start: dt.datetime) -> None:
        end = start + CHUNK
        for ep in self.sim.episodes(start, end):
            self.episodes.setdefault(ep.id, ep)
        horizon = start - dt.timedelta(days=6)  # long enough for the slowest arrival downstream
        live = [e for e in self.episodes.values() if e.end > horizon]
        self.result = self.sim.generate(start, end, 3600, state=self.state, episodes=live)
        self.state = self.result.state
        self.chunk_start = start
        self.events += self.result.events
        if len(self.events) > 50000:
            self.events = self.events[-50000:]
        self._stuck = collections.defaultdict(list)
        for e in self.events:
            if e.kind == "stuck":
                self._stuck[(e.mn, e.code)].append((e.start, e.end))

    def hour_values(self, mn: str, t: dt.datetime) -> tuple[tuple[str, ...], np.ndarray, np.ndarray, dict]:
        """(codes, values, flags, zs) of device ``mn`` for the hour containing ``t``."""
        t = t.astimezone(UTC)
        if t < self.chunk_start:  # the clock went back (1012): use the first hour we have
            t = self.chunk_start
        while t >= self.chunk_start + CHUNK:
            self._advance(self.chunk_start + CHUNK)
        k = int((t - self.chunk_start).total_seconds() // 3600)
        ds = self.result.devices[mn]
        return ds.codes, ds.values[:, k], ds.flags[:, k], {c: float(z[k]) for c, z in ds.zs.items()}

    def stuck(self, mn: str, code: str, t: dt.datetime) -> bool:
        return any(a <= t < b for a, b in self._stuck.get((mn, code), ()))


@dataclass
class LoggerStats:
    sent: int = 0
    resent: int = 0
    acked: int = 0
    gave_up: int = 0
    connects: int = 0
    time_sets: int = 0
    rejected: list[str] = field(default_factory=list)  # QnRtn codes received


@dataclass
class _Pending:
    qn: str
    packet: bytes
    tries: int = 0
    sent_at: float = 0.0


class VirtualLogger:
    """One simulated data logger (see the module docstring)."""

    def __init__(self, spec, source: LiveSource, host: str, port: int, *, speed: float = 1.0, seed: int = 0,
                 ack_timeout: float = 10.0, retries: int = 3, outbox_limit: int = 2000,
                 clock_offset_s: float = 0.0, backoff_max: float = 60.0,
                 on_ack: Callable[[str, str], None] | None = None) -> None:
        self.spec = spec
        self.source = source
        self.host, self.port = host, port
        self.speed = max(speed, 1e-6)
        self.ack_timeout = ack_timeout
        self.retries = retries
        self.outbox_limit = outbox_limit
        self.offset = clock_offset_s
        self.backoff_max = backoff_max
        self.on_ack = on_ack
        self.stats = LoggerStats()
        self._rng = np.random.default_rng([seed & (2**63 - 1), int.from_bytes(spec.mn.encode()[:8].ljust(8, b"0"), "big") >> 1])
        self._noise: dict[str, float] = {}
        self._writer: asyncio.StreamWriter | None = None
        self._connected = asyncio.Event()
        self._pending: dict[str, _Pending] = {}
        self._outbox: collections.deque[_Pending] = collections.deque()
        self._last_qn = ""
        self._minute: dict[str, list] = collections.defaultdict(list)
        self._hour: dict[str, list] = collections.defaultdict(list)
        self._minute_start: dt.datetime | None = None
        self._hour_start: dt.datetime | None = None
        self._stop = asyncio.Event()

    # -- clock ------------------------------------------------------------------------------------

    def now(self) -> dt.datetime:
        return dt.datetime.now(UTC) + dt.timedelta(seconds=self.offset)

    def _qn(self) -> str:
        qn = format_time(self.now(), ms=True)
        if qn <= self._last_qn:  # unique and increasing per device
            t = parse_time(self._last_qn) + dt.timedelta(milliseconds=1)
            qn = format_time(t, ms=True)
        self._last_qn = qn
        return qn

    # -- values -----------------------------------------------------------------------------------

    def sample(self, t: dt.datetime) -> dict[str, tuple[float, str, float | None]]:
        """code -> (value, flag, converted value) of a real-time sample at ``t`` (codes not sent are absent)."""
        codes, values, flags, zs = self.source.hour_values(self.spec.mn, t)
        dec = DECIMALS.get(self.spec.kind, {})
        phi = math.exp(-self.interval / 900.0)  # sub-hour noise: AR(1), 15 min correlation time
        out = {}
        hour = values.tolist()
        for c, v, f in zip(codes, hour, flags.tolist()):
            if v != v:  # NaN: nothing sent
                continue
            x = self._noise.get(c, 0.0)
            x = phi * x + math.sqrt(1 - phi * phi) * float(self._rng.standard_normal())
            self._noise[c] = x
            if f == "N" and not self.source.stuck(self.spec.mn, c, t):
                v = v + 0.03 * x if c in ADDITIVE_CODES else v * (1 + 0.03 * x)
            v = max(v, 0.0) if c not in ("w01010", "a01012", "a01013") else v
            z = zs.get(c)
            if z is not None and z == z:
                base = hour[codes.index(c)]
                z = round(z * (v / base) if base else z, dec.get(c, 3))
            else:
                z = None
            out[c] = (round(v, dec.get(c, 3)), f, z)
        return out

    @property
    def interval(self) -> float:
        return max(1.0, self.spec.interval_s / self.speed)

    # -- uploads ----------------------------------------------------------------------------------

    def _packets(self, cn: str, data_time: dt.datetime, factors: dict) -> list[_Pending]:
        qn = self._qn()
        pkts = build_data(cn, mn=self.spec.mn, pw=self.spec.password, st=self.spec.st, qn=qn,
                          data_time=data_time.astimezone(CST), factors=factors, ack=True)
        out = []
        for p in pkts:
            i = p.find(b"QN=")
            out.append(_Pending(p[i + 3 : i + 20].decode("ascii"), p))
        if len(out) > 1:  # sub-packets use QN + k ms: keep the device's QNs increasing
            self._last_qn = max(self._last_qn, out[-1].qn)
        return out

    def realtime(self, t: dt.datetime) -> list[_Pending]:
        s = self.sample(t)
        for c, (v, f, z) in s.items():
            self._minute[c].append((v, f, z))
            self._hour[c].append((v, f, z))
        if not s:
            return []
        factors = {}
        for c, (v, f, z) in s.items():
            d = {"Rtd": v}
            if z is not None:
                d["ZsRtd"] = z
            d["Flag"] = f
            factors[c] = d
        return self._packets("2011", t, factors)

    def period(self, cn: str, start: dt.datetime, seconds: float, samples: dict[str, list]) -> list[_Pending]:
        gas = self.spec.st in ("22", "31")
        factors = {}
        flow_code = "w00000" if self.spec.kind == "wastewater" else "a00000" if self.spec.kind == "flue_gas" else None
        flow = samples.get(flow_code) if flow_code else None
        flow_mean = float(np.mean([x[0] for x in flow])) if flow else None
        dec = DECIMALS.get(self.spec.kind, {})
        for c, xs in samples.items():
            if not xs:
                continue
            vals = [x[0] for x in xs]
            d: dict = {"Avg": round(float(np.mean(vals)), dec.get(c, 3)), "Min": min(vals), "Max": max(vals)}
            zs = [x[2] for x in xs if x[2] is not None]
            if zs:
                d.update(ZsAvg=round(float(np.mean(zs)), dec.get(c, 3)), ZsMin=min(zs), ZsMax=max(zs))
            if flow_mean is not None:
                if c == flow_code:
                    vol = flow_mean * seconds / (1000.0 if c == "w00000" else 1.0)
                    d["Cou"] = round(vol, 2)
                elif c not in ADDITIVE_CODES and c not in ("a01011", "a01012", "a01013", "a01014", "a19001"):
                    vol = flow_mean * seconds / (1000.0 if flow_code == "w00000" else 1.0)
                    d["Cou"] = round(d["Avg"] * vol / (1000.0 if flow_code == "w00000" else 1e6), 4)
            d["Flag"] = period_flag([x[1] for x in xs], gas=gas)
            factors[c] = d
        if not factors:
            return []
        return self._packets(cn, start, factors)

    def _enqueue(self, items: Iterable[_Pending]) -> None:
        for p in items:
            if len(self._outbox) + len(self._pending) >= self.outbox_limit:
                self._outbox.popleft()  # the oldest is lost, as in a full logger memory
                self.stats.gave_up += 1
            self._outbox.append(p)
        self._flush()

    def _flush(self) -> None:
        w = self._writer
        if w is None or w.is_closing():
            return
        loop = asyncio.get_running_loop()
        while self._outbox:
            p = self._outbox.popleft()
            p.tries += 1
            p.sent_at = loop.time()
            self._pending[p.qn] = p
            w.write(p.packet)
            self.stats.sent += 1

    def _check_timeouts(self) -> None:
        """Resend what got no 9014 within ``ack_timeout`` (up to ``retries`` resends)."""
        w = self._writer
        if w is None or w.is_closing():
            return
        now = asyncio.get_running_loop().time()
        for qn, p in list(self._pending.items()):
            if now - p.sent_at < self.ack_timeout:
                continue
            if p.tries > self.retries:
                del self._pending[qn]
                self.stats.gave_up += 1
                continue
            p.tries += 1
            p.sent_at = now
            w.write(p.packet)
            self.stats.resent += 1

    # -- replies and commands ---------------------------------------------------------------------

    def _handle(self, m) -> None:
        cn = m.cn
        if cn == "9014":
            p = self._pending.pop(m.qn or "", None)
            if p is not None:
                self.stats.acked += 1
                if self.on_ack is not None:
                    self.on_ack(self.spec.mn, p.qn)
        elif cn == "9011":
            rtn = m.fields.get("QnRtn", "")
            if rtn and rtn != "1":
                self.stats.rejected.append(rtn)
                self._pending.pop(m.qn or "", None)  # refused (PW/MN error …): resending will not help
        elif cn == "1012":
            target = parse_time(m.fields.get("SystemTime", ""))
            if m.ack_requested:
                self._reply(build_qn_reply(m, 1 if target else 2))
            if target is not None:
                self.offset = (target - dt.datetime.now(UTC)).total_seconds()
                self.stats.time_sets += 1
                log.info("logger %s: clock set to %s by the platform", self.spec.mn, target)
            self._reply(build_exe_reply(m, 1 if target else 3))
        elif cn == "1011":
            if m.ack_requested:
                self._reply(build_qn_reply(m, 1))
            cp = f"SystemTime={format_time(self.now())}"
            self._reply(frame(build_segment(cn="1011", mn=self.spec.mn, st=self.spec.st, qn=m.qn, pw=self.spec.password,
                                            flag=flag_for("2017"), cp=cp)))
            self._reply(build_exe_reply(m, 1))

    def _reply(self, data: bytes) -> None:
        if self._writer is not None and not self._writer.is_closing():
            self._writer.write(data)

    # -- main loop --------------------------------------------------------------------------------

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        conn = asyncio.create_task(self._connection_loop())
        try:
            await self._schedule_loop()
        finally:
            conn.cancel()
            await asyncio.gather(conn, return_exceptions=True)
            if self._writer is not None:
                self._writer.close()

    async def _sleep_until_stop(self, seconds: float) -> bool:
        try:
            await asyncio.wait_for(self._stop.wait(), timeout=max(0.0, seconds))
            return True
        except TimeoutError:
            return False

    async def _connection_loop(self) -> None:
        backoff = 1.0
        while not self._stop.is_set():
            try:
                reader, writer = await asyncio.open_connection(self.host, self.port)
            except OSError:
                await self._sleep_until_stop(backoff * (0.5 + random.random()))
                backoff = min(self.backoff_max, backoff * 2)
                continue
            backoff = 1.0
            self.stats.connects += 1
            self._writer = writer
            # what was in flight goes out again on the new connection
            inflight = sorted(self._pending.values(), key=lambda p: p.qn)
            self._pending.clear()
            self._outbox.extendleft(reversed(inflight))
            self._flush()
            decoder = Decoder()
            try:
                while not self._stop.is_set():
                    try:
                        data = await asyncio.wait_for(reader.read(65536), timeout=min(1.0, self.ack_timeout / 2))
                    except TimeoutError:
                        self._check_timeouts()
                        continue
                    if not data:
                        break
                    for ev in decoder.feed(data):
                        if isinstance(ev, Packet):
                            self._handle(ev.message)
                    self._check_timeouts()
            except (OSError, asyncio.IncompleteReadError):
                pass
            finally:
                self._writer = None
                writer.close()
            await self._sleep_until_stop(backoff * (0.5 + random.random()))

    async def _schedule_loop(self) -> None:
        step = self.interval
        while not self._stop.is_set():
            now = self.now()
            ts = now.timestamp()
            nxt = math.floor(ts / step + 1) * step
            if await self._sleep_until_stop(nxt - ts):
                return
            t = dt.datetime.fromtimestamp(round(nxt, 3), UTC)
            out: list[_Pending] = []
            # period boundaries crossed since the last sample: minute (sources) and hour data
            minute_start = dt.datetime.fromtimestamp(math.floor(nxt / MINUTE_PERIOD_S) * MINUTE_PERIOD_S, UTC)
            hour_start = t.replace(minute=0, second=0, microsecond=0)
            if self.spec.st in ("31", "32") and self._minute_start is not None and minute_start != self._minute_start:
                out += self.period("2051", self._minute_start, MINUTE_PERIOD_S, self._minute)
                self._minute = collections.defaultdict(list)
            if self._hour_start is not None and hour_start != self._hour_start:
                out += self.period("2061", self._hour_start, 3600, self._hour)
                self._hour = collections.defaultdict(list)
            if self._minute_start != minute_start:
                self._minute = collections.defaultdict(list)
            self._minute_start, self._hour_start = minute_start, hour_start
            out += self.realtime(t)
            if out:
                self._enqueue(out)


async def run_loggers(loggers: Sequence[VirtualLogger], *, stop: asyncio.Event | None = None,
                      report_every: float | None = None, report: Callable[[Sequence[VirtualLogger]], None] | None = None) -> None:
    """Run ``loggers`` until ``stop`` is set (or forever), then close them."""
    stop = stop or asyncio.Event()
    tasks = []
    for i, lg in enumerate(loggers):
        tasks.append(asyncio.create_task(lg.run(), name=f"logger-{lg.spec.mn}"))
    waiter = asyncio.create_task(stop.wait())
    try:
        while True:
            done, _ = await asyncio.wait({waiter}, timeout=report_every)
            if done:
                break
            if report is not None:
                report(loggers)
    finally:
        for lg in loggers:
            lg.stop()
        await asyncio.gather(*tasks, return_exceptions=True)
        waiter.cancel()


class LoggerThread:
    """The virtual loggers on an event loop of their own in a background thread (used by
    ``gongzhi demo`` beside the web server and the gateway). :meth:`stop` ends them cleanly."""

    def __init__(self, loggers: Sequence[VirtualLogger]) -> None:
        import threading

        self.loggers = list(loggers)
        self.loop = asyncio.new_event_loop()
        self._stop: asyncio.Event | None = None
        started = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(self.loop)
            self._stop = asyncio.Event()
            started.set()
            try:
                self.loop.run_until_complete(run_loggers(self.loggers, stop=self._stop))
            finally:
                self.loop.close()

        self.thread = threading.Thread(target=run, name="gongzhi-simulator", daemon=True)
        self.thread.start()
        started.wait(10)

    def stop(self, timeout: float = 10.0) -> None:
        if self.thread.is_alive() and self._stop is not None:
            self.loop.call_soon_threadsafe(self._stop.set)
            self.thread.join(timeout)

    def totals(self) -> LoggerStats:
        out = LoggerStats()
        for lg in self.loggers:
            for f in ("sent", "resent", "acked", "gave_up", "connects", "time_sets"):
                setattr(out, f, getattr(out, f) + getattr(lg.stats, f))
        return out


def pick_devices(specs: Sequence, n: int | None) -> list:
    """``n`` specs taken round-robin over the device kinds (all when ``n`` is None)."""
    if n is None or n >= len(specs):
        return list(specs)
    by_kind: dict[str, collections.deque] = collections.OrderedDict()
    for s in specs:
        by_kind.setdefault(s.kind, collections.deque()).append(s)
    out = []
    while len(out) < n:
        for q in by_kind.values():
            if q and len(out) < n:
                out.append(q.popleft())
    return out


# --- hand-over from a back-fill to live loggers --------------------------------------------------

STATE_FILE = "simulator-state.json"
#: a back-fill older than this is not continued (after a long pause a fresh start is as good)
STATE_MAX_AGE = dt.timedelta(hours=6)


def save_state(directory, *, end: dt.datetime, seed: int, state: dict) -> None:
    """Keep a back-fill's final noise state (``end``, the generator ``seed``) in ``directory``."""
    data = {"end": end.astimezone(UTC).isoformat(), "seed": seed,
            "state": [[list(k), float(v)] for k, v in state.items()]}
    path = Path(directory) / STATE_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data), encoding="utf-8")
    tmp.replace(path)


def load_state(directory, *, start: dt.datetime, seed: int) -> dict | None:
    """The saved state if it was made with ``seed`` and ends at most :data:`STATE_MAX_AGE`
    before ``start``'s hour (a live start right after its back-fill); otherwise None."""
    path = Path(directory) / STATE_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        end = dt.datetime.fromisoformat(data["end"])
        if data["seed"] != seed:
            return None
        hour = start.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        if not dt.timedelta(0) <= hour - end <= STATE_MAX_AGE:
            return None
        return {tuple(k): float(v) for k, v in data["state"]}
    except (OSError, ValueError, KeyError, TypeError):
        return None
