"""Adapters for methods that live in their authors' repositories: AnyDoor, PAIR-Diffusion, DragonDiffusion.

Each runs in its own environment, so egobench talks to it through files. An adapter works in one of
two modes, chosen in the preset's section (for example `anydoor:` in `methods/anydoor.yaml`):

- `command`: a command template run once per batch of pairs. egobench writes the batch's inputs
  as PNG files and a batch file (JSON, schema below), runs the command with a timeout and reads
  one PNG per pair back, rejecting missing or wrong-sized outputs.
- `import_dir`: a folder of already-edited images named `<pair_id>.png`.

Batch file (`batch.json`, schema `egobench.batch/1`); paths are absolute:

    {
      "schema": "egobench.batch/1",
      "method": "anydoor",              the registered method name
      "seed": 0,
      "resolution": 512,                side of every input and of every expected output, in pixels
      "output_dir": ".../outputs",      folder the command writes into
      "settings": {...},                the preset's section, for settings of the authors' code
      "pairs": [
        {
          "pair_id": "dog3-found0-00",
          "source": ".../inputs/<pair_id>/source.png",                  RGB
          "source_mask": ".../inputs/<pair_id>/source_mask.png",        L, 255 on the object, 0 elsewhere
          "reference": ".../inputs/<pair_id>/reference.png",            RGB
          "reference_mask": ".../inputs/<pair_id>/reference_mask.png",  L, as source_mask
          "reference_object": ".../inputs/<pair_id>/reference_object.png",
                                        the reference cropped to its mask's box, RGB
          "source_box": [left, top, right, bottom],     the source mask's box, right/bottom exclusive
          "reference_box": [left, top, right, bottom],
          "source_prompt": "...", "reference_prompt": "...", "target_prompt": "...",
          "source_class": "...", "reference_class": "...",
          "output": ".../outputs/<pair_id>.png"         the expected output: RGB, resolution x resolution
        }
      ]
    }

Command placeholders, each replaced inside the argument that contains it: `{inputs_json}` (the
batch file), `{output_dir}`, `{batch_dir}` (the folder holding both), `{seed}` and `{resolution}`.
The command runs without a shell; for pipes or `conda activate` wrap it as `bash -c '...'`. It also
receives the environment variables EGOBENCH_INPUTS_JSON and EGOBENCH_OUTPUT_DIR.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shlex
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path
from typing import ClassVar

import numpy as np
from PIL import Image, UnidentifiedImageError

from egobench.atomic import save_image_atomic, write_text_atomic
from egobench.benches.base import LoadedPair
from egobench.errors import ConfigError, EgobenchError, InputError
from egobench.methods import register_method
from egobench.methods.base import EditMethod
from egobench.methods.boxes import crop_object, mask_box

logger = logging.getLogger(__name__)

BATCH_SCHEMA = "egobench.batch/1"
PLACEHOLDERS = ("inputs_json", "output_dir", "batch_dir", "seed", "resolution")
_PLACEHOLDER = re.compile(r"\{(" + "|".join(PLACEHOLDERS) + r")\}")
# Pair ids become file names inside the batch folder, so they may not leave it.
_SAFE_PAIR_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")
# How many lines of the command's output an error message quotes.
_LOG_TAIL_LINES = 1


class ExternalMethodError(EgobenchError):
    """An external method's command failed, timed out, or wrote an unusable output."""


