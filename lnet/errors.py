"""The error raised for a bad configuration value."""


class ConfigError(ValueError):
    """A configuration value is missing, unknown or out of range.

    The message starts with the full config key (e.g. ``data.potential.amplitude``)
    and says what is allowed, so a user can fix the override they typed.
    """

    def __init__(self, key: str, message: str) -> None:
        self.key = key
        super().__init__(f"{key}: {message}")
