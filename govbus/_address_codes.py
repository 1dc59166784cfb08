"""When each GB/T 2260 address code was in force, from the data python-stdnum ships.

`stdnum/cn/loc.dat` lists, under each two-digit province, the four-digit county codes
with the names they had, e.g. `0112 county="[1997-]通州区"` or
`0110 county="[-1991]东郊区,[1992-]东丽区"`: a name without brackets has always been in
force; `[A-B]` means the years A to B, inclusive, either end open.

An identity number carries the code of the county where it was *issued*, which may be
years after the birth (GB 11643): a code is acceptable if it was in force at some time
between the birth year and today. The table keeps, per code, its first and last year in
force. Collapsing a code's periods to that span is exact for this question, because no
period in the data starts after today (the data are history), so if the last period ends
at or after the birth year, the code was in force some time in [birth year, today].
"""

from __future__ import annotations

from functools import cache

from stdnum import numdb

OPEN_START = 0
OPEN_END = 9999
"""The years an open end stands for: birth years in an identity number are four digits."""

YearSpan = tuple[int, int]


@cache
def address_code_spans() -> dict[int, YearSpan]:
    """Six-digit address code (as an int) -> (first year, last year) in force.

    Built once, on first use, from stdnum's `cn/loc` database (parsed by stdnum itself).
    """
    spans: dict[int, YearSpan] = {}
    for _, low, high, _, counties in numdb.get("cn/loc").prefixes:
        for province in range(int(low), int(high) + 1):
            for _, county_low, county_high, props, _ in counties:
                span = _span(props.get("county"))
                if span is None:
                    continue
                for county in range(int(county_low), int(county_high) + 1):
                    spans[province * 10_000 + county] = span
    return spans


def _span(names: str | None) -> YearSpan | None:
    """The span of `[A-B]name,[C-D]name,...`; None for an entry that names no county."""
    if not names:
        return None
    first, last = OPEN_END, OPEN_START
    for name in names.split(","):
        start, end = OPEN_START, OPEN_END
        if name.startswith("["):
            years = name[1 : name.index("]")]
            start_text, _, end_text = years.partition("-")
            start = int(start_text) if start_text else OPEN_START
            end = int(end_text) if end_text else OPEN_END
        first, last = min(first, start), max(last, end)
    return first, last
