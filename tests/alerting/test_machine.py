"""Property tests of the state machine (SPEC §6), 1,000+ generated sequences each."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from alerting.machine import (
    Event,
    Result,
    Settings,
    State,
    Status,
    flap_ratio,
    incident_plan,
    notifiable,
    step,
)

RESULTS = st.sampled_from([Result.OK, Result.SLOW, Result.FAIL])
SEQUENCES = st.lists(RESULTS, min_size=1, max_size=120)
MACHINE_SETTINGS = st.builds(
    lambda n, m, w, down, high, gap: Settings(
        fail_threshold=n,
        recover_threshold=m,
        window=w,
        down_ratio=down,
        flap_high=high,
        flap_low=high * gap,
    ),
    st.integers(1, 6),
    st.integers(1, 5),
    st.integers(2, 30),
    st.floats(0.1, 1.0),
    st.floats(0.2, 0.6),
    st.floats(0.5, 1.0),
)
MANY = settings(max_examples=1000, deadline=None)


def run(sequence: list[Result], cfg: Settings) -> list[tuple[State, State, list[Event]]]:
    state = State()
    steps = []
    for result in sequence:
        out = step(state, result, cfg)
        steps.append((state, out.state, out.events))
        state = out.state
    return steps


@MANY
@given(SEQUENCES, MACHINE_SETTINGS)
def test_no_down_without_n_consecutive_fails_or_the_window_ratio(
    sequence: list[Result], cfg: Settings
) -> None:
    seen: list[Result] = []
    for (before, after, events), result in zip(run(sequence, cfg), sequence, strict=True):
        seen.append(result)
        if after.status == Status.DOWN and before.status != Status.DOWN:
            assert Event.DOWN in events
            tail = seen[-cfg.fail_threshold :]
            consecutive = len(tail) == cfg.fail_threshold and all(r == Result.FAIL for r in tail)
            window_fails = seen[-cfg.window :].count(Result.FAIL)
            assert consecutive or window_fails >= cfg.down_ratio * cfg.window
            assert result == Result.FAIL


@MANY
@given(SEQUENCES, MACHINE_SETTINGS)
def test_down_is_only_entered_through_degraded(sequence: list[Result], cfg: Settings) -> None:
    for before, after, events in run(sequence, cfg):
        if after.status == Status.DOWN and before.status != Status.DOWN:
            assert before.status == Status.DEGRADED or Event.DEGRADED in events


@MANY
@given(SEQUENCES, MACHINE_SETTINGS)
def test_recovery_needs_m_consecutive_oks(sequence: list[Result], cfg: Settings) -> None:
    seen: list[Result] = []
    for (before, after, events), result in zip(run(sequence, cfg), sequence, strict=True):
        seen.append(result)
        if before.status in (Status.DEGRADED, Status.DOWN) and after.status == Status.UP:
            assert Event.RECOVERED in events
            tail = seen[-cfg.recover_threshold :]
            assert len(tail) == cfg.recover_threshold and all(r == Result.OK for r in tail)


@MANY
@given(SEQUENCES, MACHINE_SETTINGS)
def test_never_two_unresolved_incidents(sequence: list[Result], cfg: Settings) -> None:
    open_incidents = 0
    for _, _, events in run(sequence, cfg):
        plan = incident_plan(events, incident_open=open_incidents > 0)
        if plan.open:
            open_incidents += 1
        if plan.resolve:
            open_incidents -= 1
        assert 0 <= open_incidents <= 1


@MANY
@given(
    st.integers(12, 200),
    st.sampled_from([Result.OK, Result.FAIL]),
    st.lists(RESULTS, max_size=10),
)
def test_alternating_results_page_at_most_once_per_flap_episode(
    length: int, first: Result, prefix: list[Result]
) -> None:
    cfg = Settings()
    other = Result.FAIL if first == Result.OK else Result.OK
    alternating = [first if i % 2 == 0 else other for i in range(length)]
    state = State()
    for result in prefix:  # any history before the flapping begins
        state = step(state, result, cfg).state
    pages_in_episode = 0
    episodes = 0
    for result in alternating:
        out = step(state, result, cfg)
        sent = notifiable(
            out.events, flapping_before=state.flapping, flapping_after=out.state.flapping
        )
        if Event.FLAPPING_STARTED in out.events:
            episodes += 1
            pages_in_episode = 0
        pages_in_episode += sum(1 for e in sent if e in (Event.DOWN, Event.FLAPPING_STARTED))
        if out.state.flapping:
            assert pages_in_episode <= 1
        state = out.state
    # A long alternation is recognised as flapping (perhaps already during the prefix).
    assert episodes >= 1 or state.flapping


@MANY
@given(SEQUENCES)
def test_flap_ratio_stays_within_zero_and_one(sequence: list[Result]) -> None:
    cfg = Settings()
    for _, after, _ in run(sequence, cfg):
        assert 0.0 <= flap_ratio(after.history, cfg.window) <= 1.0
        assert len(after.history) <= cfg.window


def test_exactly_n_failures_take_an_up_monitor_down() -> None:
    cfg = Settings()
    state = step(State(), Result.OK, cfg).state
    assert state.status == Status.UP
    statuses = []
    for _ in range(cfg.fail_threshold):
        out = step(state, Result.FAIL, cfg)
        state = out.state
        statuses.append(state.status)
    assert statuses == [Status.DEGRADED, Status.DEGRADED, Status.DOWN]


def test_state_round_trips_through_json() -> None:
    state = State(
        status=Status.DOWN, consecutive_ok=1, consecutive_fail=0, history="fffo", flapping=True
    )
    assert State.from_json(state.to_json()) == state
