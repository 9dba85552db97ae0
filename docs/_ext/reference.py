"""Griffe extension for the generated reference: what static analysis misses in alertthrottle.

Sphinx roles become Markdown. The docstrings say :class:`Decision` and
:meth:`feed` (they read well in a terminal and in ``help()``); mkdocstrings
renders Markdown, where those roles would show as literal text. Each role is
rewritten, before the docstring is parsed, into a cross-reference when the name
is a public object the reference pages render (a name in the ``__all__`` of
one of the public modules in ``PUBLIC``, or a public method of one of its
classes), and into plain inline code otherwise, so
a strict build never meets a dangling link.

Module constants documented Sphinx-style, with ``#:`` comments above them, get
those comments as their docstring. Classes made by ``attrs`` get the
``__init__`` signature attrs generates for them (static analysis cannot see it).
A class's bases leave out the package's internal classes (its private storage bases,
the engine's state).
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from typing import Any

import attrs
import griffe

#: The public modules the reference pages render, in lookup order: the package, then
#: its modules without a leading underscore (the CLI is a program, not an API).
PUBLIC = (
    "alertthrottle",
    *(
        f"alertthrottle.{module.name}"
        for module in pkgutil.iter_modules(importlib.import_module("alertthrottle").__path__)
        if not module.name.startswith("_") and module.name != "cli"
    ),
)
ROLE = re.compile(r":(?:py:)?(class|meth|func|attr|data|exc|mod|obj):`~?\.?([^`]+)`")


def _public_names() -> dict[str, str]:
    """Map each public name (``Name`` or ``Name.method``) to its rendered path."""
    found: dict[str, str] = {}
    for module_name in PUBLIC:
        try:
            module = importlib.import_module(module_name)
        except ImportError:  # a module whose extra is missing: link what we can
            continue
        for name in getattr(module, "__all__", ()):
            found.setdefault(name, f"{module_name}.{name}")
            value = getattr(module, name)
            if isinstance(value, type):
                for member in vars(value):
                    if not member.startswith("_") and callable(getattr(value, member, None)):
                        found.setdefault(f"{name}.{member}", f"{module_name}.{name}.{member}")
    return found


def _comment_docstring(obj: griffe.Object) -> griffe.Docstring | None:
    """The ``#:`` comment lines right above an attribute, as its docstring."""
    if obj.lineno is None or obj.filepath is None or isinstance(obj.filepath, list):
        return None
    if obj.filepath not in obj.lines_collection:
        return None
    lines = obj.lines_collection[obj.filepath]
    comment: list[str] = []
    index = obj.lineno - 2  # the line above the assignment, 0-based
    while index >= 0 and lines[index].lstrip().startswith("#:"):
        comment.insert(0, lines[index].lstrip()[2:].strip())
        index -= 1
    if not comment:
        return None
    return griffe.Docstring("\n".join(comment), lineno=index + 2, parent=obj)


def _runtime_class(cls: griffe.Class) -> type | None:
    """The class itself, imported, or None when it cannot be."""
    try:
        value: Any = importlib.import_module(cls.module.path)
        for part in cls.path.removeprefix(cls.module.path + ".").split("."):
            value = getattr(value, part)
    except (ImportError, AttributeError):
        return None
    return value if isinstance(value, type) else None


def _default(field: attrs.Attribute[Any], member: griffe.Object | None) -> str | griffe.Expr | None:
    """How a field's default reads in the signature: as the source writes it when it can."""
    if field.default is attrs.NOTHING:
        return None
    value = getattr(member, "value", None)
    if isinstance(value, griffe.ExprCall) and str(value.function).endswith(("field", "ib")):
        arguments = {a.name: a.value for a in value.arguments if isinstance(a, griffe.ExprKeyword)}
        if "default" in arguments:
            return arguments["default"]
        if "factory" in arguments:
            return f"{arguments['factory']}()"
    elif value is not None:
        return value
    if isinstance(field.default, attrs.Factory):
        return f"{getattr(field.default.factory, '__name__', 'factory')}()"
    return repr(field.default)


