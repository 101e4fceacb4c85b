"""shipper: ship a Python service's stdout logs to Fluentd over the Forward protocol."""

from .logs import bind, bound, logging_config, reset_logging, setup_logging, unbind

__all__ = ["bind", "bound", "logging_config", "reset_logging", "setup_logging", "unbind"]
