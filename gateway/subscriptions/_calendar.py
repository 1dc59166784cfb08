"""The provider's deadline: 10 working days by the official Chinese calendar.

Working days come from the `chinese-calendar` package, which follows the State Council's
yearly holiday notice, make-up working days (调休) included: a Saturday worked in lieu is a
working day, a weekday inside a holiday is not. Dates are China Standard Time (UTC+8, no
daylight saving since 1991).

The package knows only the years whose notice was published (it raises for the others).
For a day outside them the count falls back to Monday-Friday and the deadline is flagged
`weekdays_estimate`, so both sides see that it may move once the notice is out.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from enum import StrEnum

import chinese_calendar

CHINA = timezone(timedelta(hours=8), "CST")
WORKING_DAYS = 10


class DeadlineBasis(StrEnum):
    OFFICIAL = "official"  # every counted day is in the official calendar
    WEEKDAYS_ESTIMATE = "weekdays_estimate"  # some day fell outside it: Monday-Friday counted


def is_working_day(day: date) -> tuple[bool, bool]:
    """(working day?, by the official calendar?) for one date."""
    try:
        return bool(chinese_calendar.is_workday(day)), True
    except NotImplementedError:  # the package has no notice for this year
        return day.weekday() < 5, False


def china_date(moment: datetime) -> date:
    return moment.astimezone(CHINA).date()


def end_of_day(day: date) -> datetime:
    """The first instant after `day` in China (the moment a deadline or expiry passes)."""
    return datetime.combine(day + timedelta(days=1), time(), tzinfo=CHINA)


def deadline_after(requested_at: datetime, days: int = WORKING_DAYS) -> tuple[date, DeadlineBasis]:
    """The last day the provider may decide: the `days`-th working day after the request day.

    The request day itself does not count, whatever time it was made.
    """
    day = china_date(requested_at)
    counted, official = 0, True
    while counted < days:
        day += timedelta(days=1)
        working, known = is_working_day(day)
        official = official and known
        counted += working
    return day, DeadlineBasis.OFFICIAL if official else DeadlineBasis.WEEKDAYS_ESTIMATE
