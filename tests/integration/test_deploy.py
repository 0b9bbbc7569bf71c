"""config/deploy.sh against real hosts: a real sshd (started here, on 127.0.0.1, with its own
host key and authorized_keys), real rsync, the hosts' own `speeddata config check`, and a real
`make start` stack (scripts/start) on one of them that the deploy restarts.

Two "hosts" are two SpeedData checkouts on this sshd (host A runs a stack, host B does not):
a hosts file line each, `root@127.0.0.1:PORT <checkout>/config`."""
import filecmp
import json
import os
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest
import yaml

import sdtest
from sdtest import wait_for
from orchlib import Api, free_tcp_port

SSHD = "/usr/sbin/sshd"
DEPLOY_TIMEOUT = 120  # a loaded 2-core machine: ssh handshakes and a stack restart


def pid_running(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture
def sshd(tmp_path):
    """An sshd for this test only: its own host key, config and authorized_keys; ends at teardown."""
    if not os.path.exists(SSHD) or shutil.which("rsync") is None:
        pytest.fail("openssh-server and rsync are needed (./install installs them)")
    d = tmp_path / "ssh"
    d.mkdir()
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", d / "host_key"], check=True)
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", d / "client_key"], check=True)
    shutil.copy(d / "client_key.pub", d / "authorized_keys")
    port = free_tcp_port()
    (d / "sshd_config").write_text(textwrap.dedent(f"""\
        ListenAddress 127.0.0.1
        Port {port}
        HostKey {d}/host_key
        AuthorizedKeysFile {d}/authorized_keys
        PidFile none
        PermitRootLogin prohibit-password
        PasswordAuthentication no
        KbdInteractiveAuthentication no
        UsePAM no
        StrictModes no
        LogLevel ERROR
        """))
    (d / "known_hosts").write_text(f"[127.0.0.1]:{port} " + (d / "host_key.pub").read_text().split(" ", 2)[0] + " "
                                   + (d / "host_key.pub").read_text().split(" ", 2)[1] + "\n")
    # sshd's privilege separation directory (Debian's service creates it at start).
    os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
    log = open(d / "sshd.log", "wb")
    proc = subprocess.Popen([SSHD, "-D", "-e", "-f", d / "sshd_config"], stdout=log, stderr=subprocess.STDOUT)
    ssh = (f"ssh -F /dev/null -i {d}/client_key -o IdentitiesOnly=yes -o UserKnownHostsFile={d}/known_hosts "
           f"-o StrictHostKeyChecking=yes -o ConnectTimeout=20")

    def answers():
        r = subprocess.run(ssh.split() + ["-o", "BatchMode=yes", "-p", str(port), "root@127.0.0.1", "true"],
                           capture_output=True, timeout=30)
        return r.returncode == 0
    try:
        wait_for(answers, timeout=30, interval=0.2, what="sshd to accept the test key")
        yield {"port": port, "ssh": ssh}
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


def make_checkout(root):
    """A host's SpeedData install as the deploy finds it: build/speeddata and scripts/."""
    (root / "build").mkdir(parents=True)
    os.symlink(sdtest.BIN, root / "build" / "speeddata")
    (root / "scripts").mkdir()
    for s in ("start", "stop"):
        shutil.copy(sdtest.REPO / "scripts" / s, root / "scripts" / s)
    return root


class Deployer:
    def __init__(self, tmp_path, sshd, hosts):
        self.config = tmp_path / "local" / "config"
        shutil.copytree(sdtest.REPO / "config", self.config)
        lines = ["# the test's two hosts", ""] + [f"root@127.0.0.1:{sshd['port']} {h}/config   # {h.name}" for h in hosts]
        (self.config / "deploy.hosts").write_text("\n".join(lines) + "\n")
        self.env = dict(os.environ, SPEEDDATA_SSH=sshd["ssh"])

    def run(self, *args):
        r = subprocess.run([str(self.config / "deploy.sh"), *args], capture_output=True, text=True,
                           env=self.env, timeout=DEPLOY_TIMEOUT)
        r.all = r.stdout + r.stderr
        return r


def section(output, host):
    """The lines deploy.sh printed for one host (from its '== ' header to the next)."""
    out, inside = [], False
    for line in output.splitlines():
        if line.startswith("== "):
            inside = f"/{host}/config" in line and line.startswith("== root@")
            continue
        if inside:
            out.append(line.strip())
    return out


TOKEN = "s3cret-deploy-token"


def put_token(root):
    """The host's API token, installed by hand: deploy.sh never copies it (docs/deploy.md)."""
    (root / "secrets").mkdir(exist_ok=True)
    (root / "secrets" / "token").write_text(TOKEN + "\n")


def channel_names(api):
    status, body, _ = api.get("/api/v1/channels")
    assert status == 200, body
    items = body["channels"] if isinstance(body, dict) else body
    return {c["name"] for c in items}


def test_deploy_syncs_checks_and_restarts_only_what_passes_and_changed(tmp_path, sshd):
    host_a = make_checkout(tmp_path / "host-a")   # runs a stack
    host_b = make_checkout(tmp_path / "host-b")   # does not
    d = Deployer(tmp_path, sshd, [host_a, host_b])

    # A dry run before anything is there: the plan lists every file as new and touches nothing.
    r = d.run("--dry-run")
    assert r.returncode == 0, r.all
    for h in (host_a, host_b):
        lines = section(r.stdout, h.name)
        assert "would be new relay.yaml" in lines and "would be new agents/example.avsc" in lines, r.all
        listed = [l for l in lines if l.startswith("would be ")]
        assert all(l.startswith("would be new ") for l in listed), r.all   # files only, nothing else
        assert len(listed) == sum(1 for p in d.config.rglob("*") if p.is_file() and p.name != "deploy.hosts"), r.all
        assert not (h / "config").exists()
        assert "would be new deploy.hosts" not in lines   # the local host list stays here

    # The first deploy: the files arrive on both; nothing runs yet, so nothing is restarted.
    r = d.run()
    assert r.returncode == 0, r.all
    for h in (host_a, host_b):
        cmp = filecmp.dircmp(d.config, h / "config", ignore=["deploy.hosts"])
        assert not cmp.left_only and not cmp.right_only and not cmp.diff_files, r.all
        assert filecmp.cmp(d.config / "agents" / "example.avsc", h / "config" / "agents" / "example.avsc", shallow=False)
        assert not (h / "config" / "deploy.hosts").exists()
        assert any(l.startswith("not restarted: SpeedData is not running there") for l in section(r.stdout, h.name)), r.all
        assert not (h / ".config.deploy").exists()

    # Host A runs SpeedData as `make start` does, with an argument the restart must keep.
    api_port = free_tcp_port()
    env = dict(os.environ)
    env.pop("SPEEDDATA_BIN", None)  # scripts/start finds build/speeddata of its checkout
    subprocess.run([host_a / "scripts" / "start", "--orchestrator-port", str(api_port)], cwd=host_a, env=env,
                   check=True, capture_output=True, timeout=90)
    try:
        pidfile = host_a / "data" / "speeddata.pid"
        pid1 = int(pidfile.read_text())
        api = Api(api_port)
        assert "rig" not in wait_for(lambda: channel_names(api), timeout=30, what="host A's API")

        # The new config: an API token (its file beside the config dir, installed on B by
        # hand and forgotten on A), a new channel, and the temperature channel gone with its
        # schema (deleted files are listed too).
        put_token(host_b)
        glob = yaml.safe_load((d.config / "global.yaml").read_text())
        glob.setdefault("auth", {})["token_file"] = "../secrets/token"
        (d.config / "global.yaml").write_text(yaml.safe_dump(glob, sort_keys=False))
        relay = yaml.safe_load((d.config / "relay.yaml").read_text())
        del relay["channels"]["temperature"]
        relay["channels"]["rig"] = {"port": 26010, "schema": "agents/example.avsc"}
        (d.config / "relay.yaml").write_text(yaml.safe_dump(relay, sort_keys=False))
        (d.config / "agents" / "temperature.avsc").unlink()
        a_before = (host_a / "config" / "relay.yaml").read_text()

        r = d.run("--dry-run")
        assert r.returncode == 0, r.all
        la = section(r.stdout, host_a.name)
        assert "would be changed relay.yaml" in la and "would be deleted agents/temperature.avsc" in la, r.all
        assert any(l.startswith(f"would restart: the make-start stack (pid {pid1})") for l in la), r.all
        assert any(l.startswith("would restart: nothing: SpeedData is not running there")
                   for l in section(r.stdout, host_b.name)), r.all
        assert (host_a / "config" / "relay.yaml").read_text() == a_before
        assert (host_a / "config" / "agents" / "temperature.avsc").exists()
        assert int(pidfile.read_text()) == pid1

        # The real deploy: A's check fails (no token file there: its servers would not start),
        # so A keeps its config and its stack; B, tried after A, gets the new config. The exit
        # status says a host failed.
        r = d.run()
        assert r.returncode == 1, r.all
        assert f"{host_a}/config/global.yaml: auth.token_file: cannot read {host_a}/config/../secrets/token" in r.stderr, r.all
        assert f"{host_a}/.config.deploy" not in r.all   # the check names the files as installed
        assert "does not pass `speeddata config check`" in r.stderr
        assert (host_a / "config" / "relay.yaml").read_text() == a_before
        assert (host_a / "config" / "agents" / "temperature.avsc").exists()
        assert not (host_a / ".config.deploy").exists()
        assert int(pidfile.read_text()) == pid1 and pid_running(pid1)
        assert "rig" not in channel_names(api)
        assert (host_b / "config" / "relay.yaml").read_text() == (d.config / "relay.yaml").read_text()
        assert not (host_b / "config" / "agents" / "temperature.avsc").exists()
        assert "config OK: 2 channels" in "\n".join(section(r.stdout, host_b.name)), r.all
        summary = r.stdout.splitlines()[-3:]
        assert summary[0] == "== 2 host(s), 1 failed", r.all
        assert summary[1].endswith(f"{host_a}/config: FAILED, the config does not pass `speeddata config check` "
                                   f"on root@127.0.0.1:{sshd['port']}: not installed, nothing restarted "
                                   "(the config in force is unchanged)"), r.all
        assert summary[2].endswith(f"{host_b}/config: installed, not restarted: SpeedData is not running there "
                                   f"(no active unit speeddata, no make-start stack in {host_b})"), r.all

        # The token installed on A: the deploy installs the config there and restarts A's stack
        # (same arguments: the API comes back on its port, now asking for the token, with the
        # new channel); B is up to date and is not restarted.
        put_token(host_a)
        r = d.run()
        assert r.returncode == 0, r.all
        la = section(r.stdout, host_a.name)
        assert "changed relay.yaml" in la and "deleted agents/temperature.avsc" in la, r.all
        assert any(l.startswith(f"restarted: the make-start stack (pid {pid1} -> ") for l in la), r.all
        pid2 = int(pidfile.read_text())
        assert pid2 != pid1 and not pid_running(pid1)
        assert api.get("/api/v1/channels")[0] == 401
        api = Api(api_port, token=TOKEN)
        assert wait_for(lambda: "rig" in channel_names(api), timeout=30, what="the new channel on host A")
        assert "temperature" not in channel_names(api)
        assert section(r.stdout, host_b.name)[-1] == "up to date; nothing restarted", r.all

        # Nothing changed: a deploy restarts nothing anywhere.
        r = d.run()
        assert r.returncode == 0, r.all
        for h in (host_a, host_b):
            assert section(r.stdout, h.name)[-1] == "up to date; nothing restarted", r.all
        assert int(pidfile.read_text()) == pid2
        r = d.run("--dry-run")
        assert r.returncode == 0 and r.stdout.count("no file would change; nothing would be restarted") == 2, r.all
    finally:
        subprocess.run([host_a / "scripts" / "stop"], cwd=host_a, capture_output=True, timeout=60)


def test_config_check_reads_the_token_files_the_servers_need(tmp_path):
    """deploy.sh relies on it: a host without its token file fails the check, not the restart."""
    cfg = tmp_path / "config"
    shutil.copytree(sdtest.REPO / "config", cfg)
    glob = yaml.safe_load((cfg / "global.yaml").read_text())
    glob.setdefault("auth", {})["token_file"] = "../secrets/token"
    (cfg / "global.yaml").write_text(yaml.safe_dump(glob, sort_keys=False))
    check = [sdtest.BIN, "config", "check", "--config-dir", str(cfg)]
    env = {k: v for k, v in os.environ.items() if k != "SPEEDDATA_TOKEN"}
    r = subprocess.run(check, capture_output=True, text=True, env=env, timeout=30)
    assert r.returncode == 2, r.stdout + r.stderr
    assert f"{cfg}/global.yaml: auth.token_file: cannot read {cfg}/../secrets/token" in r.stderr
    put_token(tmp_path)
    r = subprocess.run(check, capture_output=True, text=True, env=env, timeout=30)
    assert r.returncode == 0 and "config OK: 2 channels" in r.stdout, r.stderr

    # The orchestrator's own (older) key too.
    orch = (cfg / "orchestrator.yaml").read_text()
    assert "\n  token_file: none " in orch
    (cfg / "orchestrator.yaml").write_text(orch.replace("\n  token_file: none ", "\n  token_file: /nonexistent/token ", 1))
    r = subprocess.run(check, capture_output=True, text=True, env=env, timeout=30)
    assert r.returncode == 2 and f"{cfg}/orchestrator.yaml: http.token_file: cannot read /nonexistent/token" in r.stderr, r.stderr


def run_deploy(cfg, *args, env=None):
    return subprocess.run([str(cfg / "deploy.sh"), *args], capture_output=True, text=True, timeout=60,
                          env=env or dict(os.environ, SPEEDDATA_SSH="false"))


def test_a_bad_hosts_line_names_the_file_and_line_and_touches_no_host(tmp_path):
    cfg = tmp_path / "config"
    shutil.copytree(sdtest.REPO / "config", cfg)
    (cfg / "deploy.hosts").write_text("# hosts\npi@rig-1.local:2222 /opt/sd/config\n\nstand2:/opt/sd/config   # comment\n"
                                      "rig 3:22\nhost:99999\nuser@host /a /b\n")
    # ssh is `false`: had any host been contacted, its failure would show as exit 1.
    r = run_deploy(cfg, "--dry-run")
    assert r.returncode == 2, r.stdout + r.stderr
    assert r.stdout == ""
    hosts = cfg / "deploy.hosts"
    assert f"deploy.sh: {hosts}:5: 'rig 3:22': remote-dir '3:22' must be an absolute path" in r.stderr
    assert f"deploy.sh: {hosts}:6: 'host:99999': port 99999 is not in 1..65535" in r.stderr
    assert f"deploy.sh: {hosts}:7: 'user@host /a /b': expected [user@]host[:port] [remote-dir], got 3 fields" in r.stderr
    assert ":2:" not in r.stderr and ":4:" not in r.stderr   # with a port and dir; the earlier host:/dir
    # The same rule for hosts given as arguments.
    r = run_deploy(cfg, "--dry-run", "ok-host", "bad/host:x")
    assert r.returncode == 2 and "argument 2: 'bad/host:x': expected" in r.stderr, r.stderr


def test_usage_errors_and_help(tmp_path):
    cfg = tmp_path / "config"
    cfg.mkdir()
    shutil.copy(sdtest.REPO / "config" / "deploy.sh", cfg)
    r = run_deploy(cfg, "--dry-run")
    assert r.returncode == 2 and f"{cfg}/deploy.hosts does not exist" in r.stderr
    r = run_deploy(cfg, "--bogus")
    assert r.returncode == 2 and "unknown option --bogus" in r.stderr
    (cfg / "deploy.hosts").write_text("# nobody yet\n\n")
    r = run_deploy(cfg)
    assert r.returncode == 2 and f"no hosts in {cfg}/deploy.hosts" in r.stderr
    r = run_deploy(cfg, "--help")
    assert r.returncode == 0
    assert "[user@]host[:port] [remote-dir]" in r.stdout and "--dry-run" in r.stdout and "set -euo" not in r.stdout
