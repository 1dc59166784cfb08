"""Roles may add commands to one group (`govbus admin`): same-name groups merge at any depth."""

from __future__ import annotations

import typer

from govbus.cli import _merge_groups


def _group(name: str, sub: str, command: str) -> typer.Typer:
    group, inner = typer.Typer(name=name), typer.Typer(name=sub)
    group.add_typer(inner)
    inner.command(command)(lambda: None)
    return group


def test_same_name_groups_merge_with_their_subgroups() -> None:
    root = typer.Typer()
    root.add_typer(_group("admin", "acls", "sync"))
    root.add_typer(_group("admin", "acls", "plan"))
    root.add_typer(_group("admin", "tokens", "create"))
    root.add_typer(_group("store", "x", "get"))
    _merge_groups(root)
    assert [g.typer_instance.info.name for g in root.registered_groups] == ["admin", "store"]
    admin = root.registered_groups[0].typer_instance
    subgroups = {g.typer_instance.info.name: g.typer_instance for g in admin.registered_groups}
    assert sorted(subgroups) == ["acls", "tokens"]
    assert [c.name for c in subgroups["acls"].registered_commands] == ["sync", "plan"]
