"""The call records' key: where it comes from, the file `run` creates, and that it is never
printed (router/records/key.py)."""

from __future__ import annotations

import multiprocessing
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from router.records.key import RecordKeyError, records_key
from router.settings import load_settings
from router.settings_parsers import SettingsError
from tests.observe.keyed import KEY_TEXT

REPO = Path(__file__).resolve().parents[2]


def _key_id_in(path: str, out: multiprocessing.Queue[str]) -> None:
    settings = load_settings({"E911_RECORDS_KEY_FILE": path})
    out.put(records_key(settings, create=True).key_id)


def test_first_start_creates_a_0600_key_file_once_and_logs_only_its_id(tmp_path: Path) -> None:
    """No key given: a 64-hex-character key is written to the key file (0600) and
    `e911.records.key_created` names the file and the key id; the next start reads the same
    key and logs nothing."""
    path = tmp_path / "var" / "records.key"
    settings = load_settings({"E911_RECORDS_KEY_FILE": str(path)})
    with capture_logs() as logs:
        key = records_key(settings, create=True)
    text = path.read_text()
    assert len(text.strip()) == 64 and int(text, 16) >= 0
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert logs == [{"event": "e911.records.key_created", "log_level": "warning",
                     "path": str(path), "key_id": key.key_id,
                     "note": "keep a copy; every host sharing this store needs the same key"}]
    assert text.strip() not in repr(key)
    with capture_logs() as again:
        assert records_key(settings, create=True) == key
    assert again == []
    assert [p.name for p in path.parent.iterdir()] == ["records.key"]


def test_a_key_file_that_cannot_be_created_is_a_key_error_saying_what_to_do(
    tmp_path: Path,
) -> None:
    """A key file path whose directory cannot be made (here: under a regular file; in a
    deployment, a read-only /etc) raises RecordKeyError naming the file and the fix, so `run`
    exits 2 with one line instead of a traceback."""
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    path = blocker / "records.key"
    with pytest.raises(RecordKeyError) as failed:
        records_key(load_settings({"E911_RECORDS_KEY_FILE": str(path)}), create=True)
    assert str(failed.value).startswith(f"E911_RECORDS_KEY_FILE={path}: cannot create it (")
    assert str(failed.value).endswith(f"create it yourself (`openssl rand -hex 32 > {path}; "
                                      f"chmod 600 {path}`) or set E911_RECORDS_KEY")


def test_workers_starting_together_end_with_one_key(tmp_path: Path) -> None:
    """Four processes creating the key file at once all use the same key."""
    path = str(tmp_path / "records.key")
    context = multiprocessing.get_context("spawn")
    out: multiprocessing.Queue[str] = context.Queue()
    processes = [context.Process(target=_key_id_in, args=(path, out)) for _ in range(4)]
    for process in processes:
        process.start()
    ids = {out.get(timeout=60) for _ in processes}
    for process in processes:
        process.join(60)
    assert len(ids) == 1
    assert [p.exitcode for p in processes] == [0, 0, 0, 0]


def test_the_key_setting_wins_and_a_short_one_is_refused_without_echoing_it(
    tmp_path: Path,
) -> None:
    """E911_RECORDS_KEY is used before any file (none is created); fewer than 32 characters is
    a settings error that names the variable and not the value."""
    path = tmp_path / "records.key"
    settings = load_settings({"E911_RECORDS_KEY": KEY_TEXT, "E911_RECORDS_KEY_FILE": str(path)})
    assert records_key(settings, create=True).source == "E911_RECORDS_KEY"
    assert not path.exists()
    with pytest.raises(SettingsError) as short:
        load_settings({"E911_RECORDS_KEY": "hunter2-secret"})
    assert str(short.value).startswith("E911_RECORDS_KEY: needs at least 32 characters")
    assert "hunter2" not in str(short.value)
    with pytest.raises(RecordKeyError, match="no such file"):
        records_key(load_settings({"E911_RECORDS_KEY_FILE": str(path)}), create=False)


def test_run_refuses_to_start_with_a_key_file_others_can_read(tmp_path: Path) -> None:
    """`e911-router run` with a world-readable key file exits 2 before starting anything,
    saying what to do, without printing the key."""
    path = tmp_path / "records.key"
    path.write_text(KEY_TEXT + "\n")
    path.chmod(0o644)
    env = {k: v for k, v in os.environ.items() if not k.startswith("E911_")}
    env.update({"E911_RECORDS_KEY_FILE": str(path), "E911_LOG_FORMAT": "json",
                "E911_DATABASE_URL": f"sqlite:///{tmp_path}/e911.db", "PYTHONPATH": str(REPO)})
    result = subprocess.run([sys.executable, "-m", "router", "run"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: E911_RECORDS_KEY_FILE={path}: readable by group or others (mode 0644); run "
        f"`chmod 600 {path}`")
    assert KEY_TEXT not in result.stderr + result.stdout
