"""SpeedData Python library: import as lib.python.<module> from the repo root."""
