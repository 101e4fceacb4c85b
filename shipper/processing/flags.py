"""The processing flags of ``logwrap`` and ``shipper send``, with the order they were given in.

Click collects each repeatable option into its own tuple, which loses the order between
``--drop`` and ``--rename``; the filters must run in the order given, so ``OrderedCommand``
keeps the order in which the parser met the options.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from .options import FILTER_FLAGS, ProcessingOptions

F = TypeVar("F", bound=Callable[..., Any])
_ORDER = "shipper.option_order"
_NAMES = {flag: flag[2:].replace("-", "_") for flag in FILTER_FLAGS}


class OrderedCommand(click.Command):
    """A command that records, in ``ctx.meta``, the name of each option as the parser met it."""

    def make_parser(self, ctx: click.Context) -> Any:
        parser = super().make_parser(ctx)
        parse = parser.parse_args

        def parse_args(args: list[str]) -> Any:
            opts, rest, order = parse(args)
            ctx.meta[_ORDER] = [param.name for param in order]
            return opts, rest, order

        parser.parse_args = parse_args  # type: ignore[method-assign]
        return parser


class _OnePerLine(click.types.StringParamType):
    """A repeatable option's environment variable holds one value per line: a value or a regex
    may hold spaces, which Click's default (split on whitespace) would cut into several."""

    def split_envvar_value(self, rv: str) -> list[str]:
        return [line for line in (rv or "").splitlines() if line.strip()]


_LINES = _OnePerLine()

_OPTIONS = [
    click.option("--parse", "parse", multiple=True, type=_LINES, metavar="NAME",
                 help="Parse lines that are not JSON: logfmt, regex:PATTERN, nginx, apache, gunicorn or "
                      "python. Repeat: the first that matches wins."),
    click.option("--types", metavar="FIELD:TYPE,...", help="Type parsed fields: int, float or bool."),
    click.option("--time-format", metavar="STRFTIME",
                 help="Format of a parsed time field (like %d/%b/%Y:%H:%M:%S %z): it becomes the event "
                      "time."),
    click.option("--drop", multiple=True, type=_LINES, metavar="FIELD=VALUE|FIELD~REGEX",
                 help="Leave out matching records."),
    click.option("--keep", multiple=True, type=_LINES, metavar="FIELD=VALUE|FIELD~REGEX",
                 help="Keep only matching records."),
    click.option("--rename", multiple=True, type=_LINES, metavar="OLD=NEW", help="Rename a field."),
    click.option("--remove", multiple=True, type=_LINES, metavar="FIELD", help="Remove a field."),
    click.option("--redact-keys", multiple=True, type=_LINES, metavar="WORDS",
                 help="Mask the values of keys containing these comma-separated words, at any depth."),
    click.option("--redact-pattern", multiple=True, type=_LINES, metavar="NAME=REGEX|NAME",
                 help="Mask what REGEX finds in string values; built in: credit-card, bearer-token, "
                      "aws-access-key."),
    click.option("--throttle", metavar="N/s|N/m[:BURST]",
                 help="Ship at most N records a second (or minute) per stream; the rest are counted."),
]


def processing_options(func: F) -> F:
    """Add the parsing and filtering options."""
    for option in reversed(_OPTIONS):
        func = option(func)
    return func


def processing_config(values: dict[str, Any]) -> ProcessingOptions:
    """``ProcessingOptions`` from the values of ``processing_options``, filters in the order given.

    ``values`` are the command's keyword arguments; the ones used here are taken out of it."""
    given = {flag: list(values.pop(name)) for flag, name in _NAMES.items()}
    order = click.get_current_context().meta.get(_ORDER, [])
    filters = []
    for name in order:
        flag = f"--{name.replace('_', '-')}" if name else ""
        if given.get(flag):
            filters.append((flag, given[flag].pop(0)))
    filters += [(flag, value) for flag, rest in given.items() for value in rest]  # from the environment
    return ProcessingOptions(parse=tuple(values.pop("parse")), types=values.pop("types"),
                             time_format=values.pop("time_format"), filters=tuple(filters),
                             throttle=values.pop("throttle"))
