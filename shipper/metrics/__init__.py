"""Metrics: the pipeline's health and the metrics in its records, for StatsD, Prometheus and Munin."""
