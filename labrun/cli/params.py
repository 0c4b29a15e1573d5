"""``--param NAME=VALUE``: a value for one of the protocol's runtime parameters."""

from __future__ import annotations

import argparse


def add_param_option(parser: argparse.ArgumentParser) -> None:
    """Give ``parser`` a repeatable ``--param NAME=VALUE`` (``args.param``: a dict)."""
    parser.add_argument("--param", action=_Params, default={}, metavar="NAME=VALUE",
                        help="a value for one of the protocol's runtime parameters (its "
                             "add_parameters); for a CSV file, its path; repeatable")


class _Params(argparse.Action):
    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: object, option_string: str | None = None) -> None:
        text = str(values)
        name, equals, value = text.partition("=")
        name = name.strip()
        if not equals or not name:
            parser.error(f"--param {text!r}: give it as NAME=VALUE")
        given = dict(getattr(namespace, self.dest) or {})
        if name in given:
            parser.error(f"--param {name} is given twice")
        given[name] = value
        setattr(namespace, self.dest, given)
