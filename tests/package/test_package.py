"""The Debian package of `make package`: its files, control fields and maintainer scripts,
lintian, the systemd unit, and the packaged binary started with the packaged config from an
unpacked tree (its data dir and port pointed into the test's temporary root)."""
import http.client
import os
import re
import shutil
import signal
import socket
import subprocess
import time

import pytest

from conftest import REPO, run

CONFIG = "/etc/concertd/concertd.toml"
UNIT = "/lib/systemd/system/concertd.service"

# Every file the package ships (directories aside), with its mode; all root:root.
FILES = {
    "./usr/bin/concertd": "-rwxr-xr-x",
    CONFIG.replace("/", "./", 1): "-rw-r--r--",
    UNIT.replace("/", "./", 1): "-rw-r--r--",
    "./usr/share/doc/concertd/copyright": "-rw-r--r--",
    "./usr/share/doc/concertd/changelog.Debian.gz": "-rw-r--r--",
    "./usr/share/man/man1/concertd.1.gz": "-rw-r--r--",
    "./usr/share/lintian/overrides/concertd": "-rw-r--r--",
}


def clean_env() -> dict:
    """This environment without any CONCERTD_* setting (they would override the config)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("CONCERTD_")}


def contents(deb):
    """dpkg-deb -c as {path: (mode, owner)}."""
    out = {}
    for line in run("dpkg-deb", "-c", deb).stdout.splitlines():
        mode, owner, _size, _date, _time, path = line.split(maxsplit=5)
        out[path.split(" -> ")[0]] = (mode, owner)
    return out


def fields(deb) -> dict:
    text = run("dpkg-deb", "-f", deb).stdout
    out, key = {}, None
    for line in text.splitlines():
        if line.startswith((" ", "\t")):
            out[key] += "\n" + line
        else:
            key, _, value = line.partition(":")
            out[key] = value.strip()
    return out


def unit_settings(path) -> dict:
    """A unit file as {"Section.Key": [values...]} (a key may repeat)."""
    out, section = {}, ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        out.setdefault(f"{section}.{key.strip()}", []).append(value.strip())
    return out


# ---------------------------------------------------------------------------------------------
# The archive
# ---------------------------------------------------------------------------------------------

def test_file_list(deb):
    listed = contents(deb)
    files = {p: m for p, (m, _) in listed.items() if not m.startswith("d")}
    assert files == FILES, run("dpkg-deb", "-c", deb).stdout
    assert {owner for _, owner in listed.values()} == {"root/root"}
    dirs = [p for p, (m, _) in listed.items() if m.startswith("d")]
    assert all(listed[d][0] == "drwxr-xr-x" for d in dirs), dirs
    # nothing under /var: systemd makes /var/lib/concertd (StateDirectory=), postinst without it
    assert not any(p.startswith("./var") for p in listed)


def test_control_fields(deb):
    f = fields(deb)
    assert f["Package"] == "concertd"
    assert re.fullmatch(r"\d+\.\d+\.\d+-\d+", f["Version"]), f["Version"]
    assert f["Architecture"] == run("dpkg", "--print-architecture").stdout.strip()
    assert f["Section"] == "net" and f["Priority"] == "optional"
    assert re.fullmatch(r"[^<>]+ <[^@\s]+@[^@\s]+>", f["Maintainer"]), f["Maintainer"]
    synopsis, _, long = f["Description"].partition("\n")
    assert synopsis and len(synopsis) < 80 and len(long.splitlines()) >= 3, f["Description"]
    assert int(f["Installed-Size"]) > 0
    # dpkg-shlibdeps' libraries (versioned) and adduser for postinst
    depends = {d.strip().split(" ")[0] for d in f["Depends"].split(",")}
    for pkg in ("adduser", "libc6", "libstdc++6", "libsqlite3-0", "libssl3", "libpq5"):
        assert pkg in depends, f["Depends"]
    assert re.search(r"libc6 \(>= [\d.]+\)", f["Depends"]), f["Depends"]


def test_conffiles_and_maintainer_scripts(control):
    assert (control / "conffiles").read_text().split() == [CONFIG]
    assert (control / "conffiles").stat().st_mode & 0o777 == 0o644
    for name in ("postinst", "prerm", "postrm"):
        script = control / name
        assert script.stat().st_mode & 0o777 == 0o755, name
        text = script.read_text()
        assert text.startswith("#!/bin/sh\n") and "\nset -e\n" in text, name
        run("sh", "-n", script)  # syntax
        # systemctl/deb-systemd-invoke only when systemd runs; daemon-reload is the one systemctl call
        for line in text.splitlines():
            if re.search(r"\bsystemctl\b", line) and not line.lstrip().startswith("#"):
                assert "daemon-reload" in line, line
    postinst = (control / "postinst").read_text()
    assert "adduser --system --group --home /var/lib/concertd --no-create-home" in postinst
    assert "[ -d /run/systemd/system ]" in postinst
    assert "rm -rf /var/lib/concertd" in (control / "postrm").read_text()
    listed = {line.split(maxsplit=1)[1] for line in (control / "md5sums").read_text().splitlines()}
    assert listed == {p[2:] for p in FILES}, listed


def test_lintian_reports_no_error(deb):
    if shutil.which("lintian") is None:
        pytest.fail("lintian is missing (scripts/install-deps.sh installs it)", pytrace=False)
    p = run("lintian", "--display-info", "--tag-display-limit", "0", deb, timeout=300, check=False)
    report = p.stdout + p.stderr
    errors = [line for line in report.splitlines() if line.startswith("E:")]
    assert not errors, report
    assert p.returncode in (0, 1), report  # 2: lintian itself failed


def test_packaged_files(root):
    assert (root / CONFIG[1:]).read_bytes() == (REPO / "deploy" / "concertd.toml").read_bytes()
    copyright_text = (root / "usr/share/doc/concertd/copyright").read_text()
    assert copyright_text.startswith("Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n")
    # stripped: no symbol table, no debug sections
    sections = run("readelf", "-S", "-W", root / "usr/bin/concertd").stdout
    assert ".symtab" not in sections and ".debug_info" not in sections, sections
    # hardened: full RELRO and bind-now (-z relro -z now), PIE
    dynamic = run("readelf", "-d", "-W", root / "usr/bin/concertd").stdout
    assert re.search(r"\(BIND_NOW\)|\(FLAGS(?:_1)?\).*\bNOW\b", dynamic), dynamic
    assert "GNU_RELRO" in run("readelf", "-l", "-W", root / "usr/bin/concertd").stdout
    assert "DYN (Position-Independent Executable" in run("readelf", "-h", root / "usr/bin/concertd").stdout


# ---------------------------------------------------------------------------------------------
# The systemd unit
# ---------------------------------------------------------------------------------------------

def test_unit_settings(root):
    u = unit_settings(root / UNIT[1:])
    one = {k: v[-1] for k, v in u.items()}
    assert one["Service.ExecStart"] == f"/usr/bin/concertd serve --config {CONFIG}"
    assert one["Service.Type"] == "simple"  # the server does not speak sd_notify
    assert one["Service.User"] == one["Service.Group"] == "concertd"
    assert one["Service.StateDirectory"] == "concertd"
    assert one["Service.Restart"] == "on-failure"
    assert one["Service.KillSignal"] == "SIGTERM"
    assert one["Service.LimitNOFILE"] == "65536"
    for key in ("NoNewPrivileges", "ProtectHome", "PrivateTmp", "PrivateDevices"):
        assert one[f"Service.{key}"] == "true", key
    assert one["Service.ProtectSystem"] == "strict"
    assert one["Install.WantedBy"] == "multi-user.target"
    # the stop waits longer than the server's own graceful drain
    out = run(root / "usr/bin/concertd", "config", "--config", root / CONFIG[1:]).stdout
    drain = int(re.search(r"^shutdown-timeout = (\d+)", out, re.M).group(1))
    assert int(one["Service.TimeoutStopSec"]) > drain


def test_systemd_analyze_verify(root, tmp_path):
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed")
    # Offline, next to this machine's units (sysinit.target ...): the packaged unit with ExecStart
    # pointed at the unpacked binary, which verify checks is executable; its Documentation=
    # man page is looked up in the unpacked tree.
    unit = (root / UNIT[1:]).read_text()
    unit = unit.replace("ExecStart=/usr/bin/concertd ", f"ExecStart={root}/usr/bin/concertd ")
    (tmp_path / "concertd.service").write_text(unit)
    p = subprocess.run(["systemd-analyze", "verify", tmp_path / "concertd.service"], capture_output=True,
                       text=True, timeout=60, env={**os.environ, "MANPATH": str(root / "usr/share/man")})
    out = p.stdout + p.stderr
    if p.returncode != 0 and re.search(r"Failed to (?:connect to bus|initialize manager|set up the manager)"
                                       r"|Operation not permitted|System has not been booted with systemd", out):
        pytest.skip(f"systemd-analyze verify cannot run here: {out.strip().splitlines()[-1]}")
    assert p.returncode == 0 and not out.strip(), out


# ---------------------------------------------------------------------------------------------
# The packaged binary with the packaged config
# ---------------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(port, path):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        c.request("GET", path)
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def test_packaged_config_names_the_state_directory(root):
    out = run(root / "usr/bin/concertd", "config", "--config", root / CONFIG[1:]).stdout
    assert re.search(r'^data-dir = "/var/lib/concertd" +# file$', out, re.M), out


def test_packaged_binary_serves_with_packaged_config(root, tmp_path):
    binary, config = root / "usr/bin/concertd", root / CONFIG[1:]
    data = root / "var/lib/concertd"  # /var/lib/concertd inside the temporary root
    data.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log = (tmp_path / "concertd.log").open("w+b")
    proc = subprocess.Popen([binary, "serve", "--config", config, "--data-dir", data, "--port", str(port)],
                            env=clean_env(), cwd=tmp_path, stdin=subprocess.DEVNULL, stdout=log,
                            stderr=subprocess.STDOUT)

    def output():
        log.seek(0)
        return log.read().decode("utf-8", "replace")

    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, f"concertd exited {proc.returncode}:\n{output()}"
            try:
                status, _ = get(port, "/healthz")
                if status == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, f"no /healthz answer within 30 s:\n{output()}"
            time.sleep(0.1)
        deadline = time.monotonic() + 10
        while (status := get(port, "/readyz")[0]) != 200 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert status == 200, output()
        assert any(data.iterdir()), "nothing written to the data dir"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0, output()
        assert "stopped" in output()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
