"""The flap-detecting state machine (SPEC §6), as a pure function.

    step(state, result, settings) -> (new_state, events)

``state`` carries everything the machine needs (status, consecutive counts, the last
W outcomes, the flapping flag), so evaluation is one read and one write per monitor
and the same code runs in property tests without a database.

Rules:
- pending -> up on the first ok; pending -> degraded on the first slow or fail.
- up -> degraded on any slow or fail.
- degraded -> down on N consecutive fails, or when the fails among the last W results
  reach down_ratio * W. This is the only way into down.
- degraded -> up and down -> up on M consecutive oks.
- down stays down on slow (not ok enough to recover, not a fail to count).
- Flapping: the weighted share of state changes between consecutive results over the
  last W (weights from 0.8 for the oldest to 1.2 for the newest, as Icinga 2 does)
  starts flapping above flap_high and stops below flap_low.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import StrEnum


class Status(StrEnum):
    PENDING = "pending"
    UP = "up"
    DEGRADED = "degraded"
    DOWN = "down"


class Result(StrEnum):
    OK = "ok"
    SLOW = "slow"
    FAIL = "fail"


class Event(StrEnum):
    UP = "up"  # first ok of a new monitor: no alert
    DEGRADED = "degraded"
    DOWN = "down"
    RECOVERED = "recovered"  # degraded/down -> up
    FLAPPING_STARTED = "flapping_started"
    FLAPPING_STOPPED = "flapping_stopped"


_CODE = {Result.OK: "o", Result.SLOW: "s", Result.FAIL: "f"}
_RESULT = {v: k for k, v in _CODE.items()}


@dataclass(frozen=True)
class Settings:
    fail_threshold: int = 3  # N
    recover_threshold: int = 2  # M
    window: int = 20  # W
    degraded_ratio: float = 0.2
    down_ratio: float = 0.5
    flap_high: float = 0.30
    flap_low: float = 0.25

    def __post_init__(self) -> None:
        if self.fail_threshold < 1 or self.recover_threshold < 1:
            raise ValueError("thresholds must be at least 1")
        if self.window < 2:
            raise ValueError("window must be at least 2")
        if not 0 < self.down_ratio <= 1 or not 0 <= self.degraded_ratio <= 1:
            raise ValueError("ratios must be within (0, 1]")
        if not 0 <= self.flap_low <= self.flap_high <= 1:
            raise ValueError("need 0 <= flap_low <= flap_high <= 1")


@dataclass(frozen=True)
class State:
    status: Status = Status.PENDING
    consecutive_ok: int = 0
    consecutive_fail: int = 0
    history: str = ""  # last W outcomes, oldest first: o/s/f
    flapping: bool = False

    @property
    def results(self) -> list[Result]:
        return [_RESULT[c] for c in self.history]

    def to_json(self) -> dict[str, object]:
        return {
            "status": self.status.value,
            "ok": self.consecutive_ok,
            "fail": self.consecutive_fail,
            "history": self.history,
            "flapping": self.flapping,
        }

    @classmethod
    def from_json(cls, data: dict[str, object] | None, status: str | None = None) -> State:
        data = data or {}
        raw_status = str(data.get("status") or status or Status.PENDING)
        if raw_status not in Status.__members__.values():
            raw_status = Status.PENDING
        return cls(
            status=Status(raw_status),
            consecutive_ok=int(data.get("ok", 0)),  # type: ignore[call-overload]
            consecutive_fail=int(data.get("fail", 0)),  # type: ignore[call-overload]
            history=str(data.get("history", "")),
            flapping=bool(data.get("flapping", False)),
        )


@dataclass(frozen=True)
class Step:
    state: State
    events: list[Event] = field(default_factory=list)
    flap_ratio: float = 0.0

    @property
    def changed(self) -> bool:
        return bool(self.events)


def flap_ratio(history: str, window: int) -> float:
    """Weighted share of result-to-result changes (good <-> bad) over the window.

    The denominator always spans a full window, so a young monitor with two results
    that differ is not 'flapping' at 100 %.
    """
    if window < 2:
        return 0.0
    recent = history[-window:]
    bad = [c == "f" for c in recent]
    transitions = window - 1
    total = sum(0.8 + 0.4 * i / (transitions - 1 or 1) for i in range(transitions))
    offset = transitions - (len(bad) - 1)  # the missing oldest positions
    changed = 0.0
    for i in range(1, len(bad)):
        if bad[i] != bad[i - 1]:
            position = offset + i - 1  # 0 = oldest transition slot
            changed += 0.8 + 0.4 * position / (transitions - 1 or 1)
    return changed / total


def step(state: State, result: Result, settings: Settings) -> Step:
    history = (state.history + _CODE[result])[-settings.window :]
    ok = state.consecutive_ok + 1 if result == Result.OK else 0
    fail = state.consecutive_fail + 1 if result == Result.FAIL else 0
    fails_in_window = history.count("f")
    window_down = fails_in_window >= settings.down_ratio * settings.window
    events: list[Event] = []

    status = state.status
    if status == Status.PENDING:
        status = Status.UP if result == Result.OK else Status.DEGRADED
        events.append(Event.UP if status == Status.UP else Event.DEGRADED)
        if status == Status.DEGRADED and (fail >= settings.fail_threshold or window_down):
            status = Status.DOWN
            events.append(Event.DOWN)
    elif status == Status.UP:
        if result != Result.OK:
            status = Status.DEGRADED
            events.append(Event.DEGRADED)
            if fail >= settings.fail_threshold or (result == Result.FAIL and window_down):
                status = Status.DOWN
                events.append(Event.DOWN)
    elif status == Status.DEGRADED:
        if result == Result.FAIL and (fail >= settings.fail_threshold or window_down):
            status = Status.DOWN
            events.append(Event.DOWN)
        elif ok >= settings.recover_threshold:
            status = Status.UP
            events.append(Event.RECOVERED)
    elif status == Status.DOWN and ok >= settings.recover_threshold:
        status = Status.UP
        events.append(Event.RECOVERED)

    ratio = flap_ratio(history, settings.window)
    flapping = state.flapping
    if not flapping and ratio > settings.flap_high:
        flapping = True
        events.append(Event.FLAPPING_STARTED)
    elif flapping and ratio < settings.flap_low:
        flapping = False
        events.append(Event.FLAPPING_STOPPED)

    new_state = replace(
        state,
        status=status,
        consecutive_ok=ok,
        consecutive_fail=fail,
        history=history,
        flapping=flapping,
    )
    return Step(state=new_state, events=events, flap_ratio=ratio)


PAGING = frozenset({Event.DOWN, Event.DEGRADED, Event.RECOVERED})


def notifiable(events: list[Event], *, flapping_before: bool, flapping_after: bool) -> list[Event]:
    """Which of a step's events may notify. While flapping (before or after the
    step), state changes are logged but held back; only the one flapping_started and
    the one flapping_stopped go out. UP (a new monitor's first ok) never notifies."""
    held = flapping_before or flapping_after
    out: list[Event] = []
    for event in events:
        if event in (Event.FLAPPING_STARTED, Event.FLAPPING_STOPPED) or (
            event in PAGING and not held
        ):
            out.append(event)
    return out


@dataclass
class IncidentPlan:
    open: bool = False
    resolve: bool = False


def incident_plan(events: list[Event], *, incident_open: bool) -> IncidentPlan:
    """A confirmed down opens an incident unless one is open; recovery resolves it."""
    return IncidentPlan(
        open=Event.DOWN in events and not incident_open,
        resolve=Event.RECOVERED in events and incident_open,
    )
