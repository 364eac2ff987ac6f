"""Reports and comparisons of real run folders: `egobench run --model tiny` on the smoke fixture."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess

import pytest
from click.testing import CliRunner

from egobench.cli import main
from egobench.report.smoke import SMOKE_FIXTURE
from tests.test_gallery_browser import CHROMIUM, _chromium, _probe

METHODS = ("ego", "ego-wo-cc", "paste")
METRICS = "dino,clip_i,clip_t,bg_psnr,bg_ssim,bg_mse"


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Three run folders (EGO-Edit, its ablation without content composition, copy-paste) over two pairs."""
    out = tmp_path_factory.mktemp("tiny-runs")
    result = CliRunner().invoke(
        main,
        [
            "run", "--method", ",".join(METHODS), "--bench", "dreamedit", "--data-root", str(SMOKE_FIXTURE),
            "--subjects", str(SMOKE_FIXTURE / "subjects"), "--pairing", "subject", "--limit", "2",
            "--model", "tiny", "--device", "cpu", "--set", "ego.steps=3", "--out", str(out),
            "--metrics", METRICS, "--clip-model", "tiny", "--dino-model", "tiny",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return [out / method for method in METHODS]


def _report(runs, *options: str):
    return CliRunner().invoke(main, ["report", *map(str, runs), *options])


def test_markdown_of_tiny_runs(runs):
    result = _report(runs, "--format", "markdown", "--out", "-", "--metrics", "dino,clip_t,bg_psnr")
    lines = result.output.strip().splitlines()

    assert result.exit_code == 0, result.output
    assert lines[0] == "| Method | DINO ↑ | CLIP-T ↑ | BG PSNR ↑ | N |"
    assert [line.split("|")[1].strip() for line in lines[2:]] == ["ego", "ego-wo-cc", "paste"]
    assert all(line.endswith("| 2 |") for line in lines[2:])
    # Every column has at least one bold (best) value.
    for column in (2, 3, 4):
        assert any("**" in line.split("|")[column] for line in lines[2:]), column


def test_ablation_marks_content_composition(runs):
    result = _report(runs[:2], "--format", "latex", "--out", "-", "--ablation")
    rows = result.output.split("\\midrule", 1)[1].split("\\bottomrule", 1)[0].strip().splitlines()

    assert result.exit_code == 0, result.output
    assert "content\\_composition.enabled" in result.output
    assert rows[0].strip().startswith("ego & \\checkmark &")
    assert rows[1].strip().startswith("ego-wo-cc & $\\times$ &")


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex not installed (apt-get install texlive-latex-recommended)")
def test_latex_of_tiny_runs_compiles(runs, tmp_path):
    table = tmp_path / "table.tex"
    result = _report(runs, "--format", "latex", "--out", str(table), "--ci", "--ablation", "--caption", "Tiny runs")
    document = tmp_path / "paper.tex"
    document.write_text(
        "\\documentclass{article}\n\\usepackage{booktabs}\n\\usepackage{amssymb}\n"
        "\\begin{document}\n\\input{table.tex}\n\\end{document}\n"
    )

    compiled = subprocess.run(
        ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "-no-shell-escape", "paper.tex"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.exit_code == 0, result.output
    assert compiled.returncode == 0, compiled.stdout[-2000:]
    assert (tmp_path / "paper.pdf").stat().st_size > 0


@pytest.mark.skipif(CHROMIUM is None, reason="chromium not found; install it with `apt-get install -y chromium`")
def test_gallery_of_tiny_runs_in_browser(runs, tmp_path):
    out = tmp_path / "gallery"
    result = _report(runs, "--format", "html", "--out", str(out))

    plain = _chromium(out / "index.html", tmp_path / "profile-plain")
    probe = _probe(out / "index.html", tmp_path / "profile")

    assert result.exit_code == 0, result.output
    assert [line for line in plain.stderr.splitlines() if ":CONSOLE" in line] == []
    assert probe["errors"] == []
    # Two pairs, each with source, mask, reference and three outputs.
    assert len(probe["images"]) == 2 * 6
    assert [image["src"] for image in probe["images"] if not (image["complete"] and image["width"] > 0)] == []


def _metrics_copy(run, folder, edit):
    with (run / "metrics.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    rows = edit(rows)
    folder.mkdir()
    with (folder / "metrics.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return folder / "metrics.csv"


def _compare(baseline, current, *options: str):
    return CliRunner().invoke(main, ["compare", str(baseline), str(current), "--format", "json", *options])


def test_compare_tiny_run_with_itself(runs):
    result = _compare(runs[0], runs[0])

    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["verdict"] == "ok"


def test_compare_lowered_copy_exits_1(runs, tmp_path):
    def lower_dino(rows):
        for row in rows:
            row["dino"] = repr(float(row["dino"]) - 0.6)
        return rows

    lowered = _metrics_copy(runs[0], tmp_path / "lowered", lower_dino)

    result = _compare(runs[0], lowered, "--tolerance", "dino=0.5,clip_t=0.2")
    failed = [metric["metric"] for metric in json.loads(result.output)["metrics"] if metric["failed"]]

    assert result.exit_code == 1, result.output
    assert failed == ["dino"]


def test_compare_other_pairs_exits_2(runs, tmp_path):
    fewer = _metrics_copy(runs[0], tmp_path / "fewer", lambda rows: rows[:1])

    result = _compare(runs[0], fewer)

    assert result.exit_code == 2
    assert "1 pairs only in the baseline" in json.loads(result.output)["problems"][0]
