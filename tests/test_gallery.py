"""The HTML gallery folder: self-contained, relative links only, one row per pair."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from egobench.cli import main
from egobench.errors import InputError
from egobench.report.gallery import write_gallery
from egobench.report.runs import load_run
from egobench.report.table import build_table
from egobench.report.testing import write_run

EGO = {"p1": {"dino": 0.6, "clip_t": 0.30}, "p2": {"dino": 0.4, "clip_t": 0.32}, "p3": {"dino": 0.5, "clip_t": None}}
BASE = {"p1": {"dino": 0.3, "clip_t": 0.25}, "p2": {"dino": 0.7, "clip_t": 0.28}, "p3": {"dino": 0.2, "clip_t": 0.27}}


class _Links(HTMLParser):
    """Collects every src and href, and the data attributes of table rows."""

    def __init__(self):
        super().__init__()
        self.links: list[str] = []
        self.images: list[str] = []
        self.rows: list[dict[str, str]] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        for name in ("src", "href"):
            if name in attributes:
                self.links.append(attributes[name])
        if tag == "img":
            self.images.append(attributes["src"])
        if tag == "tr" and "data-order" in attributes:
            self.rows.append(attributes)


@pytest.fixture
def runs(tmp_path):
    ego = write_run(tmp_path / "ego-run", "ego", EGO, image_size=20)
    base = write_run(tmp_path / "base-run", "baseline", BASE, image_size=20, failed={"p4": "CUDA out of memory"})
    return [load_run(ego), load_run(base)]


def _parse(index: Path) -> _Links:
    parser = _Links()
    parser.feed(index.read_text(encoding="utf-8"))
    return parser


def test_gallery_is_self_contained(runs, tmp_path):
    index = write_gallery(build_table(runs, ["dino", "clip_t"]), tmp_path / "gallery")
    parsed = _parse(index)

    assert index == tmp_path / "gallery" / "index.html"
    assert parsed.links
    for link in parsed.links:
        assert not re.match(r"^[a-z][a-z0-9+.-]*:", link, re.IGNORECASE), link
        assert not link.startswith("/"), link
        assert ".." not in link.split("/"), link
        assert (index.parent / link).is_file(), link
    assert "<link" not in index.read_text()
    assert "http" not in index.read_text()


def test_gallery_row_per_pair(runs, tmp_path):
    index = write_gallery(build_table(runs, ["dino", "clip_t"]), tmp_path / "gallery")
    parsed = _parse(index)

    assert [row["data-pair-id"] for row in parsed.rows] == ["p1", "p2", "p3", "p4"]
    # p1-p3: source, mask, reference and both outputs; p4 failed in the only run that tried it.
    assert len(parsed.images) == 3 * 5
    assert parsed.rows[0]["data-r0-dino"] == "0.6"
    assert parsed.rows[1]["data-r1-dino"] == "0.7"
    assert "data-r0-clip_t" not in parsed.rows[2]
    assert "failed: CUDA out of memory" in index.read_text()


def test_gallery_copies_images(runs, tmp_path):
    index = write_gallery(build_table(runs, ["dino"]), tmp_path / "gallery")
    copied = index.parent / "images" / "0001" / "run-1.png"
    original = runs[1].folder / "pairs" / "p1" / "edited.png"

    assert copied.read_bytes() == original.read_bytes()
    assert Image.open(index.parent / "images" / "0001" / "source_mask.png").mode == "L"


def test_gallery_shows_scores_and_best(runs, tmp_path):
    text = write_gallery(build_table(runs, ["dino", "clip_t"]), tmp_path / "gallery").read_text()

    assert "<dt>DINO</dt><dd>0.600</dd>" in text
    assert "<dt>CLIP-T</dt><dd>–</dd>" in text
    # Summary: ego's mean DINO 0.500 beats 0.400; the baseline's CLIP-T 0.267 loses to 0.310.
    assert '<td class="number"><strong>0.500</strong></td>' in text
    assert '<td class="number"><strong>0.310</strong></td>' in text
    assert '<option value="r1-clip_t" data-higher="1">CLIP-T, baseline</option>' in text


def test_gallery_escapes_names(tmp_path):
    evil = "<script>alert(1)</script>"
    run = write_run(tmp_path / "run", evil, {"a&b": {"dino": 0.5}})

    text = write_gallery(build_table([load_run(run)], ["dino"]), tmp_path / "gallery").read_text()

    assert evil not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert 'data-pair-id="a&amp;b"' in text


def test_gallery_replaces_previous_gallery(runs, tmp_path):
    out = tmp_path / "gallery"
    write_gallery(build_table(runs, ["dino"]), out)
    (out / "images" / "0001" / "stale.png").write_bytes(b"old")

    write_gallery(build_table(runs[:1], ["dino"]), out)

    assert not (out / "images" / "0001" / "stale.png").exists()
    assert not (out / "images" / "0001" / "run-1.png").exists()
    assert [path.name for path in tmp_path.iterdir() if path.name.startswith(".gallery")] == []


def test_gallery_keeps_foreign_folder(runs, tmp_path):
    out = tmp_path / "thesis"
    out.mkdir()
    (out / "chapter1.tex").write_text("keep me")

    with pytest.raises(InputError, match="not a gallery written by egobench"):
        write_gallery(build_table(runs, ["dino"]), out)
    assert (out / "chapter1.tex").read_text() == "keep me"


def test_gallery_from_metrics_file_only(tmp_path):
    run = write_run(tmp_path / "run", "ego", EGO)

    text = write_gallery(build_table([load_run(run / "metrics.csv")], ["dino"]), tmp_path / "gallery").read_text()

    assert text.count("no output in this run") == 3
    assert text.count("not saved by any run") == 9


def test_cli_writes_gallery(runs, tmp_path):
    out = tmp_path / "gallery"

    result = CliRunner().invoke(
        main, ["report", str(runs[0].path), str(runs[1].path), "--format", "html", "--out", str(out), "--ci"]
    )

    assert result.exit_code == 0, result.output
    assert (out / "index.html").is_file()
    assert len(list((out / "images").rglob("*.png"))) == 15
