"""Dependencies point down only: cogs -> services -> domain; db never imports cogs."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def imported_modules(package: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in (ROOT / package).rglob("*.py"):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module)
        found[str(path.relative_to(ROOT))] = names
    return found


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("bot/domain", ("discord", "sqlalchemy", "db", "cogs", "bot.services", "aiohttp")),
        ("bot/services", ("discord", "cogs")),
        ("db", ("cogs", "discord", "bot")),
    ],
)
def test_layer_imports(package: str, forbidden: tuple[str, ...]) -> None:
    """Lower layers never import the layers above them (or Discord, for the core rules)."""
    offenders = [
        f"{path} imports {name}"
        for path, names in imported_modules(package).items()
        for name in names
        if any(name == bad or name.startswith(bad + ".") for bad in forbidden)
    ]
    assert offenders == []


# Pure computation, no I/O: allowed in the rules layer (recurrence via dateutil.rrule, as the
# project's dependency policy asks, rather than hand-written month arithmetic).
DOMAIN_MAY_IMPORT = {"bot", "dateutil", "networkx"}


def test_domain_uses_only_the_standard_library() -> None:
    """The rules layer depends on nothing but the standard library (and the allow-list)."""
    offenders = [
        f"{path} imports {name}"
        for path, names in imported_modules("bot/domain").items()
        for name in names
        if name.split(".")[0] not in sys.stdlib_module_names | DOMAIN_MAY_IMPORT
        and name != "__future__"
    ]
    assert offenders == []


def test_domain_never_reads_the_clock() -> None:
    """Rules get `now` as a parameter so they can be tested at any moment."""
    offenders = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "bot/domain").rglob("*.py")
        if any(call in path.read_text() for call in ("datetime.now(", ".utcnow(", "time.time("))
    ]
    assert offenders == []