def _shown(parameter: griffe.Parameter, runtime: type | None) -> griffe.Parameter:
    """``parameter`` with a default named privately (``_NO_RECIPIENTS``) shown as its value."""
    default = parameter.default
    if default is None or not str(default).startswith("_") or runtime is None:
        return parameter
    value = inspect.signature(runtime).parameters[parameter.name].default
    return griffe.Parameter(
        parameter.name, annotation=parameter.annotation, kind=parameter.kind, default=repr(value)
    )


def _set_init(cls: griffe.Object, parameters: list[griffe.Parameter]) -> None:
    """Give ``cls`` an ``__init__(self, *parameters)``, for the signature the page shows."""
    self_ = griffe.Parameter("self", kind=griffe.ParameterKind.positional_or_keyword)
    init = griffe.Function(
        "__init__",
        lineno=0,
        endlineno=0,
        parent=cls,
        parameters=griffe.Parameters(self_, *parameters),
        returns="None",
    )
    cls.set_member("__init__", init)


def _add_attrs_inits(module_or_class: griffe.Module | griffe.Class, seen: set[str]) -> None:
    """Give every attrs class without a visible ``__init__`` the one attrs generated."""
    if module_or_class.path in seen:
        return
    seen.add(module_or_class.path)
    for member in list(module_or_class.members.values()):
        if member.is_alias or not (member.is_module or member.is_class):
            continue
        constructor = member.members.get("__new__") if member.is_class else None
        if isinstance(constructor, griffe.Function) and "__init__" not in member.members:
            # A class made by its __new__ (Alert): the signature is __new__'s, less cls.
            runtime = _runtime_class(member)
            _set_init(member, [_shown(p, runtime) for p in list(constructor.parameters)[1:]])
        if member.is_class and "__init__" not in member.members:
            runtime = _runtime_class(member)
            if runtime is not None and attrs.has(runtime):
                parameters = [
                    griffe.Parameter(
                        field.alias or field.name,
                        annotation=getattr(member.members.get(field.name), "annotation", None),
                        kind=griffe.ParameterKind.keyword_only
                        if field.kw_only
                        else griffe.ParameterKind.positional_or_keyword,
                        default=_default(field, member.members.get(field.name)),
                    )
                    for field in attrs.fields(runtime)
                    if field.init
                ]
                parameters.sort(key=lambda p: p.kind is griffe.ParameterKind.keyword_only)
                _set_init(member, parameters)
        _add_attrs_inits(member, seen)


class ReferenceExtension(griffe.Extension):
    """Roles to links, ``#:`` comments to docstrings, attrs signatures (see the module)."""

    def __init__(self) -> None:
        super().__init__()
        self._names = _public_names()

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        self.on_object(obj=pkg)  # the package itself gets no on_object call
        _add_attrs_inits(pkg, set())

    def _shown_base(self, base: str | griffe.Expr) -> bool:
        """Whether a base class is worth showing: not one of the package's internals."""
        path = str(getattr(base, "canonical_path", base))
        if not path.startswith("alertthrottle."):
            return not path.rpartition(".")[2].startswith("_")
        return path.rpartition(".")[2] in self._names

    def on_object(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if isinstance(obj, griffe.Class):
            # A private base (the plain slotted storage a frozen value is built in)
            # is how the class is made, not part of what a reader can use.
            obj.bases = [b for b in obj.bases if self._shown_base(b)]
        if obj.docstring is None and obj.is_attribute:
            obj.docstring = _comment_docstring(obj)
        if obj.docstring is None or ":" not in obj.docstring.value:
            return
        owner = obj if obj.is_class else obj.parent
        owner_name = owner.name if owner is not None and owner.is_class else None

        def rewrite(match: re.Match[str]) -> str:
            role, target = match.groups()
            target = target.removesuffix("()")
            shown = f"{target}()" if role in ("meth", "func") else target
            path = self._names.get(target)
            if path is None and owner_name and "." not in target:
                path = self._names.get(f"{owner_name}.{target}")
            return f"[`{shown}`][{path}]" if path else f"`{shown}`"

        obj.docstring.value = ROLE.sub(rewrite, obj.docstring.value)