class ExternalMethod(EditMethod):
    """Run a method from its authors' repository by command template, or import its edits.

    Settings (the section named after the method): `command` (template, or null), `import_dir`
    (folder of `<pair_id>.png`, or null; wins over `command`), `timeout` (seconds per command run),
    `batch_size` (pairs per command run, 0 for all pairs at once), `work_dir` (where batch folders
    go, null for a temporary folder), `cwd` (the command's working folder, usually the authors'
    repository) and `resolution` (pixels).
    """

    # The authors' repository, shown by `egobench list methods` and in error messages.
    repository: ClassVar[str] = ""
    missing_status: ClassVar[str] = "needs command configured"

    def __init__(self, config: dict, *, model: str | None = None, device="cpu"):
        super().__init__(config, model=model, device=device)
        self.settings = dict(config.get(self.name) or {})
        self._work_root: Path | None = None
        command = self.settings.get("command")
        if command and not self.settings.get("import_dir"):
            _check_template(self.name, command)

    @property
    def resolution(self) -> int:
        return int(self.settings.get("resolution", 512))

    @classmethod
    def availability(cls, config: dict | None = None) -> tuple[bool, str]:
        settings = dict((config or {}).get(cls.name) or {})
        import_dir = settings.get("import_dir")
        command = settings.get("command")
        if import_dir:
            if Path(import_dir).is_dir():
                return True, f"ready: imports {import_dir}/<pair_id>.png"
            return False, f"import folder {import_dir} not found; create it or change {cls.name}.import_dir"
        if command:
            try:
                executable = shlex.split(command)[0]
            except (ValueError, IndexError):
                return False, f"{cls.name}.command {command!r} is not a valid command line; fix the quoting"
            if shutil.which(executable) is None and not Path(executable).is_file():
                return False, f"{cls.name}.command runs {executable!r}, which is not on PATH; install it or use a full path"
            return True, "ready: runs the configured command"
        return False, (
            f"set {cls.name}.command or {cls.name}.import_dir in methods/{cls.name}.yaml "
            f"(setup: methods/external.md#{cls.name})"
        )

    def identity(self) -> dict:
        identity = super().identity()
        identity["repository"] = self.repository
        return identity

    def edit(self, pair: LoadedPair, seed: int) -> Image.Image:
        (result,) = self.edit_batch([pair], seed)
        if isinstance(result, Exception):
            raise result
        return result

    def edit_batch(
        self, pairs: list[LoadedPair], seed: int, work_dir: str | Path | None = None
    ) -> list[Image.Image | EgobenchError]:
        """Edit several pairs with as few command runs as `batch_size` allows.

        Returns one entry per pair, in order: the edited RGB image at `resolution`, or the error
        (one line naming the pair and the file) for a pair whose output is missing or invalid.
        Raises `ExternalMethodError` when a command run fails or times out. The outputs of batches
        that finished before it are then not returned, so keep batches small for long runs.
        """
        if not pairs:
            return []
        for pair in pairs:
            _check_pair_id(pair.pair.pair_id)

        if self.settings.get("import_dir"):
            return [self._import(pair) for pair in pairs]
        if not self.settings.get("command"):
            raise ConfigError(self.availability(self.config)[1])

        batch_size = int(self.settings.get("batch_size") or 0) or len(pairs)
        results: list[Image.Image | EgobenchError] = []
        for start in range(0, len(pairs), batch_size):
            chunk = pairs[start : start + batch_size]
            logger.info(
                "%s: running the command on pairs %d-%d of %d", self.name, start + 1, start + len(chunk), len(pairs)
            )
            results.extend(self._run_batch(chunk, seed, self._batch_root(work_dir)))
        return results

    def _batch_root(self, work_dir: str | Path | None) -> Path:
        if work_dir is not None:
            return Path(work_dir)
        if self.settings.get("work_dir"):
            return Path(self.settings["work_dir"])
        if self._work_root is None:
            # Kept after the run: the batch files and command.log are what a user inspects after a failure.
            self._work_root = Path(tempfile.mkdtemp(prefix=f"egobench-{self.name}-"))
            logger.info("%s: batch files go to %s", self.name, self._work_root)
        return self._work_root

    def _run_batch(self, pairs: list[LoadedPair], seed: int, root: Path) -> list[Image.Image | EgobenchError]:
        root.mkdir(parents=True, exist_ok=True)
        batch_dir = Path(tempfile.mkdtemp(prefix="batch-", dir=root)).resolve()
        batch_file = write_batch(
            pairs, batch_dir, method=self.name, seed=seed, resolution=self.resolution, settings=self.settings
        )

        values = {
            "inputs_json": str(batch_file),
            "output_dir": str(batch_dir / "outputs"),
            "batch_dir": str(batch_dir),
            "seed": str(seed),
            "resolution": str(self.resolution),
        }
        argv = [_PLACEHOLDER.sub(lambda match: values[match.group(1)], token) for token in shlex.split(self.settings["command"])]
        environment = dict(os.environ, EGOBENCH_INPUTS_JSON=values["inputs_json"], EGOBENCH_OUTPUT_DIR=values["output_dir"])
        timeout = float(self.settings.get("timeout") or 3600)
        description = f"{self.name} command on {len(pairs)} pair(s) starting with {pairs[0].pair.pair_id}"
        run_command(argv, cwd=self.settings.get("cwd"), env=environment, timeout=timeout, log_path=batch_dir / "command.log", description=description)

        return [self._read_output(batch_dir / "outputs" / f"{pair.pair.pair_id}.png", pair.pair.pair_id) for pair in pairs]

    def _import(self, pair: LoadedPair) -> Image.Image | EgobenchError:
        path = Path(self.settings["import_dir"]) / f"{pair.pair.pair_id}.png"
        return self._read_output(path, pair.pair.pair_id)

    def _read_output(self, path: Path, pair_id: str) -> Image.Image | EgobenchError:
        """Return the edited image at `path`, or the error that names the pair and the file."""
        if not path.is_file():
            return ExternalMethodError(f"pair {pair_id}: {self.name} output {path} is missing; the method must write one PNG per pair")
        try:
            with Image.open(path) as image:
                image.load()
                edited = image.convert("RGB")
        except (UnidentifiedImageError, OSError) as error:
            return ExternalMethodError(f"pair {pair_id}: {self.name} output {path} is not a readable image ({error})")
        if edited.size != (self.resolution, self.resolution):
            width, height = edited.size
            return ExternalMethodError(
                f"pair {pair_id}: {self.name} output {path} is {width}x{height}, expected "
                f"{self.resolution}x{self.resolution} (the size of the inputs it was given)"
            )
        return edited


