"""The errors `iqa` reports to a user: each message names the file, row or key at fault."""


class ConfigError(ValueError):
    """A config key or value is wrong; the message names it."""


class DataError(ValueError):
    """A dataset file, row or image is missing or malformed; the message names it."""


class WeightsMissing(RuntimeError):
    """Pretrained weights were asked for but are not on this machine."""


class TrainingError(RuntimeError):
    """Training cannot go on (NaN loss, bad setup); the message says where."""
