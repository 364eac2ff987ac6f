"""CSV tables for spreadsheets and scripts: every number at full precision, with its interval and count."""

from __future__ import annotations

import csv
import io
import math

from egobench.report.table import ReportTable


def render_csv(table: ReportTable) -> str:
    """Return one row per run: label, method, run folder, pairs, then mean, ci_low, ci_high, count per metric.

    Empty cells mean "not computed". Unlike the printed tables, numbers are not rounded and the
    intervals are always present, because a script reading the file should not lose precision.
    """
    header = ["label", "method", "run", "pairs"]
    header += [column.key for column in table.settings]
    for metric in table.metrics:
        header += [metric.name, f"{metric.name}_ci_low", f"{metric.name}_ci_high", f"{metric.name}_count"]

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for row in table.rows:
        cells = [row.label, row.run.method, str(row.run.path), row.count]
        cells += [_setting_cell(row.settings[column.key]) for column in table.settings]
        for metric in table.metrics:
            score = row.scores[metric.name]
            cells += [_number(score.mean), _number(score.ci_low), _number(score.ci_high), score.count]
        writer.writerow(cells)
    return buffer.getvalue()


def _number(value: float) -> str:
    return "" if math.isnan(value) else repr(float(value))


def _setting_cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
