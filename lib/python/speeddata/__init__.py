"""SpeedData's Python library: analysis (read HDF5 exports and Avro cache files), the REST
client, the configuration loader, the source sender and the multicast decoder.

    import speeddata
    data = speeddata.read_hdf5('export.h5')            # speeddata.dataset
    client = speeddata.SpeedDataClient()                # speeddata.client
    config = speeddata.load_config('relay')             # speeddata.config

Modules: speeddata.dataset, speeddata.client, speeddata.config, speeddata.sender,
speeddata.multicast. The earlier flat names (`dataset`, `speeddata_client`,
`speeddata_config`, `speeddata_sender`, `speeddata_multicast`, also as `lib.python.<name>`
from the repository root) are aliases of these modules. Names below are loaded on first use,
so `import speeddata` stays cheap (no numpy until a reader is used).
"""
import importlib

_EXPORTS = {
    "Set": "dataset", "Channel": "dataset", "read_hdf5": "dataset", "read_avro": "dataset",
    "SpeedDataClient": "client", "SpeedDataError": "client",
    "load_config": "config", "channel_list": "config", "channel_config": "config",
    "Sender": "sender",
}
_MODULES = ("dataset", "client", "config", "sender", "multicast")

__all__ = sorted(_EXPORTS) + list(_MODULES)


def __getattr__(name):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    elif name in _MODULES:
        value = importlib.import_module(f".{name}", __name__)
    else:
        raise AttributeError(f"module 'speeddata' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
