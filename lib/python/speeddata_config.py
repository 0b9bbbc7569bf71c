"""SpeedData configuration files as Python dicts.

    from lib.python.speeddata_config import load_config      # from the repo root
    config = load_config('relay')
    config['channels']                     # {'example': {'port': 26000, ...}, ...}
    config['multicast']['decimated']       # {'group': '239.1.1.2', 'port': 6001}

load_config(service) reads global.yaml, then <service>.yaml, and deep-merges them: the
service file wins key by key, so `multicast: {ttl: 2}` in relay.yaml changes the TTL and
keeps global.yaml's groups. Values are as written in the files; keys set in neither file
are absent (their built-in defaults are listed in docs/config.md, and
`speeddata config show --json` prints every value resolved). `speeddata config check`
validates the files; this module only reads them.

The config directory is the argument, else $SPEEDDATA_CONFIG, else the repository's
config/ found relative to this file.
"""
import errno
import os
import re
from pathlib import Path

import yaml

__all__ = ["load_config", "channel_config", "default_config_dir", "deep_merge"]

_SERVICE_NAME = re.compile(r"[A-Za-z0-9_-]+")


def default_config_dir():
    """$SPEEDDATA_CONFIG if set, else <repo>/config (this file is <repo>/lib/python/)."""
    env = os.environ.get("SPEEDDATA_CONFIG")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "config"


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


def channel_config(name, config_dir=None):
    """One relay channel as written in the files: relay.yaml `defaults` merged with
    `channels[name]`, and `multicast` the merged multicast section under the channel's own
    `multicast` overrides. KeyError names the channel when relay.yaml has no such channel."""
    config = load_config("relay", config_dir)
    channels = config.get("channels") or {}
    if name not in channels:
        raise KeyError(f"no channel {name!r} in relay.yaml (channels: {', '.join(channels) or 'none'})")
    channel = deep_merge(config.get("defaults") or {}, channels[name] or {})
    channel["multicast"] = deep_merge(config.get("multicast") or {}, channel.get("multicast") or {})
    return channel
