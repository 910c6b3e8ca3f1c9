"""The offline ARI decision (certkernel.ca.ari): window arithmetic and the cache file format.

These are pure functions with no service behind them; the CLI tests cover
the same rules end to end against acme2certifier.
"""

from __future__ import annotations

import datetime
import json

import pytest

from certkernel.ca import ari

T0 = datetime.datetime(2030, 1, 1, tzinfo=datetime.UTC)
DAY = datetime.timedelta(days=1)


def make_state(start: datetime.datetime, end: datetime.datetime,
               next_check: datetime.datetime = T0 + DAY) -> ari.AriState:
    return ari.AriState("ab" * 32, "http://ca/directory", "http://ca/ri", T0, next_check,
                        cert_id="aki.serial", window=ari.Window(start, end),
                        explanation_url="https://ca.example/incident")


def test_chosen_time_is_inside_the_window_stable_and_spread() -> None:
    window = ari.Window(T0, T0 + 10 * DAY)
    picks = [window.chosen_time(f"cert-{i}") for i in range(400)]
    assert all(window.start <= p <= window.end for p in picks)
    assert window.chosen_time("cert-7") == picks[7]
    first_half = sum(p < T0 + 5 * DAY for p in picks)
    assert 150 < first_half < 250  # uniform enough: not all at one end


def test_due_from_the_chosen_time_on() -> None:
    state = make_state(T0 + 10 * DAY, T0 + 20 * DAY)
    renew_at = state.renew_at()
    assert renew_at is not None
    assert not state.due(renew_at - datetime.timedelta(seconds=1))
    assert state.due(renew_at)


def test_window_in_the_future_is_not_due_and_past_window_is() -> None:
    assert not make_state(T0 + 10 * DAY, T0 + 20 * DAY).due(T0)
    assert make_state(T0 - 20 * DAY, T0 - 10 * DAY).due(T0)


def test_a_window_ending_before_the_next_run_is_acted_on_now() -> None:
    # Started, ends within a day: renew even if the chosen point is later.
    state = make_state(T0 - datetime.timedelta(hours=1), T0 + datetime.timedelta(hours=20))
    assert state.due(T0)
    # Not started yet: wait, even if it is short.
    assert not make_state(T0 + datetime.timedelta(hours=1), T0 + datetime.timedelta(hours=2)).due(T0)


def test_freshness_follows_retry_after() -> None:
    state = make_state(T0 + 10 * DAY, T0 + 20 * DAY, next_check=T0 + DAY)
    assert state.fresh(T0)
    assert not state.fresh(T0 + DAY)
    assert ari.Decision(state).stale(T0 + DAY) and not ari.Decision(state).stale(T0)
    assert ari.Decision(None).stale(T0)


@pytest.mark.parametrize(("header", "expected"), [
    ("3600", datetime.timedelta(hours=1)),
    (None, ari.DEFAULT_RETRY),
    ("garbage", ari.DEFAULT_RETRY),
    ("1", ari.MIN_RETRY),
    ("99999999", ari.MAX_RETRY),
    ("Tue, 01 Jan 2030 03:00:00 GMT", datetime.timedelta(hours=3)),
])
def test_retry_after_header(header: str | None, expected: datetime.timedelta) -> None:
    assert ari.retry_after(header, T0) - T0 == expected


def test_state_round_trips_through_json() -> None:
    state = make_state(T0 + 10 * DAY, T0 + 20 * DAY)
    data = json.loads(json.dumps(state.to_json()))
    assert ari.AriState.from_json(data) == state
    assert data["renew_at"] == state.renew_at().isoformat()  # type: ignore[union-attr]
    reason = ari.Decision(state).reason()
    assert "https://ca.example/incident" in reason


@pytest.mark.parametrize("junk", [[], {"version": 99}, {"version": 1}, "text"])
def test_unknown_or_broken_state_is_rejected(junk: object) -> None:
    with pytest.raises((ValueError, KeyError, TypeError)):
        ari.AriState.from_json(junk)


def test_rfc3339_times() -> None:
    assert ari.parse_time("2030-01-01T00:00:00Z") == T0
    assert ari.parse_time("2030-01-01T01:00:00+01:00") == T0
    assert ari.parse_time("2030-01-01T00:00:00.5Z") == T0 + datetime.timedelta(milliseconds=500)


def test_failed_lookup_keeps_the_window_and_backs_off() -> None:
    cached = make_state(T0 + 10 * DAY, T0 + 20 * DAY)
    after = ari.failed_state(b"cert", "http://other/directory", cached, now=T0)
    assert after.window == cached.window and after.next_check == T0 + ari.FAILED_RETRY
    fresh = ari.failed_state(b"cert", "http://ca/directory", None, now=T0)
    assert fresh.window is None and fresh.renewal_info_url is None
