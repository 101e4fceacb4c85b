"""Processing the child's lines: parsers for lines that are not JSON objects (issue 15)."""
