"""Public faces: the names a package re-exports say they live there.

A class defined in ``alertthrottle._core.alert`` but used as
``alertthrottle.Alert`` should show that path in reprs, tracebacks, pickles
and documentation: the private layout is free to change, the public path is not.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import FunctionType

__all__ = ["publish"]


def publish(namespace: Mapping[str, object], module: str) -> None:
    """Set ``__module__`` to ``module`` for each class and function in ``namespace["__all__"]``.

    Only objects defined in a private module of the package are touched;
    type aliases (which have no ``__module__`` of their own) are left as they are.
    """
    names = namespace["__all__"]
    assert isinstance(names, list)
    for name in names:
        member = namespace[name]
        if isinstance(member, type | FunctionType):
            current = member.__module__
            if current.startswith("alertthrottle.") and "._" in current:
                member.__module__ = module
