"""config/deploy.sh --dry-run: the commands it would run for the hosts listed in config."""
import shutil
import subprocess

import sdtest


def test_deploy_dry_run_prints_rsync_and_ssh_per_host(tmp_path):
    cfg = tmp_path / "config"
    shutil.copytree(sdtest.REPO / "config", cfg)
    (cfg / "deploy.hosts").write_text("pi@rig-1:/opt/sd/config   # the rig\n\n# off: old-host\nstand2\n")
    r = subprocess.run([str(cfg / "deploy.sh"), "--dry-run", "--restart"], capture_output=True, text=True, timeout=20)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "ssh -o BatchMode=yes pi@rig-1 mkdir -p /opt/sd/config "
    assert lines[1].startswith("rsync -az --delete") and lines[1].endswith(f"{cfg}/ pi@rig-1:/opt/sd/config/ ")
    assert lines[2] == "ssh -o BatchMode=yes pi@rig-1 systemctl restart speeddata "
    assert any(l.endswith(f"{cfg}/ stand2:{cfg}/ ") for l in lines)
    assert not any("old-host" in l for l in lines)
    assert len(lines) == 6


def test_deploy_without_hosts_is_a_clear_error(tmp_path):
    cfg = tmp_path / "config"
    cfg.mkdir()
    shutil.copy(sdtest.REPO / "config" / "deploy.sh", cfg)
    r = subprocess.run([str(cfg / "deploy.sh"), "--dry-run"], capture_output=True, text=True, timeout=20)
    assert r.returncode == 2 and "deploy.hosts does not exist" in r.stderr
    r = subprocess.run([str(cfg / "deploy.sh"), "--bogus"], capture_output=True, text=True, timeout=20)
    assert r.returncode == 2 and "unknown option --bogus" in r.stderr
