"""``import shipper.autolog``: configure logging from the environment, in one line.

See ``shipper.logs.configure`` for the variables it reads (LOG_LEVEL, LOG_SCHEMA,
SERVICE_NAME, SHIPPER_TO, ...).
"""

from .logs import setup_logging

setup_logging()
