"""An HTML gallery: one folder that opens from disk, one row per pair, each run's output beside the inputs.

    OUT/
      index.html                 the page; its CSS and JavaScript are inline
      images/NNNN/source.png     the pair's inputs, copied from the first run that has them
      images/NNNN/source_mask.png
      images/NNNN/reference.png
      images/NNNN/run-K.png      run K's edited image

Pairs are numbered in the folder so that no pair id needs escaping inside a URL. Every link in
the page is relative, so the folder can be zipped, moved or attached to a pull request.
"""

from __future__ import annotations

import html
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from rich.progress import Progress

from egobench.errors import InputError
from egobench.logs import console
from egobench.report.runs import Run
from egobench.report.table import ReportTable, format_number
from egobench.run_folder import PAIRS_DIR, pair_files

log = logging.getLogger(__name__)

GENERATOR = "egobench report --format html"
IMAGES_DIR = "images"

# The inputs shown left of the outputs: (file name in the run folder, column title).
_INPUTS = (("source.png", "source"), ("source_mask.png", "source mask"), ("reference.png", "reference"))

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }
table { border-collapse: collapse; }
th, td { border-bottom: 1px solid #ddd; padding: 0.4em; vertical-align: top; text-align: left; }
#summary td.number { text-align: right; font-variant-numeric: tabular-nums; }
#pairs img { width: 160px; height: auto; display: block; }
#pairs img.broken { outline: 3px solid #c00; min-height: 40px; }
dl.scores { display: grid; grid-template-columns: auto auto; gap: 0 0.6em; margin: 0.3em 0 0; font-size: 0.85em; }
dl.scores dt { color: #666; }
dl.scores dd { margin: 0; font-variant-numeric: tabular-nums; }
.note { color: #a00; font-size: 0.85em; max-width: 160px; }
.controls { margin: 1em 0; }
small { color: #666; }
"""

# Sorting keeps pairs without a value last in either direction, so that a failed pair never hides
# the best or worst ones. A broken image gets a red outline instead of silently showing nothing.
_SCRIPT = """
(function () {
  var select = document.getElementById('sort-key');
  var button = document.getElementById('sort-order');
  var body = document.querySelector('#pairs tbody');
  var bestFirst = true;

  function number(row, key) {
    var text = row.getAttribute('data-' + key);
    return text === null || text === '' ? NaN : Number(text);
  }

  function sortRows() {
    var key = select.value;
    var higherIsBetter = select.options[select.selectedIndex].getAttribute('data-higher') === '1';
    var descending = bestFirst === higherIsBetter;
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var order = number(a, 'order') - number(b, 'order');
      if (key === 'order') { return order; }
      var x = number(a, key), y = number(b, key);
      if (isNaN(x) || isNaN(y)) { return (isNaN(x) - isNaN(y)) || order; }
      return (descending ? y - x : x - y) || order;
    });
    rows.forEach(function (row) { body.appendChild(row); });
  }

  select.addEventListener('change', sortRows);
  button.addEventListener('click', function () {
    bestFirst = !bestFirst;
    button.textContent = bestFirst ? 'best first' : 'worst first';
    sortRows();
  });

  Array.prototype.forEach.call(document.images, function (image) {
    function markBroken() { image.classList.add('broken'); image.title = 'image missing: ' + image.getAttribute('src'); }
    if (image.complete && image.naturalWidth === 0) { markBroken(); }
    image.addEventListener('error', markBroken);
  });
})();
"""


@dataclass
class _Cell:
    """One image in the gallery: where it is copied from and its path inside the folder (None if absent)."""

    source: Path | None
    target: str | None


def write_gallery(table: ReportTable, out: str | Path) -> Path:
    """Write the gallery of the table's runs into the folder `out` and return the path of its index.html.

    The folder is built beside `out` and renamed into place when complete. An existing gallery at
    `out` is replaced; any other existing file or folder there is left alone and raises InputError.
    """
    out = Path(out)
    _check_target(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    build = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".part", dir=out.parent))
    try:
        page = _build(table, build)
        (build / "index.html").write_text(page, encoding="utf-8")
        _replace_folder(build, out)
    finally:
        if build.exists():
            shutil.rmtree(build)
    log.info("wrote gallery %s (%d runs)", out / "index.html", len(table.rows))
    return out / "index.html"


def gallery_pair_ids(runs: list[Run]) -> list[str]:
    """Return every pair id that any run scored, attempted or saved images for, in the order first seen."""
    seen: dict[str, None] = {}
    for run in runs:
        seen.update(dict.fromkeys(run.pair_ids))
        if run.results is not None:
            seen.update(dict.fromkeys(run.results.index))
        pairs_dir = run.folder / PAIRS_DIR
        if run.path.is_dir() and pairs_dir.is_dir():
            seen.update(dict.fromkeys(sorted(path.name for path in pairs_dir.iterdir() if path.is_dir())))
    return list(seen)


def _check_target(out: Path) -> None:
    if not out.exists():
        return
    index = out / "index.html"
    if out.is_dir() and index.is_file() and GENERATOR in index.read_text(encoding="utf-8", errors="replace")[:2000]:
        return
    raise InputError(f"{out}: already exists and is not a gallery written by egobench; choose another --out")


def _replace_folder(build: Path, out: Path) -> None:
    if not out.exists():
        os.rename(build, out)
        return
    # Two renames instead of one, because a folder cannot be renamed onto a non-empty folder.
    old = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=out.parent))
    os.rmdir(old)
    os.rename(out, old)
    try:
        os.rename(build, out)
    except OSError:
        os.rename(old, out)
        raise
    shutil.rmtree(old)


def _build(table: ReportTable, build: Path) -> str:
    runs = [row.run for row in table.rows]
    pair_ids = gallery_pair_ids(runs)
    rows = []
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("copying gallery images", total=len(pair_ids))
        for order, pair_id in enumerate(pair_ids):
            rows.append(_pair_row(table, pair_id, order, build))
            progress.advance(task)

    return _page(table, "\n".join(rows), len(pair_ids))


def _pair_row(table: ReportTable, pair_id: str, order: int, build: Path) -> str:
    folder = f"{IMAGES_DIR}/{order + 1:04d}"
    attributes = {"order": str(order), "pair-id": pair_id}
    cells = [f"<th scope=\"row\">{_text(pair_id)}</th>"]

    for name, title in _INPUTS:
        cell = _copy(_first_existing(table, pair_id, name), f"{folder}/{name}", build)
        image = _image(cell, f"{title} of {pair_id}", "not saved by any run")
        cells.append(f"<td>{image}</td>")

    for index, row in enumerate(table.rows):
        run = row.run
        edited = pair_files(run.folder, pair_id).edited if run.path.is_dir() else None
        cell = _copy(edited if edited is not None and edited.is_file() else None, f"{folder}/run-{index}.png", build)
        scores = []
        for metric in table.metrics:
            value = run.values(metric.name).get(pair_id, float("nan"))
            printed = format_number(value)
            if printed is not None:
                attributes[f"r{index}-{metric.name}"] = repr(float(value))
            scores.append(f"<dt>{_text(metric.title)}</dt><dd>{printed or '–'}</dd>")
        status, error = run.status(pair_id)
        missing = f"{status}: {error}" if status == "failed" else "no output in this run"
        image = _image(cell, f"{row.label} output for {pair_id}", missing)
        cells.append(f"<td>{image}<dl class=\"scores\">{''.join(scores)}</dl></td>")

    attribute_text = " ".join(f'data-{key}="{_text(value)}"' for key, value in attributes.items())
    return f"<tr {attribute_text}>{''.join(cells)}</tr>"


def _first_existing(table: ReportTable, pair_id: str, name: str) -> Path | None:
    for row in table.rows:
        if not row.run.path.is_dir():
            continue
        candidate = pair_files(row.run.folder, pair_id).folder / name
        if candidate.is_file():
            return candidate
    return None


def _copy(source: Path | None, target: str, build: Path) -> _Cell:
    if source is None:
        return _Cell(None, None)
    destination = build / target
    destination.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, destination)
    return _Cell(source, target)


def _image(cell: _Cell, alt: str, missing: str) -> str:
    if cell.target is None:
        return f'<p class="note">{_text(missing)}</p>'
    return f'<a href="{_text(cell.target)}"><img src="{_text(cell.target)}" alt="{_text(alt)}"></a>'


def _page(table: ReportTable, rows: str, pair_count: int) -> str:
    run_headers = "".join(f"<th scope=\"col\">{_text(row.label)}</th>" for row in table.rows)
    input_headers = "".join(f"<th scope=\"col\">{_text(title)}</th>" for _, title in _INPUTS)
    title = table.caption or "egobench gallery"
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="generator" content="{GENERATOR}">
<title>{_text(title)}</title>
<style>{_STYLE}</style>
</head>
<body>
<h1>{_text(title)}</h1>
{_summary(table)}
<div class="controls">
<label>Sort pairs by <select id="sort-key">{_sort_options(table)}</select></label>
<button id="sort-order" type="button">best first</button>
<span>{pair_count} pairs</span>
</div>
<table id="pairs">
<thead><tr><th scope="col">pair</th>{input_headers}{run_headers}</tr></thead>
<tbody>
{rows}
</tbody>
</table>
<script>{_SCRIPT}</script>
</body>
</html>
"""


def _summary(table: ReportTable) -> str:
    header = "".join(f"<th scope=\"col\">{_text(metric.title)} {'↑' if metric.higher_is_better else '↓'}</th>" for metric in table.metrics)
    best = {metric.name: table.best_rows(metric.name) for metric in table.metrics}
    lines = []
    for index, row in enumerate(table.rows):
        details = [row.run.manifest.get(key) for key in ("bench", "model")]
        description = ", ".join(str(value) for value in details if value)
        cells = [f"<th scope=\"row\">{_text(row.label)}<br><small>{_text(description or str(row.run.folder.name))}</small></th>"]
        for metric in table.metrics:
            score = row.scores[metric.name]
            text = format_number(score.mean) or "–"
            if index in best[metric.name]:
                text = f"<strong>{text}</strong>"
            if table.show_ci and score.has_interval:
                text += f" <small>[{format_number(score.ci_low)}, {format_number(score.ci_high)}]</small>"
            cells.append(f'<td class="number">{text}</td>')
        cells.append(f'<td class="number">{row.count}</td>')
        lines.append(f"<tr>{''.join(cells)}</tr>")
    return (
        f'<table id="summary"><thead><tr><th scope="col">run</th>{header}<th scope="col">pairs</th></tr></thead>'
        f"<tbody>{''.join(lines)}</tbody></table>"
    )


def _sort_options(table: ReportTable) -> str:
    options = ['<option value="order" data-higher="0">pair id</option>']
    for index, row in enumerate(table.rows):
        for metric in table.metrics:
            higher = "1" if metric.higher_is_better else "0"
            label = f"{metric.title}, {row.label}"
            options.append(f'<option value="r{index}-{metric.name}" data-higher="{higher}">{_text(label)}</option>')
    return "".join(options)


def _text(value: str) -> str:
    return html.escape(str(value), quote=True)
