"""`egobench list methods`: one row per preset with its status on this machine."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from egobench.cli import main


@pytest.fixture
def extra_presets(tmp_path, monkeypatch):
    """A preset folder searched before `methods/`: an imported anydoor, an uncached pbe and a broken preset."""
    folder = tmp_path / "presets"
    folder.mkdir()
    edits = tmp_path / "edits"
    edits.mkdir()
    (folder / "anydoor-imported.yaml").write_text(f"extends: anydoor\nanydoor:\n  import_dir: {edits}\n")
    (folder / "pbe-uncached.yaml").write_text("extends: pbe\npbe:\n  model: egobench-tests/no-such-model\n")
    (folder / "broken.yaml").write_text("method: no-such-method\n")
    monkeypatch.setenv("EGOBENCH_METHODS", str(folder))
    return folder


def _rows(runner_result) -> dict[str, dict]:
    assert runner_result.exit_code == 0, runner_result.output
    return {row["preset"]: row for row in json.loads(runner_result.output)}


def test_list_shows_shipped_presets():
    rows = _rows(CliRunner().invoke(main, ["list", "methods", "--json"]))

    for preset in ("source", "paste", "pbe", "anydoor", "pair", "dragon"):
        assert preset in rows
    assert rows["source"]["status"] == "ready"
    assert rows["source"]["step"] == ""
    assert rows["paste"]["status"] == "ready"
    for preset in ("anydoor", "pair", "dragon"):
        assert rows[preset]["status"] == "needs command configured"
        assert f"methods/external.md#{preset}" in rows[preset]["step"]


def test_list_follows_preset_settings(extra_presets):
    rows = _rows(CliRunner().invoke(main, ["list", "methods", "--json"]))

    assert rows["anydoor-imported"]["method"] == "anydoor"
    assert rows["anydoor-imported"]["status"] == "ready"
    assert rows["pbe-uncached"]["status"] == "needs weights"
    assert "hf download egobench-tests/no-such-model" in rows["pbe-uncached"]["step"]
    assert rows["broken"]["status"] == "invalid preset"
    assert "unknown method 'no-such-method'" in rows["broken"]["step"]


def test_list_table_names_each_preset():
    result = CliRunner().invoke(main, ["list", "methods"], terminal_width=200)

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    for preset in ("source", "paste", "pbe", "anydoor"):
        assert any(line.startswith(f"│ {preset} ") for line in lines), preset
    assert "needs command configured" in result.output