def write_batch(
    pairs: list[LoadedPair], batch_dir: Path, *, method: str, seed: int, resolution: int, settings: dict
) -> Path:
    """Write the pairs' inputs and `batch.json` into `batch_dir`; returns the batch file's path."""
    inputs_dir = batch_dir / "inputs"
    output_dir = batch_dir / "outputs"
    output_dir.mkdir(parents=True, exist_ok=True)

    records = []
    for loaded in pairs:
        pair = loaded.pair
        folder = inputs_dir / pair.pair_id
        reference_object, _ = crop_object(loaded.reference, loaded.reference_mask, f"pair {pair.pair_id} reference")
        files = {
            "source": loaded.source.convert("RGB"),
            "source_mask": _mask_image(loaded.source_mask),
            "reference": loaded.reference.convert("RGB"),
            "reference_mask": _mask_image(loaded.reference_mask),
            "reference_object": reference_object,
        }
        record = {"pair_id": pair.pair_id}
        for role, image in files.items():
            save_image_atomic(image, folder / f"{role}.png")
            record[role] = str(folder / f"{role}.png")
        record["source_box"] = list(mask_box(loaded.source_mask, f"pair {pair.pair_id} source"))
        record["reference_box"] = list(mask_box(loaded.reference_mask, f"pair {pair.pair_id} reference"))
        for key in ("source_prompt", "reference_prompt", "target_prompt", "source_class", "reference_class"):
            record[key] = getattr(pair, key)
        record["output"] = str(output_dir / f"{pair.pair_id}.png")
        records.append(record)

    batch = {
        "schema": BATCH_SCHEMA,
        "method": method,
        "seed": seed,
        "resolution": resolution,
        "output_dir": str(output_dir),
        "settings": settings,
        "pairs": records,
    }
    batch_file = batch_dir / "batch.json"
    write_text_atomic(batch_file, json.dumps(batch, indent=2, default=str) + "\n")
    return batch_file


def run_command(argv: list[str], *, cwd, env: dict, timeout: float, log_path: Path, description: str) -> None:
    """Run `argv` with its output in `log_path`; kill its whole process group after `timeout` seconds.

    Raises `ExternalMethodError` (one line naming `description` and the log) on a timeout or a non-zero exit,
    and `ConfigError` when the executable or the working folder does not exist.
    """
    with open(log_path, "wb") as log:
        try:
            # A new session puts the command's own children in its process group, so a timeout ends them too.
            process = subprocess.Popen(argv, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        except FileNotFoundError as error:
            raise ConfigError(f"{description}: cannot start {argv[0]!r} ({error.strerror}: {error.filename}); fix the command or cwd") from error
        try:
            status = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(process)
            raise ExternalMethodError(
                f"{description} timed out after {timeout:g} s and was killed; raise the timeout setting or lower batch_size (log: {log_path})"
            ) from None
        except BaseException:
            _kill_group(process)
            raise
    if status != 0:
        tail = _log_tail(log_path)
        raise ExternalMethodError(f"{description} exited with status {status}: {tail!r} (full log: {log_path})")


def _kill_group(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()


def _log_tail(log_path: Path) -> str:
    lines = [line.strip() for line in log_path.read_text(encoding="utf-8", errors="replace").splitlines() if line.strip()]
    return " | ".join(lines[-_LOG_TAIL_LINES:]) if lines else "no output"


def _mask_image(mask: np.ndarray) -> Image.Image:
    return Image.fromarray(mask.astype(np.uint8) * 255, mode="L")


def _check_template(name: str, command: str) -> None:
    try:
        tokens = shlex.split(command)
    except ValueError as error:
        raise ConfigError(f"{name}.command {command!r}: invalid quoting ({error})") from error
    if not tokens:
        raise ConfigError(f"{name}.command is empty; set it to a command template or null")
    if "{inputs_json}" not in command and "{batch_dir}" not in command:
        raise ConfigError(
            f"{name}.command {command!r} names no input; include {{inputs_json}} (the batch file) so the command finds its pairs"
        )


def _check_pair_id(pair_id: str) -> None:
    if not _SAFE_PAIR_ID.match(pair_id) or ".." in pair_id:
        raise InputError(f"pair id {pair_id!r} cannot be used as a file name; use letters, digits, '.', '_', '+' and '-'")


@register_method("anydoor")
class AnyDoorMethod(ExternalMethod):
    """AnyDoor (Chen et al., 2024): zero-shot object insertion from a reference image and a target mask."""

    repository = "https://github.com/ali-vilab/AnyDoor"


@register_method("pair")
class PairDiffusionMethod(ExternalMethod):
    """PAIR-Diffusion (Goel et al., 2023): structure and appearance editing of objects from a reference."""

    repository = "https://github.com/Picsart-AI-Research/PAIR-Diffusion"


@register_method("dragon")
class DragonDiffusionMethod(ExternalMethod):
    """DragonDiffusion (Mou et al., 2024): feature-correspondence guidance, used here for object pasting."""

    repository = "https://github.com/MC-E/DragonDiffusion"
