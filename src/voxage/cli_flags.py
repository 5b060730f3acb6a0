"""Command-line flags derived from config dataclasses, so a default or a choice lives in one place (the field).

A field's `metadata` may hold `help`, `choices`, `flag` (another flag name), `parse` (a str -> value function
raising ValueError), `metavar`, and `cli: False` to keep it off the command line. Booleans that default to
True become `--no-NAME`; those that default to False become `--NAME`.
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from collections.abc import Callable, Iterable


def _value_type(hint) -> type:
    """`int | None` -> int; anything else as it is."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return next(a for a in typing.get_args(hint) if a is not type(None))
    return hint


def _parser(parse: Callable) -> Callable:
    def convert(text: str):
        try:
            return parse(text)
        except ValueError as err:
            raise argparse.ArgumentTypeError(str(err)) from None

    convert.__name__ = getattr(parse, "__name__", "value")
    return convert


def _default(f: dataclasses.Field):
    if f.default is not dataclasses.MISSING:
        return f.default
    return f.default_factory() if f.default_factory is not dataclasses.MISSING else None


def cli_fields(cls: type, only: Iterable[str] | None = None) -> list[dataclasses.Field]:
    chosen = set(only) if only is not None else None
    return [f for f in dataclasses.fields(cls) if f.metadata.get("cli", True) and f.init
            and (chosen is None or f.name in chosen)]


def add_flags(parser: argparse.ArgumentParser, cls: type, only: Iterable[str] | None = None) -> None:
    """One flag per field of `cls` (or of the fields named in `only`); the parsed value lands under the field name."""
    hints = typing.get_type_hints(cls)
    for f in cli_fields(cls, only):
        kind, default, meta = _value_type(hints[f.name]), _default(f), f.metadata
        name = meta.get("flag", f.name).replace("_", "-")
        shown = "" if default is None or default is True or default is False else \
            f" (default: {','.join(map(str, default)) if isinstance(default, tuple) else default})"
        if kind is bool:
            flag, action = (f"--no-{name}", "store_false") if default else (f"--{name}", "store_true")
            parser.add_argument(flag, dest=f.name, action=action, default=default,
                                help=("turn off: " if default else "") + meta.get("help", ""))
            continue
        parser.add_argument(f"--{name}", dest=f.name, type=_parser(meta.get("parse", kind)), default=default,
                            choices=meta.get("choices"), metavar=meta.get("metavar"),
                            help=meta.get("help", "") + shown)


def from_flags(cls: type, args: argparse.Namespace, only: Iterable[str] | None = None, **given):
    """An instance of `cls` from what `add_flags` parsed, plus `given` values for fields not on the command line."""
    return cls(**{f.name: getattr(args, f.name) for f in cli_fields(cls, only)}, **given)
