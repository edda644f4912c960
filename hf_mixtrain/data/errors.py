class DataError(ValueError):
    """Bad data or bad data arguments. The message names the culprit and how to fix it."""
