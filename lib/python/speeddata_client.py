"""Old import path, kept working: the code is speeddata/client.py (see _speeddata_alias.py)."""
import sys as _sys

if __package__:
    from . import _speeddata_alias as _alias
else:
    import _speeddata_alias as _alias

_sys.modules[__name__] = _alias.module_for("client")
