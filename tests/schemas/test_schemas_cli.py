"""`govbus schemas check` as a user runs it, against a private copy of schemas/."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from govbus._settings import REPO_ROOT

GOVBUS = [sys.executable, "-c", "from govbus.cli import main; main()"]


def run_check(schemas: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*GOVBUS, "schemas", "check", "--schemas-dir", str(schemas)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO_ROOT,
    )


def write_v3(schemas: Path, change: str) -> None:
    v2 = schemas / "avro" / "legal_entity_changed" / "v2.avsc"
    schema = json.loads(v2.read_text(encoding="utf-8"))
    data = next(f for f in schema["fields"] if f["name"] == "data")["type"][1]["fields"]
    name = next(f for f in data if f["name"] == "name")
    if change == "type":
        name["type"] = ["null", "long"]
    elif change == "rename":
        name["name"] = "full_name"
    elif change == "add":
        data.append({"name": "website", "type": ["null", "string"], "default": None})
    (v2.parent / "v3.avsc").write_text(json.dumps(schema, indent=2), encoding="utf-8")


def test_shipped_schemas_pass(schemas_copy: Path) -> None:
    result = run_check(schemas_copy)
    assert result.returncode == 0, result.stderr
    assert "legal_entity_changed FULL_TRANSITIVE" in result.stdout


def test_breaking_removal_names_file_and_field(schemas_copy: Path) -> None:
    old_v2 = schemas_copy / "avro" / "legal_entity_changed" / "v2.avsc"
    schema = json.loads(old_v2.read_text(encoding="utf-8"))
    data = next(f for f in schema["fields"] if f["name"] == "data")["type"][1]["fields"]
    del next(f for f in data if f["name"] == "name")["default"]
    # v2 had `name` without a default; v3 drops it: v2 readers cannot read v3 data.
    old_v2.write_text(json.dumps(schema), encoding="utf-8")
    shutil.copy(old_v2, old_v2.parent / "v3.avsc")
    v3 = old_v2.parent / "v3.avsc"
    schema3 = json.loads(v3.read_text(encoding="utf-8"))
    data3 = next(f for f in schema3["fields"] if f["name"] == "data")["type"][1]["fields"]
    data3[:] = [f for f in data3 if f["name"] != "name"]
    v3.write_text(json.dumps(schema3), encoding="utf-8")
    result = run_check(schemas_copy)
    assert result.returncode == 1
    assert (
        "legal_entity_changed/v3.avsc: field data.name: removed without a default; "
        "v2 readers cannot read" in result.stderr
    )


def test_type_change_is_refused(schemas_copy: Path) -> None:
    write_v3(schemas_copy, "type")
    result = run_check(schemas_copy)
    assert result.returncode == 1
    assert "legal_entity_changed/v3.avsc: field data.name: " in result.stderr
    assert "union[null, long]" in result.stderr


def test_rename_without_alias_is_refused(schemas_copy: Path) -> None:
    write_v3(schemas_copy, "rename")
    result = run_check(schemas_copy)
    assert result.returncode == 1
    assert "legal_entity_changed/v3.avsc: field data.full_name:" in result.stderr
    assert "aliases" in result.stderr


def test_additive_change_is_accepted(schemas_copy: Path) -> None:
    write_v3(schemas_copy, "add")
    catalog = schemas_copy / "catalog.yaml"
    anchor = "      - {name: tax_credit_rating,"
    website = "      - {name: website, authority: AMR, sharing: unconditional}\n"
    catalog.write_text(
        catalog.read_text(encoding="utf-8").replace(anchor, website + anchor), encoding="utf-8"
    )
    result = run_check(schemas_copy)
    assert result.returncode == 0, result.stderr
    assert "5 versions compatible" in result.stdout


def test_invalid_catalog_fails_the_gate(schemas_copy: Path) -> None:
    catalog = schemas_copy / "catalog.yaml"
    catalog.write_text(
        catalog.read_text(encoding="utf-8").replace("authority: HRSS,", "", 1), encoding="utf-8"
    )
    result = run_check(schemas_copy)
    assert result.returncode == 1
    assert "INVALID_CATALOG" in result.stderr
    assert "fields[phone].authority" in result.stderr


def test_unparseable_schema_names_the_file(schemas_copy: Path) -> None:
    (schemas_copy / "avro" / "person_changed" / "v2.avsc").write_text("{", encoding="utf-8")
    result = run_check(schemas_copy)
    assert result.returncode == 1
    assert "person_changed/v2.avsc" in result.stderr
