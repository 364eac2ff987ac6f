"""`egobench report` tables: LaTeX, Markdown and CSV from synthetic run folders."""

from __future__ import annotations

import csv
import io
import re
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from egobench.cli import main
from egobench.errors import ConfigError, InputError
from egobench.metrics.summary import bootstrap_interval, summarize
from egobench.report.csv_table import render_csv
from egobench.report.latex import escape_latex, render_latex
from egobench.report.markdown import render_markdown
from egobench.report.runs import load_run
from egobench.report.table import build_table, parse_metric_list
from egobench.report.testing import write_run

EGO_SCORES = {
    "cat-found0-00": {"dino": 0.61, "clip_i": 0.80, "clip_t": 0.30, "bg_lpips": 0.10},
    "cat-found1-01": {"dino": 0.65, "clip_i": 0.82, "clip_t": 0.31, "bg_lpips": 0.12},
    "dog-found0-00": {"dino": 0.58, "clip_i": 0.79, "clip_t": 0.29, "bg_lpips": 0.08},
}
BASE_SCORES = {
    "cat-found0-00": {"dino": 0.50, "clip_i": 0.84, "clip_t": 0.28, "bg_lpips": 0.20},
    "cat-found1-01": {"dino": 0.52, "clip_i": 0.86, "clip_t": 0.27, "bg_lpips": 0.25},
    "dog-found0-00": {"dino": 0.49, "clip_i": 0.85, "clip_t": 0.26, "bg_lpips": 0.15},
}
NASTY_LABEL = "EGO_v2 & 50% #1 {x} ~^ $\\ <a|b> --fast"


@pytest.fixture
def two_runs(tmp_path):
    ego = write_run(tmp_path / "ego-run", "ego", EGO_SCORES)
    base = write_run(tmp_path / "base-run", "paint-by-example", BASE_SCORES)
    return ego, base


def _table(runs, metrics="dino,clip_i,clip_t,bg_lpips", **options):
    loaded = [load_run(run) for run in runs]
    return build_table(loaded, parse_metric_list(metrics, loaded), **options)


def _latex_rows(text):
    body = text.split("\\midrule", 1)[1].split("\\bottomrule", 1)[0]
    return [line.strip().removesuffix("\\\\").strip() for line in body.strip().splitlines()]


def test_latex_uses_booktabs_rules(two_runs):
    text = render_latex(_table(two_runs))

    assert text.count("\\toprule") == 1
    assert text.count("\\midrule") == 1
    assert text.count("\\bottomrule") == 1
    assert "\\hline" not in text
    assert "\\begin{tabular}{lrrrrr}" in text


def test_latex_bolds_best_per_column(two_runs):
    text = render_latex(_table(two_runs))
    ego, base = _latex_rows(text)

    ego_cells = [cell.strip() for cell in ego.split("&")]
    base_cells = [cell.strip() for cell in base.split("&")]
    # dino and clip_t are higher for ego, clip_i for the baseline, and bg_lpips (lower is better) for ego.
    assert ego_cells == ["ego", "\\textbf{0.613}", "0.803", "\\textbf{0.300}", "\\textbf{0.100}", "3"]
    assert base_cells == ["paint-by-example", "0.503", "\\textbf{0.850}", "0.270", "0.200", "3"]


def test_latex_header_marks_direction(two_runs):
    text = render_latex(_table(two_runs))
    header = text.split("\\toprule", 1)[1].split("\\midrule", 1)[0]

    assert "DINO $\\uparrow$" in header
    assert "BG LPIPS $\\downarrow$" in header
    assert "$N$" in header


def test_latex_bolds_ties_on_printed_value(tmp_path):
    first = write_run(tmp_path / "a", "a", {"p": {"dino": 0.5001}})
    second = write_run(tmp_path / "b", "b", {"p": {"dino": 0.4999}})

    rows = _latex_rows(render_latex(_table([first, second], "dino")))

    assert rows[0] == "a & \\textbf{0.500} & 1"
    assert rows[1] == "b & \\textbf{0.500} & 1"


def test_latex_escapes_every_special_character():
    escaped = escape_latex(NASTY_LABEL)

    assert escaped == (
        "EGO\\_v2 \\& 50\\% \\#1 \\{x\\} \\textasciitilde{}\\textasciicircum{} \\$\\textbackslash{} "
        "\\textless{}a\\textbar{}b\\textgreater{} -{}-fast"
    )


