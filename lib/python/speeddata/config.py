"""SpeedData configuration files as Python dicts.

    from lib.python.speeddata_config import load_config      # as documented since v0.5
    from speeddata.config import load_config                 # the same module
    config = load_config('relay')
    config['channels']                     # today's form: {'example': {'port': 26000, ...}, ...}
                                           # v0.6 form: [{'name': 'example', 'port': 26000, ...}]
    config['multicast']['decimated']       # {'group': '239.1.1.2', 'port': 6001}
                                           # v0.6 form: {'address': '239.1.1.2', 'port': 6001}
    for ch in channel_list(config):        # either form: [{'name': 'example', 'port': ...}, ...]
        print(ch['name'], ch['port'])

load_config(service) reads global.yaml, then <service>.yaml, and deep-merges them: the
service file wins key by key, so `multicast: {ttl: 2}` in relay.yaml changes the TTL and
keeps global.yaml's groups; lists and scalars are replaced whole. Values are as written in
the files, in whichever form the files use: the earlier version's files
(channels as a list of {name, port, schema}, `multicast.full_rate.address`, `rotation {mode,
threshold}`, ...) come back exactly as its loader returned them, today's files in today's
shape. Keys set in neither file are absent (their built-in defaults are listed in
docs/config.md, and `speeddata config show --json` prints every value resolved).
`speeddata config check` validates the files; this module only reads them.

The config directory is the argument, else $SPEEDDATA_CONFIG, else $SPEEDDATA_CONFIG_DIR
(the earlier version's name), else the repository's config/ found relative to this file,
else /etc/speeddata (where the earlier config/deploy.sh installed the files) when the
repository has no config/.
"""
import errno
import os
import re
from pathlib import Path

import yaml

__all__ = ["load_config", "channel_list", "channel_config", "default_config_dir", "deep_merge"]

_SERVICE_NAME = re.compile(r"[A-Za-z0-9_-]+")


_ETC = Path("/etc/speeddata")


def default_config_dir():
    """$SPEEDDATA_CONFIG, else $SPEEDDATA_CONFIG_DIR, else <repo>/config (this file is
    <repo>/lib/python/speeddata/), else /etc/speeddata when <repo>/config does not exist."""
    for var in ("SPEEDDATA_CONFIG", "SPEEDDATA_CONFIG_DIR"):
        env = os.environ.get(var)
        if env:
            return Path(env)
    repo = Path(__file__).resolve().parents[3] / "config"
    if not repo.is_dir() and _ETC.is_dir():
        return _ETC
    return repo


def deep_merge(base, override):
    """A new dict: base with override's keys on top, merging nested dicts key by key.

    A section that is empty in the override (`rotation:` with every key commented out reads
    as None) changes nothing, as for the C++ loader.
    """
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        elif value is None and isinstance(merged.get(key), dict):
            continue
        else:
            merged[key] = value
    return merged


def _read_yaml(path):
    """The mapping in a YAML file ({} for an empty file).

    FileNotFoundError names the path; ValueError names the file for bad YAML or a file
    whose top level is not a mapping.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), str(path)) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ValueError(f"{path}: invalid YAML: {e}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping of keys at the top level, got {type(data).__name__}")
    return data


def load_config(service, config_dir=None):
    """global.yaml deep-merged with <service>.yaml ('relay', 'stripchart', 'pivot'; 'global'
    gives global.yaml alone), as a dict."""
    if not isinstance(service, str) or not _SERVICE_NAME.fullmatch(service):
        raise ValueError(f"service must be a name like 'relay', got {service!r}")
    directory = Path(config_dir) if config_dir is not None else default_config_dir()
    merged = _read_yaml(directory / "global.yaml")
    if service != "global":
        merged = deep_merge(merged, _read_yaml(directory / f"{service}.yaml"))
    return merged


def channel_list(config=None):
    """The relay channels of a loaded config as a list of dicts, each with its 'name' first,
    whichever form the file uses: today's mapping (`channels: {example: {port: ...}}`) or the
    earlier list (`channels: [{name: example, port: ...}]`). Entries are copies, as written
    (relay.yaml `defaults` are not merged in: channel_config() does that). config: a dict
    from load_config('relay'), or None to load it from the default directory.

    ValueError names the entry when a list item is not a mapping with a name, or a mapping
    entry is not a mapping."""
    if config is None:
        config = load_config("relay")
    channels = config.get("channels") if isinstance(config, dict) else None
    if channels is None:
        return []
    out = []
    if isinstance(channels, dict):
        for name, entry in channels.items():
            if entry is None:
                entry = {}
            if not isinstance(entry, dict):
                raise ValueError(f"channels.{name}: expected a mapping of options, got {type(entry).__name__}")
            out.append({"name": name, **{k: v for k, v in entry.items() if k != "name"}})
        return out
    if isinstance(channels, list):
        for i, entry in enumerate(channels):
            if not isinstance(entry, dict) or "name" not in entry:
                raise ValueError(f"channels[{i}]: expected a mapping with a 'name', got {entry!r}")
            out.append({"name": entry["name"], **{k: v for k, v in entry.items() if k != "name"}})
        return out
    raise ValueError(f"channels: expected a mapping or a list, got {type(channels).__name__}")


def channel_config(name, config_dir=None):
    """One relay channel as written in the files: relay.yaml `defaults` merged with
    `channels[name]`, and `multicast` the merged multicast section under the channel's own
    `multicast` overrides. KeyError names the channel when relay.yaml has no such channel."""
    config = load_config("relay", config_dir)
    channels = {c["name"]: {k: v for k, v in c.items() if k != "name"} for c in channel_list(config)}
    if name not in channels:
        raise KeyError(f"no channel {name!r} in relay.yaml (channels: {', '.join(channels) or 'none'})")
    channel = deep_merge(config.get("defaults") or {}, channels[name])
    channel["multicast"] = deep_merge(config.get("multicast") or {}, channel.get("multicast") or {})
    return channel
