"""External adapters (anydoor, pair, dragon): batch commands, timeouts, output checks and imports."""

from __future__ import annotations

import json
import shlex
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from egobench.cli import main

from egobench.errors import ConfigError, InputError
from egobench.methods import create_method
from egobench.methods.external import BATCH_SCHEMA, AnyDoorMethod, ExternalMethodError
from tests.helpers import dreamedit_layout
from tests.methods_pairs import REFERENCE_OBJECT, synthetic_pair

PAIR_IDS = ["cat-found0-00", "cat-found1-01", "dog-found0-00"]

# Fills each source mask with the reference object's mean colour, its red channel shifted by the seed.
EDIT_SCRIPT = textwrap.dedent(
    """
    import argparse, json, os, subprocess, sys, time

    parser = argparse.ArgumentParser()
    parser.add_argument("batch")
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--skip", default="")
    parser.add_argument("--wrong-size", default="")
    parser.add_argument("--sleep", type=float, default=0)
    parser.add_argument("--pid-file", default="")
    parser.add_argument("--fail", action="store_true")
    arguments = parser.parse_args()

    if arguments.pid_file:
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        with open(arguments.pid_file, "w") as handle:
            handle.write(f"{os.getpid()} {child.pid}")
    time.sleep(arguments.sleep)
    if arguments.fail:
        print("loading checkpoint")
        print("RuntimeError: checkpoint epoch=1.ckpt not found", file=sys.stderr)
        sys.exit(3)

    # Imported after the pid file is written, so that a slow import cannot outlast the timeout test.
    import numpy as np
    from PIL import Image

    batch = json.load(open(arguments.batch))
    for pair in batch["pairs"]:
        if pair["pair_id"] == arguments.skip:
            continue
        source = np.array(Image.open(pair["source"]).convert("RGB"))
        mask = np.array(Image.open(pair["source_mask"])) == 255
        colour = np.array(Image.open(pair["reference_object"]).convert("RGB")).reshape(-1, 3).mean(axis=0)
        colour[0] = (colour[0] + arguments.seed) % 256
        source[mask] = colour.round().astype(np.uint8)
        edited = Image.fromarray(source)
        if pair["pair_id"] == arguments.wrong_size:
            edited = edited.resize((32, 32))
        edited.save(pair["output"])
    """
)


@pytest.fixture
def edit_script(tmp_path) -> Path:
    path = tmp_path / "edit_pairs.py"
    path.write_text(EDIT_SCRIPT, encoding="utf-8")
    return path


def _anydoor(tmp_path: Path, script: Path, extra: str = "", **settings):
    command = f"{shlex.quote(sys.executable)} {shlex.quote(str(script))} {{inputs_json}} --seed {{seed}} {extra}"
    overrides = [f"anydoor.command={json.dumps(command)}", "anydoor.resolution=64", f"anydoor.work_dir={tmp_path / 'work'}"]
    overrides += [f"anydoor.{key}={value}" for key, value in settings.items()]
    return create_method("anydoor", model=None, device="cpu", overrides=overrides)


def _expected(pair_id: str, seed: int) -> np.ndarray:
    pair = synthetic_pair(pair_id)
    expected = np.array(pair.source)
    expected[pair.source_mask] = ((REFERENCE_OBJECT[0] + seed) % 256, REFERENCE_OBJECT[1], REFERENCE_OBJECT[2])
    return expected


def _alive(pid: int) -> bool:
    stat = Path(f"/proc/{pid}/stat")
    try:
        state = stat.read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    # A killed process that was not reaped yet is a zombie ("Z"): it no longer runs.
    return state not in ("Z", "X")


def _ended_within(pid: int, seconds: float) -> bool:
    # SIGKILL is delivered asynchronously, so a busy machine may show the process for a moment longer.
    deadline = time.monotonic() + seconds
    while _alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_command_edits_three_pairs(tmp_path, edit_script):
    method = _anydoor(tmp_path, edit_script, batch_size=2)
    pairs = [synthetic_pair(pair_id) for pair_id in PAIR_IDS]

    results = method.edit_batch(pairs, seed=5)

    assert len(results) == 3
    for pair_id, result in zip(PAIR_IDS, results):
        assert isinstance(result, Image.Image), result
        assert result.size == (64, 64)
        assert np.array_equal(np.asarray(result), _expected(pair_id, seed=5))
    # batch_size 2 over 3 pairs: two command runs, each with its own batch folder and log.
    batch_dirs = sorted((tmp_path / "work").iterdir())
    assert len(batch_dirs) == 2
    assert all((folder / "command.log").is_file() for folder in batch_dirs)


