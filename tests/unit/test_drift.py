"""make test-latest's report: which installed packages are not at the lock's version."""

from __future__ import annotations

from pathlib import Path

from imgpipe_tools.drift import drift, locked_versions


def test_drift_names_each_package_the_lock_does_not_hold() -> None:
    locked = {"moto": {"5.2.5"}, "numpy": {"2.4.6", "2.5.5"}, "pillow": {"13.0.0"}}
    installed = {"moto": "5.2.6", "numpy": "2.5.5", "Pillow": "13.0.0", "new_thing": "1.0"}
    assert drift(installed, locked) == ["moto 5.2.5 -> 5.2.6", "new-thing 1.0 (not in the lock)"]


def test_the_lock_is_read_with_every_version_of_a_package(tmp_path: Path) -> None:
    lock = tmp_path / "uv.lock"
    lock.write_text(
        'version = 1\n[[package]]\nname = "numpy"\nversion = "2.4.6"\n'
        '[[package]]\nname = "numpy"\nversion = "2.5.5"\n[[package]]\nname = "moto"\nversion = "5.2.5"\n'
    )
    assert locked_versions(lock) == {"numpy": {"2.4.6", "2.5.5"}, "moto": {"5.2.5"}}
