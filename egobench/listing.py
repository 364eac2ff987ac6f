"""`egobench list methods`: every preset with its method and whether it can run on this machine.

The method registry is imported inside the functions, because importing it loads torch and
diffusers, and every other command would pay for that at start-up.
"""

from __future__ import annotations

import inspect
import json
from dataclasses import asdict, dataclass

import click
from rich.console import Console
from rich.table import Table

from egobench.config import list_presets, load_preset
from egobench.errors import EgobenchError

READY = "ready"


@dataclass(frozen=True)
class MethodStatus:
    """One row of the listing: a preset (or a registered method without one) and its status here."""

    preset: str
    method: str
    status: str
    step: str
    description: str


def method_statuses() -> list[MethodStatus]:
    """Return one row per preset in the preset folders, then one per registered method that has no preset."""
    from egobench.methods import method_class, registered_methods

    rows = []
    named_by_presets = set()
    for preset in list_presets():
        try:
            config = load_preset(preset)
            cls = method_class(config["method"])
        except EgobenchError as error:
            rows.append(MethodStatus(preset, "?", "invalid preset", str(error), ""))
            continue
        named_by_presets.add(cls.name)
        rows.append(_row(preset, cls, config))

    for name, cls in sorted(registered_methods().items()):
        if name not in named_by_presets:
            rows.append(_row("", cls, {"method": name}))
    return rows


def _row(preset: str, cls: type, config: dict) -> MethodStatus:
    ready, step = check_availability(cls, config)
    status = READY if ready else getattr(cls, "missing_status", "needs weights")
    description = config.get("description") or _summary(cls)
    return MethodStatus(preset, cls.name, status, "" if ready else step, description)


def check_availability(cls: type, config: dict) -> tuple[bool, str]:
    """Call `cls.availability` with the preset's settings."""
    return cls.availability(config)


def _summary(cls: type) -> str:
    doc = inspect.getdoc(cls) or ""
    return doc.splitlines()[0] if doc else ""


@click.group("list")
def list_group() -> None:
    """List what egobench can run here."""


@list_group.command("methods")
@click.option("--json", "as_json", is_flag=True, help="Print the rows, with descriptions, as a JSON list instead of a table.")
def list_methods(as_json: bool) -> None:
    """Show every method preset, whether it can run here and, if not, the step that makes it available."""
    rows = method_statuses()
    if as_json:
        click.echo(json.dumps([asdict(row) for row in rows], indent=2))
        return

    table = Table(show_lines=False)
    # Cells stay on one line each, so that every row can be found by grep. The steps follow the
    # table as whole lines, because a narrow column would break them mid-word.
    for column in ("preset", "method", "status"):
        table.add_column(column, no_wrap=True)
    for row in rows:
        style = "green" if row.status == READY else "yellow"
        table.add_row(row.preset or "-", row.method, f"[{style}]{row.status}[/{style}]")

    console = Console()
    console.print(table)
    steps = [row for row in rows if row.status != READY]
    if steps:
        console.print("To make a method available:")
        for row in steps:
            console.print(f"  {row.preset or row.method}: {row.step}", markup=False, highlight=False, soft_wrap=True)
