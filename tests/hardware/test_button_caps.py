"""Printable button caps: the script writes, for every bundled panel, an A4 sheet whose discs have
the screen's scale colours and faces, at the size that fits 30 mm and 60 mm arcade buttons."""

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from hardware.profiles import available_profiles, load_profile
from kiosk.colour import to_hex
from kiosk.palette import scale_steps
from tests.pixels import Image

ROOT = Path(__file__).resolve().parents[2]
SVG = "{http://www.w3.org/2000/svg}"
DISCS_MM = {"30mm": 24.0, "60mm": 52.0}


@pytest.fixture(scope="module")
def sheets(tmp_path_factory):
    out = tmp_path_factory.mktemp("caps")
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "button_caps.py"), "--out", str(out)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return out


@pytest.mark.parametrize("profile", available_profiles())
@pytest.mark.parametrize("size", sorted(DISCS_MM))
def test_each_button_gets_its_screen_colour_and_face_at_print_size(sheets, profile, size):
    buttons = len(load_profile(profile).buttons)
    root = ET.parse(sheets / f"{profile}-{size}.svg").getroot()
    assert (root.get("width"), root.get("height"), root.get("viewBox")) == ("210mm", "297mm", "0 0 210 297")
    groups = [g for g in root.iter(f"{SVG}g") if (g.get("id") or "").startswith("button-")]
    assert [g.get("id") for g in groups] == [f"button-{n}" for n in range(1, buttons + 1)]
    for group, (colour, _face) in zip(groups, scale_steps(buttons)):
        disc, *_rest = group.findall(f"{SVG}circle")
        assert disc.get("fill") == to_hex(colour)
        cut = [c for c in group.findall(f"{SVG}circle") if c.get("class") == "cut"]
        assert len(cut) == 1 and float(cut[0].get("r")) * 2 == pytest.approx(DISCS_MM[size])
        assert len(list(group)) > 4, "the face is drawn on the disc"

    # The PNG at 300 dpi: A4, and each disc as wide as the SVG says (1 mm bleed each side).
    image = Image.load(sheets / f"{profile}-{size}.png")
    assert (image.width, image.height) == (2480, 3508)
    for group, (colour, _face) in zip(groups, scale_steps(buttons)):
        disc = group.find(f"{SVG}circle")
        cx, cy = float(disc.get("cx")) * 300 / 25.4, float(disc.get("cy")) * 300 / 25.4
        row = [x for x in range(image.width) if image.pixel(x, round(cy)) == colour]
        measured_mm = (max(row) - min(row) + 1) * 25.4 / 300
        assert measured_mm == pytest.approx(DISCS_MM[size] + 2, abs=0.3)
        assert abs((max(row) + min(row)) / 2 - cx) < 3


def test_the_bundled_sheets_are_up_to_date(sheets):
    """hardware/button-caps holds what `make button-caps` writes today (SVG compared as text)."""
    bundled = ROOT / "hardware" / "button-caps"
    for svg in sorted(sheets.glob("*.svg")):
        assert (bundled / svg.name).read_text(encoding="utf-8") == svg.read_text(encoding="utf-8"), f"run `make button-caps` ({svg.name} changed)"
        assert (bundled / svg.with_suffix(".png").name).is_file()
