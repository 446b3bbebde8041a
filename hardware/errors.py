"""Hardware errors. Like gpiozero's, each also inherits the built-in it most resembles,
so callers may catch either ours or the standard one."""


class HardwareError(Exception):
    """Base of every error from the hardware package."""


class ProfileError(HardwareError, ValueError):
    """A pin profile that cannot drive a panel: bad TOML, a bad or duplicate pin, a missing field."""


class PanelError(HardwareError, RuntimeError):
    """The panel could not be brought up (pins busy, no GPIO chip, wrong pin factory)."""


class ScriptError(HardwareError, ValueError):
    """A line of a scripted panel's input that is not a press, a wait or a command."""
