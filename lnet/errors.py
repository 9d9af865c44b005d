"""The error raised for a bad configuration value, and the warning for an input outside
a model's training range."""


class ConfigError(ValueError):
    """A configuration value is missing, unknown or out of range.

    The message starts with the full config key (e.g. ``data.potential.amplitude``)
    and says what is allowed, so a user can fix the override they typed.
    """

    def __init__(self, key: str, message: str) -> None:
        self.key = key
        super().__init__(f"{key}: {message}")


class OutOfRangeWarning(UserWarning):
    """An input to a trained model lies outside the range of the data it was trained on.

    Issued by :class:`lnet.predict.Predictor` once per predictor and statistic
    (``statistic``: ``amplitude``, ``log_w_spread``, ``zero_fraction``, ``sites``, ``L1``,
    ...; see :mod:`lnet.domain`); the message names the statistic, the input's values and
    the training range. The prediction is still made: it is an extrapolation.
    """

    def __init__(self, message: str, statistic: str | None = None) -> None:
        super().__init__(message)
        self.statistic = statistic
