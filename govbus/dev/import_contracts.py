"""An import-linter contract type for govbus's roles (`lint-imports`, in `make lint`).

The roles (producers, consumers, gateway) live inside the `govbus` package, so the stock
`private_modules` contract would let them import the core's `govbus._x` modules: those are
private to `govbus`, and a role is a descendant of it. This contract treats each listed
package as a package of its own: its modules may import private modules only from within
itself, and every other name through a public `__init__`.

Loaded by import-linter only (a dev dependency); nothing at run time imports this module.
"""

from __future__ import annotations

from typing import Any

import grimp
from importlinter import Contract, ContractCheck, fields, output


def _has_private_component(module: str) -> bool:
    return any(
        part.startswith("_") and not (part.startswith("__") and part.endswith("__"))
        for part in module.split(".")
    )


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(f"{package}.")


class PublicNamesOnlyContract(Contract):
    """Each of `packages` imports only public modules from outside itself.

    Configuration options:
        - packages: the packages (roles) to check, e.g. govbus.producers.
    """

    type_name = "public_names_only"

    packages = fields.ListField(subfield=fields.ModuleField())

    def check(self, graph: grimp.ImportGraph, verbose: bool) -> ContractCheck:
        illegal: list[dict[str, Any]] = []
        packages: list[Any] = self.packages  # type: ignore[assignment]
        for package in sorted(p.name for p in packages):
            importers = {package, *graph.find_descendants(package)}
            for importer in sorted(importers):
                for imported in sorted(graph.find_modules_directly_imported_by(importer)):
                    if _within(imported, package) or not _has_private_component(imported):
                        continue
                    details = graph.get_import_details(importer=importer, imported=imported)
                    illegal.append(
                        {
                            "importer": importer,
                            "imported": imported,
                            "line_numbers": [d["line_number"] for d in details],
                        }
                    )
        return ContractCheck(kept=not illegal, metadata={"illegal_imports": illegal})

    def render_broken_contract(self, check: ContractCheck) -> None:
        output.print_error(
            "These import a private module from outside their own package; import the "
            "name from the package's public __init__ instead:",
            bold=False,
        )
        output.new_line()
        for link in check.metadata["illegal_imports"]:
            lines = ", ".join(map(str, link["line_numbers"]))
            output.print_error(f"- {link['importer']} -> {link['imported']} (l.{lines})")
            output.new_line()
