"""The scripted panel: a line per press, waits, commands; bad lines stop with their number."""

import io
import threading

import pytest

from hardware.errors import ScriptError
from hardware.panel import ButtonPress, InputEnded, LanguagePress, ScreenshotRequest
from hardware.scripted import ScriptedPanel, parse_line


@pytest.mark.parametrize(
    "line, expected",
    [
        ("3", ButtonPress(3)),
        ("  4   # very happy", ButtonPress(4)),
        ("wait 2.5", 2.5),
        ("WAIT 0", 0.0),
        ("lang", LanguagePress()),
        ("screenshot /tmp/a.png", ScreenshotRequest("/tmp/a.png")),
        ("quit", InputEnded()),
        ("", None),
        ("# only a comment", None),
    ],
)
def test_lines(line, expected, profile):
    assert parse_line(line, 1, profile) == expected


@pytest.mark.parametrize(
    "line, message",
    [
        ("7", "line 4: button 7 is not on panel 'arcade-4' (it has buttons 1, 2, 3, 4)"),
        ("0", "button 0 is not on panel"),
        ("wait", "is not a button number"),
        ("wait soon", "'wait soon' needs a number of seconds"),
        ("wait -1", "needs a number of seconds"),
        ("3 4", "'3 4' is not a button number"),
        ("press 3", "'press 3' is not a button number"),
    ],
)
def test_bad_lines(line, message, profile):
    with pytest.raises(ScriptError) as caught:
        parse_line(line, 4, profile)
    assert message in str(caught.value)


def collect(panel):
    events, done = [], threading.Event()

    def sink(event):
        events.append(event)
        if isinstance(event, InputEnded):
            done.set()

    panel.start(sink)
    assert done.wait(5)
    return events


def test_panel_reports_presses_in_order_then_end(profile):
    events = collect(ScriptedPanel(profile, io.StringIO("1\nwait 0.01\n2\nlang\n")))
    assert events == [ButtonPress(1), ButtonPress(2), LanguagePress(), InputEnded()]


def test_a_bad_line_ends_input_with_the_error_and_nothing_after_it(profile):
    events = collect(ScriptedPanel(profile, io.StringIO("1\n9\n2\n")))
    assert events[0] == ButtonPress(1)
    assert events[1].error.startswith("line 2: button 9")
    assert len(events) == 2


def test_close_interrupts_a_long_wait(profile):
    panel = ScriptedPanel(profile, io.StringIO("wait 3600\n1\n"))
    events = []
    panel.start(events.append)
    panel.close()
    assert panel.wait_finished(2)
    assert events == []
