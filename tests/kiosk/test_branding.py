"""Branding: a logo and an accent colour in the kiosk config, checked with clear errors, and drawn
on the start and thank-you screens of a real `kiosk run`."""

import os
import subprocess
import sys
from pathlib import Path

import pygame
import pytest

from kiosk.config import ConfigError, load_config
from tests.pixels import Image

ROOT = Path(__file__).resolve().parents[2]
BLUE = (0x00, 0x5C, 0xA9)


def png(path: Path, size=(240, 80), colour=BLUE) -> Path:
    surface = pygame.Surface(size)
    surface.fill(colour)
    pygame.image.save(surface, str(path))
    return path


def config(tmp_path: Path, branding: str) -> Path:
    path = tmp_path / "kiosk.toml"
    path.write_text(f"[branding]\n{branding}\n", encoding="utf-8")
    return path


def test_a_valid_logo_and_accent_load_and_the_logo_path_is_relative_to_the_config(tmp_path):
    png(tmp_path / "logo.png")
    loaded = load_config(config(tmp_path, 'logo = "logo.png"\naccent = "#E30A17"'))
    assert loaded.branding.logo == str(tmp_path / "logo.png") and loaded.branding.accent == "#E30A17"
    assert load_config(None).branding.logo is None


@pytest.mark.parametrize(
    "branding, problem, fix",
    [
        ('accent = "red"', "branding.accent: 'red' is not a colour", 'write it as "#rrggbb"'),
        ('accent = "#101418"', "too dark to see on the screen's background", "use a lighter colour"),
        ('logo = "missing.png"', "branding.logo: ", "give the path of a PNG file"),
        ('logo = "logo.jpg"', "is not a PNG file", "export the logo as PNG"),
        ('logo = "huge.png"', "is 5000x100 pixels", "32 to 4096 pixels"),
        ('logo = "tiny.png"', "is 16x16 pixels", "32 to 4096 pixels"),
        ('logo = "heavy.png"', "MB", "at most 2 MB"),
        ("logo = 42", "Expected `str | null`, got `int`".replace("`", ""), "docs/operations.md"),
    ],
)
def test_bad_branding_is_refused_with_the_place_and_the_fix(tmp_path, branding, problem, fix):
    (tmp_path / "logo.jpg").write_bytes(b"\xff\xd8\xff\xe0" + b"\0" * 100)
    png(tmp_path / "huge.png", (5000, 100))
    png(tmp_path / "tiny.png", (16, 16))
    heavy = tmp_path / "heavy.png"
    heavy.write_bytes(png(tmp_path / "h.png").read_bytes() + os.urandom(3 * 1024 * 1024))  # bytes after IEND
    with pytest.raises(ConfigError) as caught:
        load_config(config(tmp_path, branding))
    message = str(caught.value)
    assert message.startswith(str(tmp_path / "kiosk.toml")) and problem in message and fix in message, message


def test_every_branding_mistake_is_reported_at_once(tmp_path):
    with pytest.raises(ConfigError) as caught:
        load_config(config(tmp_path, 'logo = "nope.png"\naccent = "#12"'))
    assert "branding.accent" in str(caught.value) and "branding.logo" in str(caught.value)


def test_a_running_kiosk_draws_the_logo_and_accent_on_the_start_screen(tmp_path):
    png(tmp_path / "logo.png")
    path = config(tmp_path, 'logo = "logo.png"\naccent = "#e30a17"')
    shot = tmp_path / "start.png"
    result = subprocess.run(
        [sys.executable, "-m", "kiosk", "run", "--config", str(path), "--headless", "--panel", "stdin", "--data-dir", str(tmp_path / "data"), "--device-id", "brand-kiosk"],
        input=f"screenshot {shot}\n", capture_output=True, text=True, timeout=60, env={**os.environ, "SDL_VIDEODRIVER": "dummy"}, cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    image = Image.load(shot)
    assert image.pixel(image.width // 2, 1) == (0xE3, 0x0A, 0x17), "the accent stripe along the top"
    assert image.colours((0, 0, 200, 80))[BLUE] > 1000, "the logo in the top-left corner"
