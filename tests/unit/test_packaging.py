"""The wheel ships the engine and its Avro schemas, and the console script."""

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_wheel_contains_schemas_and_entry_point(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
        check=True,
        timeout=300,
    )
    wheel = next(tmp_path.glob("logloom-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    for schema in (ROOT / "schemas").glob("*.avsc"):
        assert f"engine/schemas/{schema.name}" in names
    assert any(n.startswith("engine/schemas/released/") for n in names)
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "logloom = engine.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()
