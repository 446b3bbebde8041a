from __future__ import annotations

from pathlib import Path

import pytest

from kiosk.contract.survey import DEFAULT_SURVEY_PATH


def survey_file(folder: Path, version: int, welcome: str = "Fikriniz bizim için önemli") -> Path:
    """The bundled survey as another version, its Turkish welcome changed."""
    text = DEFAULT_SURVEY_PATH.read_text(encoding="utf-8").replace("version = 3", f"version = {version}", 1).replace("Görüşünüz bizim için değerli", welcome, 1)
    path = folder / f"survey-v{version}-{abs(hash(welcome)) % 10_000}.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def signing_key(tmp_path):
    from fleet.surveys import keys

    return keys.generate(tmp_path / "keys")