def test_latex_escapes_labels_and_caption(two_runs):
    text = render_latex(_table(two_runs, labels=[NASTY_LABEL, "plain"], caption="50% of pairs_x"))

    assert escape_latex(NASTY_LABEL) in text
    assert "\\caption{50\\% of pairs\\_x}" in text
    assert NASTY_LABEL not in text


def test_latex_prints_intervals_on_request(two_runs):
    plain = render_latex(_table(two_runs, metrics="dino"))
    with_ci = render_latex(_table(two_runs, metrics="dino", show_ci=True))
    low, high = bootstrap_interval(np.array([0.61, 0.65, 0.58]))

    assert "\\scriptsize" not in plain
    assert f"\\textbf{{0.613}} {{\\scriptsize [{low:.3f}, {high:.3f}]}}" in with_ci


def test_recomputed_summary_matches_scorer(tmp_path):
    run = write_run(tmp_path / "run", "ego", EGO_SCORES)
    metrics = pd.read_csv(run / "metrics.csv")
    expected = summarize(metrics, ["dino", "bg_lpips"]).set_index("metric")

    table = _table([run], "dino,bg_lpips")

    for name in ("dino", "bg_lpips"):
        score = table.rows[0].scores[name]
        assert score.mean == pytest.approx(expected.loc[name, "mean"], abs=1e-12)
        assert score.std == pytest.approx(expected.loc[name, "std"], abs=1e-12)
        assert score.ci_low == pytest.approx(expected.loc[name, "ci_low"], abs=1e-12)
        assert score.ci_high == pytest.approx(expected.loc[name, "ci_high"], abs=1e-12)
        assert score.count == expected.loc[name, "count"]


def test_latex_marks_missing_values(tmp_path):
    scored = write_run(tmp_path / "a", "a", {"p": {"dino": 0.5, "clip_t": 0.3}})
    unscored = write_run(tmp_path / "b", "b", {"p": {"dino": 0.4, "clip_t": None}})

    rows = _latex_rows(render_latex(_table([scored, unscored], "dino,clip_t")))

    assert rows[1] == "b & 0.400 & -- & 1"


def test_latex_ablation_marks_mechanisms(tmp_path):
    full = {"method": "ego", "preset": "ego", "ego": {"appearance": {"enabled": True}, "composition": {"enabled": True}}}
    no_appearance = {"method": "ego", "preset": "ego-no-app", "ego": {"appearance": {"enabled": False}, "composition": {"enabled": True}}}
    no_composition = {"method": "ego", "preset": "ego-no-comp", "ego": {"appearance": {"enabled": True}, "composition": {"enabled": False}}}
    runs = [
        write_run(tmp_path / "full", "ego", EGO_SCORES, config=full),
        write_run(tmp_path / "no-app", "ego-no-app", BASE_SCORES, config=no_appearance),
        write_run(tmp_path / "no-comp", "ego-no-comp", BASE_SCORES, config=no_composition),
    ]

    text = render_latex(_table(runs, "dino", ablation=True))
    header = text.split("\\toprule", 1)[1].split("\\midrule", 1)[0]
    rows = _latex_rows(text)

    assert "appearance.enabled & composition.enabled" in header
    assert "\\begin{tabular}{lccrr}" in text
    assert "amssymb" in text
    assert rows[0].startswith("ego & \\checkmark & \\checkmark & ")
    assert rows[1].startswith("ego-no-app & $\\times$ & \\checkmark & ")
    assert rows[2].startswith("ego-no-comp & \\checkmark & $\\times$ & ")


def test_ablation_named_mechanisms(tmp_path):
    runs = [
        write_run(tmp_path / "a", "ego", EGO_SCORES, config={"method": "ego", "ego": {"start": 10, "steps": 4}}),
        write_run(tmp_path / "b", "ego", EGO_SCORES, config={"method": "ego", "ego": {"start": 20, "steps": 4}}),
    ]

    table = _table(runs, "dino", mechanisms=["ego.start=start step"])
    text = render_markdown(table)

    assert "| Method | start step | DINO ↑ | N |" in text
    assert "| ego (a) | 10 |" in text
    assert "| ego (b) | 20 |" in text


def test_ablation_without_differences_fails(two_runs):
    with pytest.raises(ConfigError, match="do not differ"):
        _table(two_runs, ablation=True)


