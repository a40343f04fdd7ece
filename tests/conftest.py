"""Shared fixtures: paths to the real data in ../shared and small generated inputs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("DFD_SHARED", REPO.parent / "shared"))
SHARED_DATA = SHARED / "data"
SKIP_REASON = f"real data folder {SHARED_DATA} is absent (present on this project's CI; a fresh clone elsewhere has none)"


def require_shared(*parts: str) -> Path:
    """Path under ../shared, or skip the test with a clear reason when it is absent."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{path} must exist on CI")
        pytest.skip(SKIP_REASON)
    return path


@pytest.fixture(scope="session")
def shared_dfdc() -> Path:
    return require_shared("data", "dfdc")


@pytest.fixture(scope="session")
def shared_ffpp() -> Path:
    return require_shared("data", "ffpp")


@pytest.fixture(autouse=True, scope="session")
def _isolated_cache(tmp_path_factory) -> None:
    """Keep the probe cache of test runs out of the user's home."""
    os.environ["DFD_CACHE_DIR"] = str(tmp_path_factory.mktemp("cache"))
