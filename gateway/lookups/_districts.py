"""`household_district`: is a household address in the county of a six-digit address code?

The names come from python-stdnum's `cn/loc` database (the one the core's identity-number
checks use): the province's name and the county's current name. An address is in the
county when it starts with the province's name and then, after at most one prefecture-level
name (…市, …州, …盟, …地区), with the county's: "四川省成都市武侯区…" is in 510107.
"""

from __future__ import annotations

import re
from functools import cache

from stdnum import numdb

_PREFECTURE = r"(?:[^省市区县旗]{1,10}?(?:市|州|盟|地区))?"
_YEARS = re.compile(r"^\[(\d*)-(\d*)\]")


@cache
def district_pattern(code: str) -> re.Pattern[str] | None:
    """The addresses of county `code` (six ASCII digits) as a pattern; None: not a county."""
    if len(code) != 6 or not code.isascii() or not code.isdigit():
        return None
    province = county = None
    for _part, props in numdb.get("cn/loc").info(code):
        province = props.get("province", province)
        county = props.get("county", county)
    if not province or not county:
        return None
    current = [
        _YEARS.sub("", name)
        for name in county.split(",")
        if not (m := _YEARS.match(name)) or not m.group(2)  # no end year: in force
    ]
    if not current:
        return None
    names = "|".join(re.escape(n) for n in current)
    return re.compile(f"^{re.escape(province)}{_PREFECTURE}(?:{names})")


def in_district(address: object, code: str) -> bool:
    pattern = district_pattern(code)
    return isinstance(address, str) and pattern is not None and bool(pattern.match(address))
