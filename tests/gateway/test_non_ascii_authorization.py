"""A Basic credential that is not ASCII is a 401, never a 500 (base64 of a str raised)."""

from __future__ import annotations

from pathlib import Path

import pytest

from .principals_fixtures import gateway


@pytest.mark.parametrize("header", [b"Basic \x80", b" \x80", b"Basic \xc3\xa9t\xc3\xa9"])
def test_a_non_ascii_basic_credential_is_refused_as_unauthenticated(
    tmp_path: Path, header: bytes
) -> None:
    _, client = gateway(tmp_path)
    reply = client.post(
        "/subjects/person-value/versions",
        content=b"{}",
        headers={"content-type": "application/json", "authorization": header},
    )
    assert reply.status_code == 401, reply.text
    assert reply.json()["error_code"] == 40101 or reply.json()["error_code"] == "UNAUTHENTICATED"
