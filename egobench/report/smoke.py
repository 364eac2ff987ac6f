"""The CI regression smoke run: a generated three-pair benchmark edited by the tiny model.

The fixture lives in `datasets/smoke/` in the DreamEditBench layout:

    datasets/smoke/
      replacement_source/<subject>/foundN.png    sources: a coloured object on a gradient
      subjects/<subject>/00.png                  the reference photo of each subject
      subjects/classes.csv                       subject_name,class

Its images are drawn here from fixed numbers (no random draws), so `write_smoke_fixture` rebuilds
the committed files pixel for pixel. The run's `metrics.csv` is committed under
`reports/baselines/smoke/`; `scripts/refresh_smoke_baseline.py` rewrites it on purpose.
"""

from __future__ import annotations

import argparse
import csv
import io
import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from egobench.errors import EgobenchError

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[2]
SMOKE_FIXTURE = REPO_ROOT / "datasets" / "smoke"
SMOKE_BASELINE = REPO_ROOT / "reports" / "baselines" / "smoke"

# Fixture images are small because the bench resizes them to the tiny model's 128 pixels anyway.
IMAGE_SIZE = 64

# bg_lpips is left out because its AlexNet weights are a separate download that a CI machine may
# lack, and a baseline with a metric that the rerun cannot compute would make every rerun fail.
SMOKE_METRICS = "dino,clip_i,clip_t,bg_psnr,bg_ssim,bg_mse"


@dataclass(frozen=True)
class Scene:
    """One synthetic photo: a vertical gradient background with one object drawn on it."""

    top: tuple[int, int, int]
    bottom: tuple[int, int, int]
    shape: str  # "ellipse" or "rectangle"
    colour: tuple[int, int, int]
    box: tuple[int, int, int, int]  # left, top, right, bottom in pixels


SUBJECT_CLASSES = {"red_ball": "ball", "blue_box": "box"}

SOURCES = {
    ("red_ball", "found0"): Scene((200, 220, 240), (90, 140, 90), "ellipse", (120, 120, 40), (18, 20, 46, 48)),
    ("red_ball", "found1"): Scene((240, 230, 200), (120, 100, 80), "ellipse", (60, 160, 200), (8, 24, 36, 52)),
    ("blue_box", "found0"): Scene((180, 200, 230), (200, 190, 170), "rectangle", (150, 70, 150), (22, 16, 44, 50)),
}

REFERENCES = {
    "red_ball": Scene((245, 245, 245), (210, 210, 210), "ellipse", (210, 30, 30), (14, 14, 50, 50)),
    "blue_box": Scene((245, 245, 245), (210, 210, 210), "rectangle", (30, 60, 200), (16, 12, 48, 52)),
}


def draw_scene(scene: Scene, size: int = IMAGE_SIZE) -> Image.Image:
    """Return the scene as an RGB image of `size` x `size` pixels."""
    weights = np.linspace(0.0, 1.0, size)[:, None, None]
    gradient = (1 - weights) * np.array(scene.top) + weights * np.array(scene.bottom)
    pixels = np.broadcast_to(np.round(gradient).astype(np.uint8), (size, size, 3)).copy()
    image = Image.fromarray(pixels, mode="RGB")

    draw = ImageDraw.Draw(image)
    if scene.shape == "ellipse":
        draw.ellipse(scene.box, fill=scene.colour)
    else:
        draw.rectangle(scene.box, fill=scene.colour)
    return image


def fixture_files() -> dict[str, Image.Image]:
    """Return every fixture image by its path relative to the fixture folder."""
    images = {}
    for (subject, name), scene in SOURCES.items():
        images[f"replacement_source/{subject}/{name}.png"] = draw_scene(scene)
    for subject, scene in REFERENCES.items():
        images[f"subjects/{subject}/00.png"] = draw_scene(scene)
    return images


def classes_csv() -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["subject_name", "class"])
    writer.writerows(sorted(SUBJECT_CLASSES.items()))
    return buffer.getvalue()


def write_smoke_fixture(folder: str | Path = SMOKE_FIXTURE) -> Path:
    """Write the fixture images and classes.csv into `folder` and return it."""
    folder = Path(folder)
    for relative, image in fixture_files().items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        image.save(path, format="PNG", optimize=True)
    (folder / "subjects" / "classes.csv").write_text(classes_csv(), encoding="utf-8")
    return folder


def run_smoke(run_dir: str | Path, overrides: list[str] | tuple[str, ...] = (), fixture: str | Path = SMOKE_FIXTURE) -> Path:
    """Edit the fixture's pairs with the `ego` preset on the tiny model, on the CPU, and score them.

    `overrides` are `--set KEY=VALUE` settings; the baseline itself is made with none, so that it
    records the method's defaults. Returns the run folder, which then contains metrics.csv.
    """
    from egobench.cli import main

    run_dir = Path(run_dir)
    fixture = Path(fixture)
    sets = [argument for override in overrides for argument in ("--set", override)]
    # Options with defaults are spelled out too. A changed default of the runner or the scorer then
    # cannot move the smoke numbers, and only the method's own defaults can.
    _invoke(main, [
        "run", "--method", "ego", "--bench", "dreamedit", "--data-root", str(fixture),
        "--subjects", str(fixture / "subjects"), "--pairing", "subject",
        "--model", "tiny", "--device", "cpu", "--seed", "0", "--out", str(run_dir),
        "--metrics", SMOKE_METRICS, "--clip-model", "tiny", "--dino-model", "tiny", "--batch-size", "16", *sets,
    ])  # fmt: skip
    return run_dir


def _invoke(command, arguments: list[str]) -> None:
    log.info("egobench %s", " ".join(arguments))
    try:
        command.main(arguments, prog_name="egobench", standalone_mode=False)
    except SystemExit as exit_:
        if exit_.code not in (0, None):
            raise EgobenchError(f"egobench {arguments[0]} failed with exit code {exit_.code}") from None


def main(argv: list[str] | None = None) -> int:
    """Run the smoke benchmark into a folder: `python -m egobench.report.smoke RUN_DIR [--set KEY=VALUE ...]`."""
    parser = argparse.ArgumentParser(prog="python -m egobench.report.smoke", description=main.__doc__)
    parser.add_argument("run_dir", type=Path, help="run folder to create; it must not hold another run")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    arguments = parser.parse_args(argv)

    from egobench.logs import setup_logging

    setup_logging()
    # The hub libraries must not try the network: the tiny models are built locally.
    for variable in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
        os.environ.setdefault(variable, "1")
    try:
        run_smoke(arguments.run_dir, arguments.overrides)
    except EgobenchError as error:
        print(f"error: {error}", file=sys.stderr)
        return error.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
