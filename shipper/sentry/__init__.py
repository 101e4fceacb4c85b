"""Errors to Sentry: tracebacks and crashes in the app's output become Sentry events."""
