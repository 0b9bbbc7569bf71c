"""The Raspberry Pi profile (config/profiles/pi, docs/raspberry-pi.md) is a config directory the
executable accepts as it is, and keeps the sizes the docs and the memory figure rely on."""
import os
import subprocess
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
BIN = os.environ.get("SPEEDDATA_BIN", str(REPO / "build" / "speeddata"))
PROFILE = REPO / "config" / "profiles" / "pi"


def test_the_pi_profile_passes_config_check_with_both_channels():
    r = subprocess.run([BIN, "config", "check", "--config-dir", str(PROFILE)], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "config OK: 2 channels" in r.stdout + r.stderr


def test_the_pi_profile_sizes_memory_and_threads_below_the_defaults():
    relay = yaml.safe_load((PROFILE / "relay.yaml").read_text())["defaults"]
    pivot = yaml.safe_load((PROFILE / "pivot.yaml").read_text())
    strip = yaml.safe_load((PROFILE / "stripchart.yaml").read_text())
    # Worst case of 5 relays' burst buffers during an SD-card stall: 40 MiB (docs/raspberry-pi.md).
    assert relay["burst_buffer"] == "8MiB" and relay["block_size"] == "64KiB"
    assert pivot["limits"]["concurrent_exports"] == 1 and pivot["hdf5"]["threads"] == 2
    assert strip["http"]["max_clients"] == 16
