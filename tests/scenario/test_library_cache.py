"""load_cached: one parse per unchanged file, bounded, and safe when another thread (an HTTP API
request) clears the cache in the middle of a load."""

from __future__ import annotations

from pathlib import Path

import pytest

from smtpfake.scenario import Scenario, library

YAML = "summary: cached\nexpect: nothing\n"


def test_an_unchanged_file_is_parsed_once(tmp_path: Path) -> None:
    path = tmp_path / "cached.yaml"
    path.write_text(YAML, encoding="utf-8")
    assert library.load_cached(path) is library.load_cached(path)


def test_a_clear_by_another_thread_right_after_the_store_is_harmless(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "raced.yaml"
    path.write_text(YAML, encoding="utf-8")

    class Racing(dict[tuple[str, int, int], Scenario]):
        """Another thread clears the cache (over its bound) just after this one stored."""

        def __setitem__(self, key: tuple[str, int, int], value: Scenario) -> None:
            super().__setitem__(key, value)
            self.clear()

    monkeypatch.setattr(library, "_CACHE", Racing())
    assert library.load_cached(path).summary == "cached"


def test_the_cache_stays_bounded(tmp_path: Path) -> None:
    for i in range(300):
        path = tmp_path / f"s{i}.yaml"
        path.write_text(YAML, encoding="utf-8")
        library.load_cached(path)
    assert len(library._CACHE) <= 256