def test_batch_file_follows_schema(tmp_path, edit_script):
    method = _anydoor(tmp_path, edit_script)
    method.edit_batch([synthetic_pair(pair_id) for pair_id in PAIR_IDS], seed=1)
    (batch_dir,) = (tmp_path / "work").iterdir()

    batch = json.loads((batch_dir / "batch.json").read_text())

    assert batch["schema"] == BATCH_SCHEMA
    assert batch["method"] == "anydoor"
    assert (batch["seed"], batch["resolution"]) == (1, 64)
    assert batch["output_dir"] == str(batch_dir / "outputs")
    assert [record["pair_id"] for record in batch["pairs"]] == PAIR_IDS
    record = batch["pairs"][0]
    assert record["source_box"] == [16, 16, 48, 48]
    assert record["reference_box"] == [24, 8, 40, 56]
    assert record["target_prompt"] == "a photo of a cat"
    assert record["output"] == str(batch_dir / "outputs" / "cat-found0-00.png")
    mask = np.asarray(Image.open(record["source_mask"]))
    assert set(np.unique(mask)) == {0, 255}
    assert Image.open(record["reference_object"]).size == (16, 48)
    assert Image.open(record["source"]).size == (64, 64)


def test_seed_changes_command_output(tmp_path, edit_script):
    method = _anydoor(tmp_path, edit_script)
    pair = synthetic_pair()

    assert np.array_equal(np.asarray(method.edit(pair, seed=3)), np.asarray(method.edit(pair, seed=3)))
    assert not np.array_equal(np.asarray(method.edit(pair, seed=3)), np.asarray(method.edit(pair, seed=4)))


def test_missing_output_names_pair_and_file(tmp_path, edit_script):
    method = _anydoor(tmp_path, edit_script, extra=f"--skip {PAIR_IDS[1]}")

    results = method.edit_batch([synthetic_pair(pair_id) for pair_id in PAIR_IDS], seed=0)

    assert isinstance(results[0], Image.Image)
    assert isinstance(results[2], Image.Image)
    assert isinstance(results[1], ExternalMethodError)
    message = str(results[1])
    assert message.startswith(f"pair {PAIR_IDS[1]}: anydoor output ")
    assert f"outputs/{PAIR_IDS[1]}.png is missing" in message
    assert "\n" not in message


def test_wrong_size_output_rejected(tmp_path, edit_script):
    method = _anydoor(tmp_path, edit_script, extra=f"--wrong-size {PAIR_IDS[0]}")

    with pytest.raises(ExternalMethodError, match=rf"pair {PAIR_IDS[0]}: .*{PAIR_IDS[0]}\.png is 32x32, expected 64x64"):
        method.edit(synthetic_pair(PAIR_IDS[0]), seed=0)


def test_timeout_kills_command_and_children(tmp_path, edit_script):
    pid_file = tmp_path / "pids.txt"
    method = _anydoor(tmp_path, edit_script, extra=f"--sleep 60 --pid-file {pid_file}", timeout=4)

    with pytest.raises(ExternalMethodError, match=r"anydoor command on 1 pair\(s\) .* timed out after 4 s and was killed"):
        method.edit(synthetic_pair(), seed=0)

    command_pid, child_pid = (int(value) for value in pid_file.read_text().split())
    assert _ended_within(command_pid, 10)
    assert _ended_within(child_pid, 10)


def test_failing_command_quotes_last_output_line(tmp_path, edit_script):
    method = _anydoor(tmp_path, edit_script, extra="--fail")

    with pytest.raises(ExternalMethodError) as caught:
        method.edit_batch([synthetic_pair()], seed=0)

    message = str(caught.value)
    assert "exited with status 3" in message
    assert "checkpoint epoch=1.ckpt not found" in message
    assert "command.log" in message


def test_missing_executable_is_config_error(tmp_path):
    overrides = ["anydoor.command='no-such-program-egobench {inputs_json}'", f"anydoor.work_dir={tmp_path}"]
    method = create_method("anydoor", model=None, device="cpu", overrides=overrides)

    with pytest.raises(ConfigError, match="cannot start 'no-such-program-egobench'"):
        method.edit(synthetic_pair(), seed=0)


def test_template_without_inputs_rejected():
    with pytest.raises(ConfigError, match=r"names no input; include \{inputs_json\}"):
        create_method("pair", model=None, device="cpu", overrides=["pair.command='python run.py'"])


