"""Makes tests/integration/orchlib.py importable from tests/e2e."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
import orchlib  # noqa: E402,F401
