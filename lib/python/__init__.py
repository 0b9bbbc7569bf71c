"""SpeedData Python library: the code is the package speeddata/ here; the flat modules beside it
(dataset, speeddata_config, speeddata_client, ...) are its earlier names, importable as
lib.python.<name> (from the repository root, or anywhere with the venv of ./install)."""