def test_import_reads_pair_images(tmp_path):
    import_dir = tmp_path / "anydoor-edits"
    import_dir.mkdir()
    for index, pair_id in enumerate(PAIR_IDS[:2]):
        Image.fromarray(_expected(pair_id, seed=index)).save(import_dir / f"{pair_id}.png")
    Image.new("RGB", (48, 64)).save(import_dir / f"{PAIR_IDS[2]}.png")
    method = create_method("dragon", model=None, device="cpu", overrides=[f"dragon.import_dir={import_dir}", "dragon.resolution=64"])

    results = method.edit_batch([synthetic_pair(pair_id) for pair_id in PAIR_IDS], seed=0)

    assert np.array_equal(np.asarray(results[0]), _expected(PAIR_IDS[0], seed=0))
    assert np.array_equal(np.asarray(results[1]), _expected(PAIR_IDS[1], seed=1))
    assert isinstance(results[2], ExternalMethodError)
    assert f"{PAIR_IDS[2]}.png is 48x64, expected 64x64" in str(results[2])
    with pytest.raises(ExternalMethodError, match="cat-found9-00.png is missing"):
        method.edit(synthetic_pair("cat-found9-00"), seed=0)


def test_unconfigured_adapter_names_setup_step():
    method = create_method("anydoor", model=None, device="cpu")

    with pytest.raises(ConfigError, match=r"set anydoor.command or anydoor.import_dir .*\(setup: methods/external.md#anydoor\)"):
        method.edit(synthetic_pair(), seed=0)


def test_availability_follows_settings(tmp_path):
    ready, step = AnyDoorMethod.availability({"anydoor": {"command": None, "import_dir": None}})
    assert not ready
    assert "anydoor.command" in step

    ready, step = AnyDoorMethod.availability({"anydoor": {"import_dir": str(tmp_path / "absent")}})
    assert not ready
    assert "absent not found" in step

    ready, _ = AnyDoorMethod.availability({"anydoor": {"import_dir": str(tmp_path)}})
    assert ready

    ready, _ = AnyDoorMethod.availability({"anydoor": {"command": f"{sys.executable} run.py {{inputs_json}}"}})
    assert ready

    ready, step = AnyDoorMethod.availability({"anydoor": {"command": "no-such-program-egobench {inputs_json}"}})
    assert not ready
    assert "not on PATH" in step


def test_unsafe_pair_id_rejected(tmp_path, edit_script):
    method = _anydoor(tmp_path, edit_script)

    with pytest.raises(InputError, match=r"pair id '\.\./escape' cannot be used as a file name"):
        method.edit(synthetic_pair("../escape"), seed=0)


def test_runner_command_then_import(tmp_path, edit_script):
    data_root, subjects = dreamedit_layout(tmp_path, {"dog": 3})
    command = f"{shlex.quote(sys.executable)} {shlex.quote(str(edit_script))} {{inputs_json}} --seed {{seed}}"
    common = ["run", "--data-root", str(data_root), "--subjects", str(subjects), "--device", "cpu", "--seed", "2", "--metrics", "none"]

    by_command = CliRunner().invoke(
        main,
        [*common, "--method", "anydoor", "--out", str(tmp_path / "command-run"), "--set", f"anydoor.command={json.dumps(command)}",
         "--set", "anydoor.resolution=64", "--set", f"anydoor.work_dir={tmp_path / 'work'}"],
        catch_exceptions=False,
    )

    assert by_command.exit_code == 0, by_command.output
    edited = sorted((tmp_path / "command-run" / "pairs").glob("*/edited.png"))
    assert len(edited) == 3
    # The runner hands all three pairs to edit_batch, so the command ran once, not once per pair.
    batch_files = list(tmp_path.rglob("batch.json"))
    assert len(batch_files) == 1
    import_dir = tmp_path / "edits"
    import_dir.mkdir()
    for path in edited:
        (import_dir / f"{path.parent.name}.png").write_bytes(path.read_bytes())

    by_import = CliRunner().invoke(
        main,
        [*common, "--method", "pair", "--out", str(tmp_path / "import-run"), "--set", f"pair.import_dir={import_dir}",
         "--set", "pair.resolution=64"],
        catch_exceptions=False,
    )

    assert by_import.exit_code == 0, by_import.output
    for path in edited:
        imported = tmp_path / "import-run" / "pairs" / path.parent.name / "edited.png"
        assert np.array_equal(np.asarray(Image.open(imported)), np.asarray(Image.open(path)))
        # The script filled the source mask with the reference object's colour, so the edit differs from the source.
        source = tmp_path / "command-run" / "pairs" / path.parent.name / "source.png"
        assert not np.array_equal(np.asarray(Image.open(path)), np.asarray(Image.open(source)))
