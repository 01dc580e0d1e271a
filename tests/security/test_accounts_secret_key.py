"""The secret-key file: private from its first byte, one key for concurrent first starts, in the data folder;
keys shorter than 32 bytes are refused at start."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from lims.app import create_app
from lims.settings import SettingsError, get_settings

SRC = str(Path(__file__).resolve().parents[2] / "src")

# Records how the key file comes into being: every open of the final path for writing, every chmod of
# it, and the mode and content of whatever is linked or renamed into place.
WATCH_CREATION = r"""
import json, os, stat, sys
from pathlib import Path
var = Path(sys.argv[1]).absolute()
final = str(var / "secret_key")
seen = {"writes": [], "chmods": [], "placed": []}
def is_final(path):
    return isinstance(path, (str, bytes, os.PathLike)) and os.path.abspath(os.fsdecode(path)) == final
def hook(event, args):
    if event == "open" and args and is_final(args[0]):
        flags = args[2] if len(args) > 2 and isinstance(args[2], int) else 0
        mode = args[1] if len(args) > 1 and isinstance(args[1], str) else ""
        if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT) or any(c in mode for c in "wax+"):
            seen["writes"].append(repr(args[1:]))
    elif event == "os.chmod" and args and is_final(args[0]):
        seen["chmods"].append(oct(args[1]))
    elif event in ("os.link", "os.rename", "os.replace") and len(args) > 1 and is_final(args[1]):
        source = os.stat(args[0])
        with open(args[0], "rb") as handle:
            seen["placed"].append({"mode": oct(stat.S_IMODE(source.st_mode)), "bytes": len(handle.read())})
sys.addaudithook(hook)
os.umask(0)
from lims.settings import Settings
key = Settings().resolved_secret_key()
seen["key_bytes"] = len(key)
seen["mode"] = oct(stat.S_IMODE(os.stat(final).st_mode))
print(json.dumps(seen))
"""

# A second server starts while the first is between finding no key file and writing one.
RACE = r"""
import json, sys
from pathlib import Path
var = Path(sys.argv[1]).absolute()
from lims.settings import Settings
second = {}
def hook(event, args):
    if event == "os.mkdir" and not second and args and Path(args[0]).absolute() == var:
        second["key"] = ""
        second["key"] = Settings().resolved_secret_key()
sys.addaudithook(hook)
first = Settings().resolved_secret_key()
print(json.dumps({"first": first, "second": second["key"], "file": (var / "secret_key").read_text().strip()}))
"""


def _python(script: str, cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LIMS_")}
    return subprocess.run(
        [sys.executable, "-c", script, *args],
        cwd=cwd,
        env={**clean, "PYTHONPATH": SRC, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_key_file_is_private_from_its_first_byte(tmp_path: Path) -> None:
    done = _python(WATCH_CREATION, tmp_path, "data", LIMS_VAR_DIR="data")
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert seen["writes"] == [], "the key file was opened for writing in place (visible while incomplete)"
    assert seen["chmods"] == [], "the key file needed a chmod after it was created"
    assert seen["placed"] == [{"mode": "0o600", "bytes": seen["key_bytes"] + 1}]
    assert seen["mode"] == "0o600"


def test_two_first_starts_get_the_same_key(tmp_path: Path) -> None:
    done = _python(RACE, tmp_path, "data", LIMS_VAR_DIR="data")
    assert done.returncode == 0, done.stderr
    keys = json.loads(done.stdout)
    assert keys["second"], "the second start did not run"
    assert keys["first"] == keys["second"] == keys["file"]


def test_key_lives_in_the_data_folder_not_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LIMS_VAR_DIR", "")
    monkeypatch.delenv("LIMS_SECRET_KEY")
    get_settings.cache_clear()
    key = get_settings().resolved_secret_key()
    assert (tmp_path / "var" / "secret_key").read_text().strip() == key
    assert not (tmp_path / "secret_key").exists()
    assert stat.S_IMODE((tmp_path / "var" / "secret_key").stat().st_mode) == 0o600
    # The folder is fixed when the settings are read: a later change of directory does not move it.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert get_settings().var_dir == tmp_path / "var"
    assert get_settings().resolved_database_url() == f"sqlite:///{tmp_path / 'var' / 'lims.db'}"
    # Unset means the same default.
    monkeypatch.delenv("LIMS_VAR_DIR")
    get_settings.cache_clear()
    assert get_settings().var_dir == elsewhere / "var"


def test_a_short_key_is_refused_at_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, engine: Engine) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "lims", "db", "upgrade"],
        cwd=tmp_path,
        env={**{k: v for k, v in os.environ.items() if not k.startswith("LIMS_")}, "LIMS_SECRET_KEY": "x" * 31},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2
    assert "LIMS_SECRET_KEY has 31 bytes; it needs at least 32" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "var").exists()  # refused before anything was written

    monkeypatch.setenv("LIMS_SECRET_KEY", "short")
    get_settings.cache_clear()
    with pytest.raises(SettingsError, match="at least 32"):
        create_app(engine)


def test_a_short_key_file_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, engine: Engine) -> None:
    var = tmp_path / "data"
    var.mkdir()
    (var / "secret_key").write_text("too-short\n")
    (var / "secret_key").chmod(0o600)
    monkeypatch.setenv("LIMS_VAR_DIR", str(var))
    monkeypatch.delenv("LIMS_SECRET_KEY")
    get_settings.cache_clear()
    with pytest.raises(SettingsError, match="needs at least 32"):
        create_app(engine)


def test_a_32_byte_key_is_accepted(monkeypatch: pytest.MonkeyPatch, engine: Engine) -> None:
    monkeypatch.setenv("LIMS_SECRET_KEY", "k" * 32)
    get_settings.cache_clear()
    app: Any = create_app(engine)
    assert app.state.signin_throttle is not None
