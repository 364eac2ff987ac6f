"""Markdown tables (GitHub's pipe syntax) for READMEs, pull requests and issue comments."""

from __future__ import annotations

import re

from egobench.report.table import ReportTable, format_number

MISSING = "–"

# Characters that start emphasis, code, links or HTML, or end a cell.
_SPECIAL = re.compile(r"([\\`*_{}\[\]<>|#!])")


def escape_markdown(text: str) -> str:
    """Return `text` with Markdown's special characters backslash-escaped and line breaks turned into spaces."""
    return _SPECIAL.sub(r"\\\1", " ".join(text.splitlines()))


def render_markdown(table: ReportTable) -> str:
    """Return a pipe table: one row per run, the best value per column in bold, 95% intervals on request."""
    header = ["Method"]
    header += [escape_markdown(column.title) for column in table.settings]
    header += [f"{escape_markdown(metric.title)} {'↑' if metric.higher_is_better else '↓'}" for metric in table.metrics]
    header.append("N")
    align = [":--"] + [":-:"] * len(table.settings) + ["--:"] * (len(table.metrics) + 1)

    best = {metric.name: table.best_rows(metric.name) for metric in table.metrics}
    lines = [_line(header), _line(align)]
    for index, row in enumerate(table.rows):
        cells = [escape_markdown(row.label)]
        cells += [_setting_cell(row.settings[column.key]) for column in table.settings]
        for metric in table.metrics:
            cells.append(_score_cell(row.scores[metric.name], index in best[metric.name], table.show_ci))
        cells.append(str(row.count))
        lines.append(_line(cells))

    if table.caption:
        lines = [escape_markdown(table.caption), ""] + lines
    return "\n".join(lines) + "\n"


def _line(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _score_cell(score, bold: bool, show_ci: bool) -> str:
    text = format_number(score.mean)
    if text is None:
        return MISSING
    if bold:
        text = f"**{text}**"
    if show_ci and score.has_interval:
        text += f" [{format_number(score.ci_low)}, {format_number(score.ci_high)}]"
    return text


def _setting_cell(value) -> str:
    if value is True:
        return "✓"
    if value is False:
        return "✗"
    if value is None:
        return MISSING
    return escape_markdown(str(value))
