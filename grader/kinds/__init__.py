"""The check-kind registry: every module in this package that defines `KIND` is a kind.

Adding a kind is adding one module here (its rubric keys, its load-time validation, its
judging) plus its tests; the rubric model, its JSON Schema and the judging loop pick it
up from this registry, and nothing else in the engine names a kind.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache

from .base import CheckKind


@cache
def registry() -> dict[str, CheckKind]:
    """Kind name -> kind, in a stable order (value first: it is the default)."""
    found: dict[str, CheckKind] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name == "base" or info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        kind = getattr(module, "KIND", None)
        if isinstance(kind, CheckKind):
            if kind.name in found:
                raise RuntimeError(f"two check kinds are called {kind.name!r}")
            found[kind.name] = kind
    return dict(sorted(found.items(), key=lambda item: (item[0] != "value", item[0])))


def get(name: str) -> CheckKind:
    return registry()[name]
