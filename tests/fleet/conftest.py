import pytest

from fleet.escalation.config import EXAMPLE_PATH as ESCALATION_EXAMPLE
from fleet.settings import EXAMPLE_NAME
from tests.fleet_processes import ROOT


@pytest.fixture
def fleet_toml(tmp_path):
    """A whole fleet.toml made as docs/fleet.md says: the docs' example, then the escalation example."""
    path = tmp_path / "fleet.toml"
    path.write_text((ROOT / EXAMPLE_NAME).read_text(encoding="utf-8") + "\n" + ESCALATION_EXAMPLE.read_text(encoding="utf-8"), encoding="utf-8")
    path.chmod(0o640)
    return path
