"""Structured logging for Python apps: one JSON object per line on stdout, in shipper's schema."""

from .configure import logging_config, reset_logging, setup_logging
from .context import bind, bound, unbind
from .formatter import JsonFormatter

__all__ = ["JsonFormatter", "bind", "bound", "logging_config", "reset_logging", "setup_logging", "unbind"]
