"""The `egobench` command line."""

from __future__ import annotations

import sys

import click

from egobench import __version__
from egobench.errors import EgobenchError
from egobench.logs import setup_logging


class _Group(click.Group):
    """Turns an `EgobenchError` into one line on stderr and its exit code, without a traceback."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except EgobenchError as error:
            click.echo(f"error: {error}", err=True)
            sys.exit(error.exit_code)


@click.group(cls=_Group)
@click.version_option(__version__, prog_name="egobench")
@click.option("-v", "--verbose", count=True, help="Show debug log lines.")
def main(verbose: int) -> None:
    """Run, measure and compare personalized image editing methods."""
    setup_logging(verbose)


from egobench.report.cli import compare_command, report_command  # noqa: E402

main.add_command(report_command)
main.add_command(compare_command)
