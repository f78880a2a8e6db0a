"""Training options declared once: each config field carries its flag's help, parser and group, and
each trainer's argparse is built from its config class (``add_options``) and read back into it
(``from_args``). The value parsers are ``stylecam.options``', so a bad number is one line naming
the flag before anything is read or created.
"""
from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Callable
from pathlib import Path

from stylecam.options import number

SHOWN = "%(default)s"      # argparse fills in the default in help texts


def option(default, help: str, parse: Callable | None = None, *, group: str, **argparse_kw):
    """A config field with its command-line flag (``--name-with-dashes``). ``default`` may be
    ``dataclasses.MISSING`` (a required flag); ``argparse_kw`` goes to ``add_argument`` as is, but for
    a switch (a bool), where ``negatable=True`` adds ``--no-NAME``."""
    meta = {"help": help, "parse": parse, "group": group, "kw": argparse_kw}
    if default is dataclasses.MISSING:
        return dataclasses.field(metadata={**meta, "kw": {**argparse_kw, "required": True}})
    if isinstance(default, (tuple, list)):
        return dataclasses.field(default_factory=lambda: tuple(default), metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def again(cls, name: str, default):
    """The field ``name`` of ``cls`` with another default (one trainer's recipe differs)."""
    f = next(f for f in dataclasses.fields(cls) if f.name == name)
    return dataclasses.field(default=default, metadata=f.metadata)


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def fraction(text: str) -> float:
    """A share in [0, 1)."""
    value = number(0, 1)(text)
    if value >= 1:
        raise argparse.ArgumentTypeError(f"{text}: must be less than 1")
    return value


def share(text: str) -> float:
    """A share in [0, 1]."""
    return number(0, 1)(text)


def weight(text: str) -> float:
    """A loss weight: finite, at least 0."""
    return number(0)(text)


def positive(text: str) -> float:
    return number(0, above=True)(text)


def count(text: str) -> int:
    """A whole number, at least 1."""
    return number(1, integer=True)(text)


def path(text: str) -> Path | None:
    return Path(text) if text else None


def add_options(p: argparse.ArgumentParser, cls, groups: tuple[str, ...]) -> None:
    """One flag per declared field of ``cls``, in ``groups`` (in that order; "" is the top level)."""
    made = {name: p if not name else p.add_argument_group(name) for name in groups}
    for f in dataclasses.fields(cls):
        if "help" not in f.metadata:
            continue
        m, kw = f.metadata, dict(f.metadata["kw"])
        g = made[m["group"]]
        if isinstance(f.default, bool):
            g.add_argument(flag(f.name), dest=f.name, action="store_true", default=f.default, help=m["help"])
            if kw.get("negatable"):
                g.add_argument(f"--no-{flag(f.name)[2:]}", dest=f.name, action="store_false",
                               help=f"the default: no {flag(f.name)}")
            continue
        default = f.default if f.default is not dataclasses.MISSING else None
        if f.default_factory is not dataclasses.MISSING:
            default = list(f.default_factory())
        g.add_argument(flag(f.name), dest=f.name, type=m["parse"], default=default, help=m["help"], **kw)


def from_args(cls, args: argparse.Namespace, **given):
    """The config of the parsed flags (``given`` overrides a value, e.g. a derived one)."""
    values = {}
    for f in dataclasses.fields(cls):
        if "help" not in f.metadata or f.name in given:
            continue
        value = getattr(args, f.name)
        values[f.name] = tuple(value) if isinstance(value, list) else value
    return cls(**values, **given)


def as_meta(cfg) -> dict:
    """JSON-friendly copy of a config (paths as strings)."""
    def plain(v):
        if isinstance(v, Path):
            return str(v)
        return [plain(x) for x in v] if isinstance(v, (tuple, list)) else v
    return {k: plain(v) for k, v in dataclasses.asdict(cfg).items()}
