"""Modules imported at their first use: what keeps ``import app``, each Lambda's cold start, short.

Every function imports ``app``, yet each handler touches a part of it: the REST routes reach
pynamodb and botocore only through a service, the SQS worker alone needs Powertools' batch and
idempotency utilities, signup and login alone argon2. So wherever wiring meets a service (``app.py``
meets ``chalicelib.notify``, a blueprint its service, the middleware the token store), it holds
the service as ``lazy.module(name)``: a stand-in that imports the module at its first attribute
read, under the import system's own per-module lock (so two threads never run it twice). Written as

    if TYPE_CHECKING:
        from chalicelib.accounts import service
    else:
        service = lazy.module("chalicelib.accounts.service")

so that mypy checks every call as if the import were plain. ``bench/cold_start_bench.py`` measures
the import; ``tests/unit/test_cold_start.py`` keeps these libraries out of it.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any


class _Deferred:
    __slots__ = ("_lazy_name",)

    def __init__(self, name: str) -> None:
        object.__setattr__(self, "_lazy_name", name)

    def _lazy_target(self) -> ModuleType:
        # Once imported, a dictionary look-up in sys.modules.
        return importlib.import_module(self._lazy_name)

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._lazy_target(), attr)

    def __setattr__(self, attr: str, value: Any) -> None:
        setattr(self._lazy_target(), attr, value)

    def __delattr__(self, attr: str) -> None:
        delattr(self._lazy_target(), attr)

    def __repr__(self) -> str:
        return f"<lazy module {self._lazy_name!r}>"


def module(name: str) -> Any:
    """The module ``name``, imported when one of its attributes is first read (or set)."""
    return _Deferred(name)