def test_ablation_unknown_mechanism_fails(two_runs):
    with pytest.raises(ConfigError, match="ego.nothing"):
        _table(two_runs, mechanisms=["ego.nothing"])


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex not installed (apt-get install texlive-latex-recommended)")
def test_latex_compiles_with_pdflatex(tmp_path):
    full = {"method": "ego", "ego": {"appearance": True}}
    off = {"method": "ego", "ego": {"appearance": False}}
    runs = [
        write_run(tmp_path / "a", "ego", EGO_SCORES, config=full),
        write_run(tmp_path / "b", "ego", BASE_SCORES, config=off),
    ]
    fragment = render_latex(_table(runs, labels=[NASTY_LABEL, "ablated é"], ablation=True, show_ci=True, caption="Scores & 95% CI"))
    document = tmp_path / "paper.tex"
    document.write_text(
        "\\documentclass[landscape]{article}\n\\usepackage[margin=1cm]{geometry}\n\\usepackage{booktabs}\n\\usepackage{amssymb}\n\\begin{document}\n"
        + fragment
        + "\\end{document}\n",
        encoding="utf-8",
    )

    result = subprocess.run(
        ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "-no-shell-escape", document.name],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    log = (tmp_path / "paper.log").read_text(encoding="latin-1")

    assert result.returncode == 0, result.stdout[-2000:]
    assert (tmp_path / "paper.pdf").stat().st_size > 0
    assert "Missing character" not in log
    assert "Undefined control sequence" not in log
    if shutil.which("pdftotext"):
        text = subprocess.run(["pdftotext", "paper.pdf", "-"], cwd=tmp_path, capture_output=True, text=True).stdout
        flat = " ".join(text.split())
        # OT1 draws "_" as a rule, which pdftotext reads as a space.
        assert "EGO v2 & 50% #1 {x}" in flat
        assert "<a|b> --fast" in flat
        low, high = bootstrap_interval(np.array([0.61, 0.65, 0.58]))
        assert f"0.613 [{low:.3f}, {high:.3f}]" in flat
        assert "BG LPIPS ↓" in flat


def test_markdown_table_structure(two_runs):
    text = render_markdown(_table(two_runs))
    lines = text.strip().splitlines()

    assert lines[0] == "| Method | DINO ↑ | CLIP-I ↑ | CLIP-T ↑ | BG LPIPS ↓ | N |"
    assert lines[1] == "| :-- | --: | --: | --: | --: | --: |"
    assert lines[2] == "| ego | **0.613** | 0.803 | **0.300** | **0.100** | 3 |"
    assert lines[3] == "| paint-by-example | 0.503 | **0.850** | 0.270 | 0.200 | 3 |"


def test_markdown_escapes_labels(two_runs):
    text = render_markdown(_table(two_runs, labels=["a|b *c* _d_", "x"]))

    assert "| a\\|b \\*c\\* \\_d\\_ |" in text


def test_markdown_intervals(two_runs):
    text = render_markdown(_table(two_runs, metrics="clip_t", show_ci=True))

    assert re.search(r"\| ego \| \*\*0\.300\*\* \[0\.\d{3}, 0\.\d{3}\] \| 3 \|", text)


def test_csv_keeps_full_precision(two_runs):
    table = _table(two_runs, metrics="dino,bg_lpips")

    rows = list(csv.DictReader(io.StringIO(render_csv(table))))

    assert [row["label"] for row in rows] == ["ego", "paint-by-example"]
    assert float(rows[0]["dino"]) == pytest.approx(np.mean([0.61, 0.65, 0.58]), abs=1e-15)
    assert rows[0]["dino_count"] == "3"
    assert float(rows[0]["dino_ci_low"]) < float(rows[0]["dino"]) < float(rows[0]["dino_ci_high"])
    assert rows[1]["pairs"] == "3"
    assert list(rows[0]) == [
        "label", "method", "run", "pairs",
        "dino", "dino_ci_low", "dino_ci_high", "dino_count",
        "bg_lpips", "bg_lpips_ci_low", "bg_lpips_ci_high", "bg_lpips_count",
    ]  # fmt: skip


def test_summary_csv_preferred(tmp_path):
    run = write_run(tmp_path / "run", "ego", EGO_SCORES, summary=True)
    summary = (run / "summary.csv").read_text().replace("0.6133333333333333", "0.7777")
    (run / "summary.csv").write_text(summary)

    rows = _latex_rows(render_latex(_table([run], "dino")))

    assert rows[0] == "ego & \\textbf{0.778} & 3"


