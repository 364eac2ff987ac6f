import csv
import io
import json
import subprocess
import sys
from pathlib import Path

from bench_data import build_dreamedit_folder
from click.testing import CliRunner
from PIL import Image

from egobench.cli import main

REPO_ROOT = Path(__file__).resolve().parents[2]


def _invoke(*arguments):
    return CliRunner().invoke(main, list(arguments))


def test_list_names_benchmarks():
    result = _invoke("bench", "list")

    assert result.exit_code == 0
    for name in ("dreamedit", "piebench", "folder"):
        assert name in result.output
    assert "--pairing" in result.output


def test_show_table(dreamedit_folder):
    data_root, subjects = dreamedit_folder

    result = _invoke("bench", "show", "dreamedit", "--data-root", str(data_root), "--subjects", str(subjects))

    assert result.exit_code == 0, result.output
    assert "cat-found4-found2" in result.stdout
    assert "replacement_source/cat/found4.jpg" in result.stdout
    assert "11 pairs over 3 subjects" in result.stderr


def test_show_csv(dreamedit_folder):
    data_root, subjects = dreamedit_folder

    result = _invoke("bench", "show", "dreamedit", "--data-root", str(data_root), "--pairing", "all", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(result.stdout)))

    assert result.exit_code == 0
    assert len(rows) == 34
    assert rows[0]["pair_id"] == "backpack_dog-found0-found1"
    assert rows[0]["source_image"] == str(data_root / "replacement_source" / "backpack_dog" / "found0.jpg")


def test_show_limit(dreamedit_folder):
    data_root, _ = dreamedit_folder

    result = _invoke("bench", "show", "dreamedit", "--data-root", str(data_root), "--format", "csv", "--limit", "2")

    assert len(result.stdout.strip().splitlines()) == 3
    assert "11 pairs" in result.stderr


def test_show_writes_strips(tmp_path):
    data_root, _ = build_dreamedit_folder(tmp_path, {"dog": 2})
    strips = tmp_path / "strips"

    result = _invoke(
        "bench", "show", "dreamedit", "--data-root", str(data_root), "--strips", str(strips), "--resolution", "32"
    )

    assert result.exit_code == 0, result.output
    assert sorted(path.name for path in strips.glob("*.png")) == ["dog-found0-found1.png", "dog-found1-found0.png"]
    with Image.open(strips / "dog-found0-found1.png") as strip:
        assert strip.size == (128, 32)
    assert len(list((strips / "masks").glob("*-32.png"))) == 2


def test_show_bad_input_one_line(tmp_path):
    manifest = tmp_path / "pairs.csv"
    manifest.write_text("source_image,reference_image,source_class,reference_class\na.png,b.png,cat,dog\n")

    result = _invoke("bench", "show", "folder", "--manifest", str(manifest))

    assert result.exit_code == 2
    assert result.stderr.startswith("error: ")
    assert result.stderr.count("\n") == 1
    assert "line 2: source_image 'a.png' not found" in result.stderr


def test_show_misplaced_option_error(dreamedit_folder):
    data_root, _ = dreamedit_folder

    result = _invoke("bench", "show", "piebench", "--data-root", str(data_root), "--pairing", "swap")

    assert result.exit_code == 2
    assert result.stderr == "error: benchmark 'piebench' does not take --pairing; it takes: --data-root, --seed\n"


def test_show_loads_no_model(dreamedit_folder):
    data_root, _ = dreamedit_folder
    script = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from egobench.benches.cli import bench\n"
        f"result = CliRunner().invoke(bench, ['show', 'dreamedit', '--data-root', {str(data_root)!r}])\n"
        "heavy = sorted(name for name in ('torch', 'diffusers', 'transformers', 'open_clip') if name in sys.modules)\n"
        "print(__import__('json').dumps({'exit_code': result.exit_code, 'heavy': heavy}))\n"
    )

    completed = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    outcome = json.loads(completed.stdout.strip().splitlines()[-1])

    assert outcome == {"exit_code": 0, "heavy": []}


def test_shared_data_show_counts(shared_data):
    result = _invoke(
        "bench",
        "show",
        "dreamedit",
        "--data-root",
        str(shared_data / "dreamedit-proxy"),
        "--subjects",
        str(shared_data / "dreambooth"),
        "--format",
        "csv",
    )
    rows = list(csv.DictReader(io.StringIO(result.stdout)))

    assert result.exit_code == 0
    assert len(rows) == 210
    assert len({row["group"] for row in rows}) == 24
    assert "leaving each odd image out instead would give 208 pairs" in result.stderr


def test_module_entry_point():
    completed = subprocess.run(
        [sys.executable, "-m", "egobench", "bench", "list"], cwd=REPO_ROOT, capture_output=True, text=True
    )

    assert completed.returncode == 0
    assert "piebench" in completed.stdout


def test_show_piebench_seeded_csv(piebench_folder):
    arguments = ["bench", "show", "piebench", "--data-root", str(piebench_folder), "--format", "csv"]

    first = _invoke(*arguments, "--seed", "3")
    again = _invoke(*arguments, "--seed", "3")
    other = _invoke(*arguments, "--seed", "4")

    assert first.exit_code == 0, first.output
    assert len(list(csv.DictReader(io.StringIO(first.stdout)))) == 50
    assert again.stdout == first.stdout
    assert other.stdout != first.stdout
    assert "50 pairs over 50 categories" in first.stderr
