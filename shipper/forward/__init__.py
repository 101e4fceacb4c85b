"""The Fluentd Forward protocol v1: a sans-I/O core plus thin asyncio client and server."""
