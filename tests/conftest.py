import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib" / "python"))

import pytest  # noqa: E402

import sdtest  # noqa: E402


@pytest.fixture
def stack(tmp_path):
    """A private config directory and data directory; processes started through it are
    stopped at the end of the test."""
    s = sdtest.Stack(tmp_path)
    yield s
    s.close()
