"""The HTML gallery opened from disk in headless Chromium: no console error, every image shown, sorting works.

Chromium comes from Debian's `chromium` package; the tests skip where it is not installed.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from egobench.report.gallery import write_gallery
from egobench.report.runs import load_run
from egobench.report.table import build_table
from egobench.report.testing import write_run

CHROMIUM = next((shutil.which(name) for name in ("chromium", "chromium-browser") if shutil.which(name)), None)
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium not found; install it with `apt-get install -y chromium` to run the browser tests"
)

EGO = {"p1": {"dino": 0.6, "clip_t": 0.30}, "p2": {"dino": 0.4, "clip_t": 0.32}, "p3": {"dino": 0.5, "clip_t": None}}
BASE = {"p1": {"dino": 0.3, "clip_t": 0.25}, "p2": {"dino": 0.7, "clip_t": 0.28}, "p3": {"dino": 0.2, "clip_t": 0.27}}

# Runs first in <head>: records script errors, failed resource loads and console errors or warnings.
_HOOK = """<script>
window.probeErrors = [];
window.addEventListener('error', function (event) {
  var target = event.target;
  window.probeErrors.push(event.message || ('failed to load ' + (target && (target.src || target.href))));
}, true);
window.addEventListener('unhandledrejection', function (event) { window.probeErrors.push('rejection: ' + event.reason); });
['error', 'warn'].forEach(function (level) {
  var original = console[level];
  console[level] = function () {
    window.probeErrors.push('console.' + level + ': ' + Array.prototype.join.call(arguments, ' '));
    original.apply(console, arguments);
  };
});
</script>"""

# Runs after the page's own script: measures every image, drives the sort controls, and writes the
# results into the DOM, where --dump-dom prints them.
_PROBE = """<script>
window.addEventListener('load', function () {
  function order() {
    return Array.prototype.map.call(document.querySelectorAll('#pairs tbody tr'), function (row) {
      return row.getAttribute('data-pair-id');
    });
  }
  var result = {errors: window.probeErrors, images: [], orders: {}};
  Array.prototype.forEach.call(document.images, function (image) {
    result.images.push({src: image.getAttribute('src'), width: image.naturalWidth, complete: image.complete});
  });
  result.broken = document.querySelectorAll('img.broken').length;
  result.orders.initial = order();
  var select = document.getElementById('sort-key');
  select.value = 'r1-dino';
  select.dispatchEvent(new Event('change'));
  result.orders.dinoBest = order();
  document.getElementById('sort-order').click();
  result.orders.dinoWorst = order();
  select.value = 'r0-clip_t';
  select.dispatchEvent(new Event('change'));
  result.orders.clipWorst = order();
  var output = document.createElement('pre');
  output.id = 'probe-result';
  output.textContent = JSON.stringify(result);
  document.body.appendChild(output);
});
</script>"""


def _chromium(page: Path, profile: Path) -> subprocess.CompletedProcess:
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
        "--enable-logging=stderr",
        "--v=0",
        "--virtual-time-budget=5000",
        "--dump-dom",
        page.resolve().as_uri(),
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def _probe(index: Path, profile: Path) -> dict:
    page = index.read_text(encoding="utf-8").replace("<head>", "<head>\n" + _HOOK, 1).replace("</body>", _PROBE + "</body>", 1)
    probe_page = index.with_name("probe.html")
    probe_page.write_text(page, encoding="utf-8")

    result = _chromium(probe_page, profile)
    match = re.search(r'<pre id="probe-result">(.*?)</pre>', result.stdout, re.DOTALL)
    assert match, f"probe did not run; chromium exit {result.returncode}: {result.stderr[-2000:]}"
    return json.loads(html.unescape(match.group(1)))


@pytest.fixture
def gallery(tmp_path) -> Path:
    ego = write_run(tmp_path / "ego-run", "ego", EGO, image_size=20)
    base = write_run(tmp_path / "base-run", "baseline", BASE, image_size=20, failed={"p4": "out of memory"})
    return write_gallery(build_table([load_run(ego), load_run(base)], ["dino", "clip_t"]), tmp_path / "gallery")


def test_gallery_loads_without_console_errors(gallery, tmp_path):
    result = _chromium(gallery, tmp_path / "profile-plain")
    console_lines = [line for line in result.stderr.splitlines() if ":CONSOLE" in line]

    assert result.returncode == 0, result.stderr[-2000:]
    assert 'id="pairs"' in result.stdout
    assert console_lines == []


def test_gallery_shows_every_image(gallery, tmp_path):
    probe = _probe(gallery, tmp_path / "profile")

    assert probe["errors"] == []
    assert len(probe["images"]) == 15
    assert [image["src"] for image in probe["images"] if not (image["complete"] and image["width"] > 0)] == []
    assert probe["broken"] == 0


def test_gallery_sorts_by_metric(gallery, tmp_path):
    orders = _probe(gallery, tmp_path / "profile")["orders"]

    assert orders["initial"] == ["p1", "p2", "p3", "p4"]
    assert orders["dinoBest"] == ["p2", "p1", "p3", "p4"]
    assert orders["dinoWorst"] == ["p3", "p1", "p2", "p4"]
    assert orders["clipWorst"] == ["p1", "p2", "p3", "p4"]


def test_probe_detects_missing_image(gallery, tmp_path):
    (gallery.parent / "images" / "0002" / "run-0.png").unlink()

    probe = _probe(gallery, tmp_path / "profile")

    assert [image["src"] for image in probe["images"] if image["width"] == 0] == ["images/0002/run-0.png"]
    assert probe["broken"] == 1
    assert len(probe["errors"]) == 1
