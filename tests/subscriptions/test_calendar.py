"""The provider's deadline: 10 working days by the official calendar, make-up days included."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from govbus.gateway.subscriptions import DeadlineBasis, deadline_after
from govbus.gateway.subscriptions._calendar import CHINA, end_of_day, is_working_day


def beijing(day: date, hour: int = 10) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=CHINA)


def test_spring_festival_2026_with_its_make_up_saturdays() -> None:
    # State Council notice for 2026: Feb 15-23 off; Saturdays Feb 14 and Feb 28 are worked.
    assert is_working_day(date(2026, 2, 14)) == (True, True)
    assert is_working_day(date(2026, 2, 16)) == (False, True)
    # From Friday Feb 13: Feb 14, 24, 25, 26, 27, 28, Mar 2, 3, 4, 5.
    assert deadline_after(beijing(date(2026, 2, 13))) == (date(2026, 3, 5), DeadlineBasis.OFFICIAL)


def test_national_day_2026() -> None:
    # Oct 1-7 off, Saturday Oct 10 worked: from Sep 30, Oct 8, 9, 10, 12 ... 16, 19, 20.
    assert deadline_after(beijing(date(2026, 9, 30))) == (
        date(2026, 10, 20),
        DeadlineBasis.OFFICIAL,
    )


def test_an_ordinary_fortnight_is_two_weeks() -> None:
    # Tuesday Mar 3, 2026, no holiday in sight: ten weekdays later is Tuesday Mar 17.
    assert deadline_after(beijing(date(2026, 3, 3))) == (date(2026, 3, 17), DeadlineBasis.OFFICIAL)


def test_the_request_day_is_the_day_in_beijing() -> None:
    # 23:00 UTC on Monday Mar 2 is already Tuesday Mar 3 in Beijing.
    late_monday_utc = datetime(2026, 3, 2, 23, tzinfo=UTC)
    assert deadline_after(late_monday_utc)[0] == date(2026, 3, 17)
    assert deadline_after(datetime(2026, 3, 2, 12, tzinfo=UTC))[0] == date(2026, 3, 16)


def _first_unknown_year() -> int:
    # Newer package releases learn new years: find the first one this install lacks.
    return next(y for y in range(2026, 2200) if not is_working_day(date(y, 6, 1))[1])


def test_a_year_the_package_does_not_know_counts_weekdays_and_says_so() -> None:
    year = _first_unknown_year()
    march = date(year, 3, 1)
    monday = march + timedelta(days=(7 - march.weekday()) % 7)
    # Ten weekdays after a Monday is the Monday two weeks later.
    assert deadline_after(beijing(monday)) == (
        monday + timedelta(days=14),
        DeadlineBasis.WEEKDAYS_ESTIMATE,
    )


def test_a_deadline_running_into_an_unknown_year_is_an_estimate() -> None:
    last_known = date(_first_unknown_year() - 1, 12, 31)
    assert is_working_day(last_known)[1] is True
    due, basis = deadline_after(beijing(last_known - timedelta(days=5)))
    assert due.year == last_known.year + 1
    assert basis is DeadlineBasis.WEEKDAYS_ESTIMATE


def test_a_deadline_inside_known_years_is_official() -> None:
    assert deadline_after(beijing(date(2025, 12, 1)))[1] is DeadlineBasis.OFFICIAL


def test_end_of_day_is_midnight_in_beijing() -> None:
    assert end_of_day(date(2026, 3, 17)) == datetime(2026, 3, 17, 16, tzinfo=UTC)
