"""`govbus catalog export`: the catalog as a national catalog system reads it, JSON or CSV."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

from govbus._settings import REPO_ROOT

GOVBUS = [sys.executable, "-c", "from govbus.cli import main; main()"]
CORE = ("resource_id", "title", "abstract", "provider", "category", "metadata_id", "published")


def export(schemas: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*GOVBUS, "catalog", "export", "--schemas-dir", str(schemas), *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
        cwd=REPO_ROOT,
    )


def test_json_is_a_list_with_the_core_metadata_and_the_sharing_rules(schemas_copy: Path) -> None:
    result = export(schemas_copy, "--format", "json")
    assert result.returncode == 0, result.stderr
    entries = json.loads(result.stdout)
    assert isinstance(entries, list)
    assert [e["code"] for e in entries][:2] == ["BR-PERSON", "BR-LEGAL-ENTITY"]
    assert len(entries) == 7
    person = entries[0]
    for element in (*CORE, "keywords", "online_link", "services", "maintainer", "updated"):
        assert person[element] not in (None, "", []), element
    assert person["provider"] == "PSB" and person["provider_name"].startswith("公安局")
    assert person["category"] == {
        "code": "BR01",
        "name": "人口基础信息 (Population base information)",
    }
    assert person["published"] == "2026-01-05" and person["maintainer"] == "DATA"
    assert person["topic"] == "govbus.base.person" and person["update_cycle"] == "realtime"
    fields = {f["name"]: f for f in person["fields"]}
    assert fields["id_number"]["key"] is True
    assert fields["phone"]["sharing"] == "not_shared"
    assert fields["phone"]["mask"] == {"rule": "keep", "first": 3, "last": 4}
    assert fields["sex"]["mask"] is None


def test_csv_has_one_row_per_resource(schemas_copy: Path, tmp_path: Path) -> None:
    target = tmp_path / "catalog.csv"
    result = export(schemas_copy, "--format", "csv", "--output", str(target))
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert "7 resources" in result.stderr
    raw = target.read_bytes()
    assert b"\r\n" in raw and b"\r\r\n" not in raw
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8"), newline="")))
    assert len(rows) == 7
    assert {"resource_id", "title", "keywords", "services", "fields"} <= set(rows[0])
    by_code = {row["code"]: row for row in rows}
    marriage = by_code["EC-MARRIAGE"]
    assert marriage["resource_id"] == "EC01/000002"
    assert marriage["provider"] == "CAB"
    assert marriage["keywords"] == "电子证照; 结婚证"
    assert "kafka govbus.base.certificate" in marriage["services"]
    assert "holder_id=conditional/keep 6,4" in marriage["fields"]
    assert "attributes=not_shared" in marriage["fields"]


def test_an_invalid_catalog_is_one_error_line(schemas_copy: Path) -> None:
    catalog = schemas_copy / "catalog.yaml"
    text = catalog.read_text(encoding="utf-8")
    catalog.write_text(text.replace("    provider: TAX\n", "    provider: IRS\n"), encoding="utf-8")
    result = export(schemas_copy, "--format", "csv")
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error INVALID_CATALOG:"), result.stderr
    assert "resources[EC-TAX-CLEARANCE].provider: 'IRS' is not a department" in lines[0]


def test_an_unknown_format_is_a_usage_error(schemas_copy: Path) -> None:
    result = export(schemas_copy, "--format", "xml")
    assert result.returncode == 2
    assert result.stderr.startswith("error USAGE:")
