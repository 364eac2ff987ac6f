"""LaTeX tables with booktabs rules, ready to `\\input` into a paper."""

from __future__ import annotations

from egobench.report.table import ReportTable, format_number

# Characters that LaTeX reads as commands, or that the default OT1 font encoding prints as other glyphs.
_REPLACEMENTS = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "|": r"\textbar{}",
    '"': r"\textquotedbl{}",
    "`": r"\textasciigrave{}",
    "'": r"\textquotesingle{}",
}

MISSING = "--"


def escape_latex(text: str) -> str:
    """Return `text` so that LaTeX prints it literally in text mode.

    A hyphen before another hyphen gets an empty group, so "a--b" is not joined into an en dash.
    NOTE: non-ASCII characters pass through unescaped. pdflatex 2022 (TeX Live, Debian 12) prints
    accented Latin letters but stops at symbols its default fonts lack, such as emoji or CJK.
    """
    pieces = []
    for index, character in enumerate(text):
        if character == "-" and text[index + 1 : index + 2] == "-":
            pieces.append("-{}")
        else:
            pieces.append(_REPLACEMENTS.get(character, character))
    return "".join(pieces)


def render_latex(table: ReportTable) -> str:
    """Return a `table` environment: one row per run, the best value per column in bold.

    The fragment needs `\\usepackage{booktabs}`, and `\\usepackage{amssymb}` for the ablation marks.
    """
    header = ["Method"]
    header += [escape_latex(column.title) for column in table.settings]
    header += [f"{escape_latex(metric.title)} {_arrow(metric.higher_is_better)}" for metric in table.metrics]
    header.append("$N$")

    best = {metric.name: table.best_rows(metric.name) for metric in table.metrics}
    body = []
    for index, row in enumerate(table.rows):
        cells = [escape_latex(row.label)]
        cells += [_setting_cell(row.settings[column.key]) for column in table.settings]
        for metric in table.metrics:
            cells.append(_score_cell(row.scores[metric.name], index in best[metric.name], table.show_ci))
        cells.append(str(row.count))
        body.append("    " + " & ".join(cells) + r" \\")

    spec = "l" + "c" * len(table.settings) + "r" * len(table.metrics) + "r"
    needs = "\\usepackage{booktabs} and \\usepackage{amssymb}" if table.settings else "\\usepackage{booktabs}"
    lines = [f"% Written by `egobench report`; needs {needs}.", r"\begin{table}[t]", r"  \centering"]
    # Papers set table captions above the table.
    if table.caption:
        lines.append(rf"  \caption{{{escape_latex(table.caption)}}}")
    lines += [
        rf"  \begin{{tabular}}{{{spec}}}",
        r"    \toprule",
        "    " + " & ".join(header) + r" \\",
        r"    \midrule",
        *body,
        r"    \bottomrule",
        r"  \end{tabular}",
        r"\end{table}",
    ]
    return "\n".join(lines) + "\n"


def _arrow(higher_is_better: bool) -> str:
    return r"$\uparrow$" if higher_is_better else r"$\downarrow$"


def _score_cell(score, bold: bool, show_ci: bool) -> str:
    text = format_number(score.mean)
    if text is None:
        return MISSING
    if bold:
        text = rf"\textbf{{{text}}}"
    if show_ci and score.has_interval:
        text += rf" {{\scriptsize [{format_number(score.ci_low)}, {format_number(score.ci_high)}]}}"
    return text


def _setting_cell(value) -> str:
    if value is True:
        return r"\checkmark"
    if value is False:
        return r"$\times$"
    if value is None:
        return MISSING
    return escape_latex(str(value))