def test_means_recomputed_without_summary(tmp_path):
    run = write_run(tmp_path / "run", "ego", EGO_SCORES, summary=False)

    table = _table([run], "dino,clip_t")

    assert table.rows[0].scores["dino"].mean == pytest.approx(np.mean([0.61, 0.65, 0.58]))
    assert table.rows[0].scores["clip_t"].count == 3


def test_empty_cells_excluded_from_means(tmp_path):
    run = write_run(tmp_path / "run", "ego", {"a": {"dino": 0.2}, "b": {"dino": None}, "c": {"dino": 0.4}})

    score = _table([run], "dino").rows[0].scores["dino"]

    assert score.mean == pytest.approx(0.3)
    assert score.count == 2


def test_default_metrics_are_scored_ones(two_runs):
    loaded = [load_run(run) for run in two_runs]

    assert parse_metric_list(None, loaded) == ["dino", "clip_i", "clip_t", "bg_lpips"]
    assert parse_metric_list("clip_t,dino", loaded) == ["clip_t", "dino"]


def test_unknown_metric_rejected(two_runs):
    loaded = [load_run(run) for run in two_runs]

    with pytest.raises(ConfigError, match="unknown metric"):
        parse_metric_list("dino,fid", loaded)
    with pytest.raises(ConfigError, match="no run has values"):
        parse_metric_list("bg_psnr", loaded)


def test_label_count_must_match(two_runs):
    with pytest.raises(ConfigError, match="one label per run"):
        _table(two_runs, labels=["only one"])


def test_same_method_labels_get_folder(tmp_path):
    runs = [write_run(tmp_path / "s10", "ego", EGO_SCORES), write_run(tmp_path / "s20", "ego", EGO_SCORES)]

    assert [row.label for row in _table(runs, "dino").rows] == ["ego (s10)", "ego (s20)"]


def test_bad_metric_cell_names_file_and_line(tmp_path):
    run = write_run(tmp_path / "run", "ego", EGO_SCORES)
    text = (run / "metrics.csv").read_text().replace("0.65", "high", 1)
    (run / "metrics.csv").write_text(text)

    with pytest.raises(InputError, match=r"metrics.csv: line 3, column dino: 'high' is not a number"):
        load_run(run)


def test_missing_metrics_csv_named(tmp_path):
    (tmp_path / "run").mkdir()

    with pytest.raises(InputError, match="metrics.csv: not found"):
        load_run(tmp_path / "run")


def test_cli_writes_each_format(two_runs, tmp_path):
    runner = CliRunner()
    outputs = {"latex": tmp_path / "t.tex", "markdown": tmp_path / "t.md", "csv": tmp_path / "t.csv"}

    for output_format, out in outputs.items():
        result = runner.invoke(
            main, ["report", *map(str, two_runs), "--format", output_format, "--out", str(out), "--metrics", "dino,clip_t"]
        )
        assert result.exit_code == 0, result.output
        assert out.is_file()

    assert "\\toprule" in outputs["latex"].read_text()
    assert "| ego | **0.613** | **0.300** | 3 |" in outputs["markdown"].read_text()
    assert outputs["csv"].read_text().startswith("label,method,run,pairs,dino,")


def test_cli_format_from_suffix_and_stdout(two_runs, tmp_path):
    runner = CliRunner()

    to_file = runner.invoke(main, ["report", *map(str, two_runs), "--out", str(tmp_path / "table.md")])
    to_stdout = runner.invoke(main, ["report", *map(str, two_runs), "--format", "latex", "--out", "-", "--label", "A", "--label", "B"])

    assert to_file.exit_code == 0, to_file.output
    assert (tmp_path / "table.md").read_text().startswith("| Method |")
    assert to_stdout.exit_code == 0, to_stdout.output
    assert "A & \\textbf{0.613}" in to_stdout.output


def test_cli_errors_are_one_line(two_runs, tmp_path):
    runner = CliRunner()

    bad_label = runner.invoke(main, ["report", *map(str, two_runs), "--out", "-", "--format", "csv", "--label", "x"])
    missing = runner.invoke(main, ["report", str(tmp_path / "nope"), "--out", "-", "--format", "csv"])
    unknown_suffix = runner.invoke(main, ["report", *map(str, two_runs), "--out", str(tmp_path / "t.docx")])

    assert bad_label.exit_code == 2
    assert "error: --label given 1 times for 2 runs" in bad_label.output
    assert missing.exit_code == 2
    assert "nope: not found" in missing.output
    assert unknown_suffix.exit_code == 2
    assert "give --format" in unknown_suffix.output
