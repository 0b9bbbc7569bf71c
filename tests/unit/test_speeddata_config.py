"""lib/python/speeddata_config.py: load_config as the earlier README documents it, merge
precedence, where the config directory comes from, and errors."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from lib.python.speeddata_config import channel_config, channel_list, deep_merge, load_config  # noqa: E402


@pytest.fixture
def cfg(tmp_path):
    """A config dir with a small global.yaml and relay.yaml; tests overwrite files."""
    d = tmp_path / "config"
    d.mkdir()
    (d / "global.yaml").write_text(
        "multicast:\n  full: {group: 239.1.1.1, port: 6000}\n  decimated: {group: 239.1.1.2, port: 6001}\n"
        "  ttl: 1\nstorage:\n  root: ./data\n")
    (d / "relay.yaml").write_text("channels:\n  a: {port: 26000, schema: agents/a.avsc}\n")
    return d


def test_readme_usage_on_the_shipped_config(monkeypatch):
    monkeypatch.delenv("SPEEDDATA_CONFIG", raising=False)
    config = load_config('relay')
    assert set(config['channels']) == {'example', 'temperature'}
    assert config['channels']['example']['port'] == 26000
    assert config['channels']['example']['schema'] == 'agents/example.avsc'
    assert config['channels']['example']['decimation'] == {'factor': 10, 'algorithm': 'minmax'}
    assert config['multicast']['decimated'] == {'group': '239.1.1.2', 'port': 6001}
    assert config['multicast']['interface'] == '127.0.0.1'
    assert config['storage']['avro_path'] == './data/avro'
    assert config['defaults']['codec'] == 'null'


def test_every_service_loads_from_the_shipped_config(monkeypatch):
    monkeypatch.delenv("SPEEDDATA_CONFIG", raising=False)
    stripchart = load_config('stripchart')
    assert stripchart['http'] == {'bind': '127.0.0.1', 'port': 8081}
    assert stripchart['multicast']['full']['port'] == 6000  # from global.yaml
    pivot = load_config('pivot')
    assert pivot['http']['port'] == 8000
    assert pivot['limits'] == {'max_channels': 20, 'max_duration': '5m'}
    assert pivot['hdf5']['compression'] == 'gzip'
    glob = load_config('global')
    assert set(glob) == {'multicast', 'storage'}


def test_also_importable_from_lib_python_on_sys_path():
    code = "import speeddata_config as c; print(c.load_config('relay')['channels']['temperature']['port'])"
    r = subprocess.run([sys.executable, "-c", code], cwd=REPO / "lib" / "python", capture_output=True, text=True,
                       env={k: v for k, v in os.environ.items() if k != "SPEEDDATA_CONFIG"})
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "26001"


def test_service_keys_win_key_by_key(cfg):
    (cfg / "relay.yaml").write_text(
        "multicast:\n  ttl: 2\n  decimated: {port: 7001}\nstorage:\n"
        "channels:\n  a: {port: 26000, schema: agents/a.avsc}\n")
    config = load_config('relay', cfg)
    assert config['multicast']['ttl'] == 2                      # relay.yaml wins
    assert config['multicast']['decimated'] == {'group': '239.1.1.2', 'port': 7001}  # deep merge
    assert config['multicast']['full'] == {'group': '239.1.1.1', 'port': 6000}       # global kept
    assert config['storage'] == {'root': './data'}              # an empty section changes nothing
    assert config['channels']['a']['port'] == 26000


def test_deep_merge_does_not_modify_its_inputs():
    base = {'a': {'b': 1, 'c': 2}, 'x': 1}
    over = {'a': {'b': 3}, 'y': [1]}
    assert deep_merge(base, over) == {'a': {'b': 3, 'c': 2}, 'x': 1, 'y': [1]}
    assert base == {'a': {'b': 1, 'c': 2}, 'x': 1}
    assert deep_merge({'a': {'b': 1}}, {'a': 5}) == {'a': 5}


def test_channel_config_merges_defaults_and_multicast(cfg):
    (cfg / "relay.yaml").write_text(
        "defaults:\n  codec: deflate\n  rotation: {interval: 1h, max_size: 1GiB}\n"
        "channels:\n  a:\n    port: 26000\n    schema: agents/a.avsc\n    rotation: {interval: 5m}\n"
        "    multicast: {full: {port: 7000}}\n")
    a = channel_config('a', cfg)
    assert a['codec'] == 'deflate'
    assert a['rotation'] == {'interval': '5m', 'max_size': '1GiB'}
    assert a['multicast']['full'] == {'group': '239.1.1.1', 'port': 7000}
    assert a['multicast']['ttl'] == 1
    with pytest.raises(KeyError, match="'nope'"):
        channel_config('nope', cfg)


def test_config_dir_argument_then_env_then_repo(cfg, monkeypatch, tmp_path):
    other = tmp_path / "other"
    shutil.copytree(cfg, other)
    (other / "relay.yaml").write_text("channels:\n  b: {port: 1, schema: x.avsc}\n")
    monkeypatch.setenv("SPEEDDATA_CONFIG", str(other))
    assert set(load_config('relay')['channels']) == {'b'}            # $SPEEDDATA_CONFIG
    assert set(load_config('relay', cfg)['channels']) == {'a'}       # the argument wins
    assert set(load_config('relay', str(cfg))['channels']) == {'a'}  # str works too
    monkeypatch.delenv("SPEEDDATA_CONFIG")
    assert 'example' in load_config('relay')['channels']             # the repo's config/


def test_missing_files_name_the_path(cfg, tmp_path):
    with pytest.raises(FileNotFoundError) as e:
        load_config('pivot', cfg)
    assert e.value.filename == str(cfg / "pivot.yaml")
    assert str(cfg / "pivot.yaml") in str(e.value)
    with pytest.raises(FileNotFoundError) as e:
        load_config('relay', tmp_path / "nowhere")
    assert e.value.filename == str(tmp_path / "nowhere" / "global.yaml")


def test_bad_yaml_is_a_value_error_naming_the_file(cfg):
    (cfg / "relay.yaml").write_text("channels:\n  a: {port: 26000\n")
    with pytest.raises(ValueError, match=r"relay\.yaml: invalid YAML"):
        load_config('relay', cfg)
    (cfg / "relay.yaml").write_text("- a\n- b\n")
    with pytest.raises(ValueError, match=r"relay\.yaml: expected a mapping of keys at the top level, got list"):
        load_config('relay', cfg)
    (cfg / "global.yaml").write_text("multicast: [\n")
    with pytest.raises(ValueError, match=r"global\.yaml: invalid YAML"):
        load_config('relay', cfg)


def test_empty_service_file_gives_global(cfg):
    (cfg / "stripchart.yaml").write_text("# nothing\n")
    assert load_config('stripchart', cfg) == load_config('global', cfg)


@pytest.mark.parametrize("bad", ["../relay", "relay.yaml", "", None, "a/b"])
def test_service_name_is_checked(cfg, bad):
    with pytest.raises(ValueError, match="service must be a name"):
        load_config(bad, cfg)


def _speeddata_bin():
    for candidate in (os.environ.get("SPEEDDATA_BIN"), REPO / "build-config" / "speeddata", REPO / "build" / "speeddata"):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


@pytest.mark.skipif(_speeddata_bin() is None, reason="speeddata binary not built")
def test_python_and_cpp_agree_on_the_shipped_relay_channels(monkeypatch):
    """What Python reads is what the C++ loader resolves, for every key the files set."""
    monkeypatch.delenv("SPEEDDATA_CONFIG", raising=False)
    shown = json.loads(subprocess.run([_speeddata_bin(), "config", "show", "--json", "--config-dir", str(REPO / "config")],
                                      capture_output=True, text=True, check=True).stdout)

    def check(written, resolved, where):
        for key, value in written.items():
            if isinstance(value, dict):
                check(value, resolved[key], f"{where}.{key}")
            else:
                assert str(resolved[key]) == str(value), f"{where}.{key}"

    for name in load_config('relay')['channels']:
        check(channel_config(name), shown['relay']['channels'][name], name)


# ---- the earlier version's files (v0.6, verbatim in tests/data/v0.6/config) ----------------

V06 = REPO / "tests" / "data" / "v0.6" / "config"


@pytest.fixture
def v06(tmp_path):
    """A v0.6 checkout: <root>/config holding the v0.6 files as they were."""
    root = tmp_path / "v06"
    shutil.copytree(V06, root / "config")
    return root


@pytest.fixture
def today(tmp_path):
    d = tmp_path / "today" / "config"
    shutil.copytree(REPO / "config", d)
    return d


def test_v06_relay_config_is_what_the_earlier_loader_returned(v06):
    config = load_config('relay', v06 / "config")
    assert config == {
        'multicast': {'full_rate': {'address': '239.1.1.1', 'port': 6000},
                      'decimated': {'address': '239.1.1.2', 'port': 6001}},
        'storage': {'avro_path': './data'},
        'channels': [{'name': 'example', 'port': 26000, 'schema': 'config/agents/example.avsc'}],
        'decimation': {'enabled': True, 'factor': 5, 'algorithm': 'downsample'},
        'rotation': {'mode': 'time', 'threshold': 3600},
        'retention': {'mode': 'ttl', 'value': 86400},
    }
    # How the earlier code used it (relay/python/rowdog.py, relay/orchestrator.py).
    channel = config['channels'][0]
    assert (channel['name'], channel['port'], channel['schema']) == ('example', 26000, 'config/agents/example.avsc')
    assert config['multicast']['decimated']['address'] == '239.1.1.2'
    assert config.get('decimation', {}).get('factor', 50) == 5


def test_v06_other_services(v06):
    stripchart = load_config('stripchart', v06 / "config")
    assert stripchart['websocket']['port'] == 8081
    assert stripchart['decimation'] == {'pass_through': True}
    assert stripchart['multicast']['full_rate']['address'] == '239.1.1.1'   # from global.yaml
    pivot = load_config('pivot', v06 / "config")
    assert pivot['api']['port'] == 8000
    assert pivot['api']['limits'] == {'max_channels': 20, 'max_duration_minutes': 5, 'timeout_seconds': 60}
    assert pivot['storage']['avro_path'] == './data'


def test_v06_readme_usage_from_its_checkout(v06, monkeypatch):
    """`load_config('relay')` with no directory, as the v0.6 README and its services called it:
    run from the checkout (its ./config passed as 'config', relay/orchestrator.py) or pointed
    at by the environment (the v0.6 design's $SPEEDDATA_CONFIG_DIR, today's $SPEEDDATA_CONFIG)."""
    monkeypatch.chdir(v06)
    monkeypatch.delenv("SPEEDDATA_CONFIG", raising=False)
    assert load_config('relay', 'config')['channels'][0]['name'] == 'example'
    monkeypatch.setenv("SPEEDDATA_CONFIG_DIR", str(v06 / "config"))
    config = load_config('relay')
    assert config['channels'] == [{'name': 'example', 'port': 26000, 'schema': 'config/agents/example.avsc'}]
    assert config['multicast']['decimated'] == {'address': '239.1.1.2', 'port': 6001}
    monkeypatch.setenv("SPEEDDATA_CONFIG", str(REPO / "config"))   # the newer name wins over the older
    assert isinstance(load_config('relay')['channels'], dict)


def test_new_form_keeps_the_new_shape(today):
    config = load_config('relay', today)
    assert isinstance(config['channels'], dict) and config['channels']['example']['port'] == 26000
    assert config['multicast']['decimated'] == {'group': '239.1.1.2', 'port': 6001}


def test_channel_list_in_both_forms(v06, today):
    old = load_config('relay', v06 / "config")
    assert channel_list(old) == [{'name': 'example', 'port': 26000, 'schema': 'config/agents/example.avsc'}]
    new = load_config('relay', today)
    chans = channel_list(new)
    assert [c['name'] for c in chans] == ['example', 'temperature']
    assert chans[0] == {'name': 'example', 'port': 26000, 'schema': 'agents/example.avsc',
                        'decimation': {'factor': 10, 'algorithm': 'minmax'}}
    # Copies: changing one changes neither the config nor the next call's result.
    chans[0]['port'] = 1
    old_list = channel_list(old)
    old_list[0]['port'] = 1
    assert new['channels']['example']['port'] == 26000 and old['channels'][0]['port'] == 26000
    assert channel_list({}) == [] and channel_list({'channels': None}) == []
    assert channel_list({'channels': {'bare': None}}) == [{'name': 'bare'}]


def test_channel_list_default_loads_relay(monkeypatch, today):
    monkeypatch.setenv("SPEEDDATA_CONFIG", str(today))
    assert [c['name'] for c in channel_list()] == ['example', 'temperature']


def test_channel_list_errors_name_the_entry():
    with pytest.raises(ValueError, match=r"channels\[1\]: expected a mapping with a 'name'"):
        channel_list({'channels': [{'name': 'a'}, {'port': 1}]})
    with pytest.raises(ValueError, match=r"channels\.a: expected a mapping of options, got int"):
        channel_list({'channels': {'a': 5}})
    with pytest.raises(ValueError, match="channels: expected a mapping or a list, got str"):
        channel_list({'channels': 'example'})


def test_channel_config_of_the_v06_form(v06):
    ch = channel_config('example', v06 / "config")
    assert ch['port'] == 26000 and ch['schema'] == 'config/agents/example.avsc'
    assert ch['multicast']['decimated'] == {'address': '239.1.1.2', 'port': 6001}


def test_etc_speeddata_when_the_library_is_outside_a_checkout(tmp_path):
    """A copy of the library with no config/ next to it (copied to another host, the v0.6
    README's "copy to site-packages") finds the files config/deploy.sh put in /etc/speeddata."""
    lib = tmp_path / "site" / "a" / "b"
    shutil.copytree(REPO / "lib" / "python" / "speeddata", lib / "speeddata")
    etc = tmp_path / "etc-speeddata"
    shutil.copytree(V06, etc)
    code = ("import sys; from pathlib import Path; import speeddata.config as c; c._ETC = Path(sys.argv[1]); "
            "print(c.default_config_dir()); print(c.load_config('relay')['channels'][0]['name'])")
    env = {k: v for k, v in os.environ.items() if k not in ("SPEEDDATA_CONFIG", "SPEEDDATA_CONFIG_DIR", "PYTHONPATH")}
    env["PYTHONPATH"] = str(lib)
    r = subprocess.run([sys.executable, "-c", code, str(etc)], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == [str(etc), "example"]
