"""Result objects back from their JSON: one generic reader driven by the classes' type hints.

Every result a command writes (``summary.json``, ``evaluation.json``, ``limits.json``) is a
frozen dataclass turned into plain JSON by its ``to_dict()``. :func:`from_dict` is the inverse:
it walks the class's type hints and rebuilds the same object, nested results, tuples, optional
fields and dicts included, so report, history, regress, plan and the console all read the very
objects the analysis produced and none of them re-derives a figure from loose dicts.

Rules of the mapping (what ``to_dict`` must keep for the round trip to hold):

* a dataclass is a JSON object of its fields; a field missing from the object takes the field's
  default (how a file written before the field existed still reads), otherwise it is an error;
  keys the class does not know are ignored (a newer file's additions);
* ``X | None`` is null or an ``X``; ``tuple[X, ...]`` and fixed ``tuple[A, B]`` are JSON arrays;
  ``dict[K, V]`` is an object whose keys are turned back into ``K`` (``int`` keys from strings);
* ``float`` accepts integers (JSON writes ``2.0`` as ``2``); ``Any`` and ``object`` stay as read;
* a class with a ``from_dict`` classmethod of its own (a layout that is not one field per key,
  such as :class:`~auraon_bench.analysis.stats.Percentiles`) is read by that method.

A value of the wrong shape raises :class:`~auraon_bench.errors.ResultFileError` naming the file
and the dotted path of the field, never a ``KeyError`` deep inside a report.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import functools
import pathlib
import types
import typing
from typing import Any, TypeVar

from auraon_bench.errors import ResultFileError

T = TypeVar("T")

__all__ = ["build_fields", "from_dict"]


def from_dict(cls: type[T], data: Any, *, source: str | None = None, where: str = "") -> T:
    """``cls`` rebuilt from ``data`` (the output of its ``to_dict()``)."""
    return _convert(cls, data, source, where or cls.__name__)


def holds_file(path: Any, name: str) -> bool:
    """Whether ``path`` is a directory holding the file ``name``, or that file itself."""
    path = pathlib.Path(path)
    return (path / name).is_file() or (path.name == name and path.is_file())


def directory_of(path: Any, name: str) -> pathlib.Path:
    """The directory of a result file ``name`` given the file or its directory."""
    path = pathlib.Path(path)
    return path.parent if path.name == name and path.is_file() else path


def read_typed_file(cls: type[T], path: Any, name: str) -> T:
    """The JSON file ``name`` (in the directory ``path``, or ``path`` itself) as ``cls``;
    ``ConfigError`` naming the file when it cannot be read."""
    import orjson

    from auraon_bench.errors import ConfigError

    path = pathlib.Path(path)
    file = path / name if path.is_dir() else path
    try:
        data = orjson.loads(file.read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        raise ConfigError(f"cannot read {file}: {exc}") from None
    return from_dict(cls, data, source=str(file))


def build_fields(
    cls: type[T], data: Any, *, source: str | None = None, where: str = "", **overrides: Any
) -> T:
    """The generic field-by-field construction, for a ``from_dict`` that adjusts a few fields.

    ``overrides`` are already-converted values for fields whose JSON layout is special.
    """
    where = where or cls.__name__
    if not isinstance(data, dict):
        raise _error(f"expected an object, got {type(data).__name__}", source, where)
    hints = _hints(cls)
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if not f.init:
            continue
        if f.name in overrides:
            values[f.name] = overrides[f.name]
        elif f.name in data:
            values[f.name] = _convert(hints[f.name], data[f.name], source, f"{where}.{f.name}")
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise _error("missing", source, f"{where}.{f.name}")
    return cls(**values)


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _error(message: str, source: str | None, where: str) -> ResultFileError:
    return ResultFileError(message, source=source, field=where)


def _convert(hint: Any, value: Any, source: str | None, where: str) -> Any:
    if hint is Any or hint is object:
        return value
    origin = typing.get_origin(hint)
    if origin is typing.Union or origin is types.UnionType:
        args = typing.get_args(hint)
        if value is None:
            if type(None) in args:
                return None
            raise _error("must not be null", source, where)
        others = [a for a in args if a is not type(None)]
        if len(others) == 1:
            return _convert(others[0], value, source, where)
        for option in others:  # the first shape that fits
            try:
                return _convert(option, value, source, where)
            except ResultFileError:
                continue
        raise _error(f"{value!r} fits none of {hint}", source, where)
    if value is None and hint is not float:
        raise _error("must not be null", source, where)
    if origin is tuple:
        return _tuple(hint, value, source, where)
    if origin in (dict, collections.abc.Mapping):
        key_hint, value_hint = typing.get_args(hint) or (Any, Any)
        if not isinstance(value, dict):
            raise _error(f"expected an object, got {type(value).__name__}", source, where)
        return {
            _key(key_hint, k, source, where): _convert(value_hint, v, source, f"{where}.{k}")
            for k, v in value.items()
        }
    if origin is list:
        (item,) = typing.get_args(hint) or (Any,)
        return [_convert(item, v, source, f"{where}[{i}]") for i, v in enumerate(_seq(value))]
    if origin is typing.Literal:
        if value not in typing.get_args(hint):
            raise _error(f"{value!r} is not one of {typing.get_args(hint)}", source, where)
        return value
    if isinstance(hint, type):
        return _scalar_or_class(hint, value, source, where)
    return value  # a hint we cannot check (a TypeVar, a string left unresolved): keep the value


def _tuple(hint: Any, value: Any, source: str | None, where: str) -> tuple[Any, ...]:
    items = _seq(value, source, where)
    args = typing.get_args(hint)
    if len(args) == 2 and args[1] is Ellipsis:
        return tuple(_convert(args[0], v, source, f"{where}[{i}]") for i, v in enumerate(items))
    if not args:
        return tuple(items)
    if len(args) != len(items):
        raise _error(f"expected {len(args)} items, got {len(items)}", source, where)
    pairs = enumerate(zip(args, items, strict=True))
    return tuple(_convert(a, v, source, f"{where}[{i}]") for i, (a, v) in pairs)


def _seq(value: Any, source: str | None = None, where: str = "") -> list[Any]:
    if not isinstance(value, list | tuple):
        raise _error(f"expected an array, got {type(value).__name__}", source, where)
    return list(value)


def _key(hint: Any, key: str, source: str | None, where: str) -> Any:
    if hint is int:
        try:
            return int(key)
        except ValueError:
            raise _error(f"key {key!r} is not an integer", source, where) from None
    if hint is float:
        return float(key)
    return key


def _scalar_or_class(cls: type, value: Any, source: str | None, where: str) -> Any:
    custom = getattr(cls, "from_dict", None)
    if custom is not None and callable(custom):
        return custom(value, source=source, where=where)
    if dataclasses.is_dataclass(cls):
        return build_fields(cls, value, source=source, where=where)
    if cls is bool:
        if isinstance(value, bool):
            return value
        raise _error(f"expected true or false, got {value!r}", source, where)
    if cls is float:
        if value is None:  # JSON has no NaN: to_dict writes an undefined float as null
            return float("nan")
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        raise _error(f"expected a number, got {value!r}", source, where)
    if cls is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise _error(f"expected an integer, got {value!r}", source, where)
    if cls is str:
        if isinstance(value, str):
            return value
        raise _error(f"expected a string, got {value!r}", source, where)
    if isinstance(value, cls):
        return value
    try:
        return cls(value)
    except (TypeError, ValueError) as exc:
        raise _error(f"not a {cls.__name__}: {exc}", source, where) from None
