"""--config: a TOML file of settings (keys are the long flag names), and `concertd config`."""
import os
import subprocess
import tempfile

import pytest

from support import (ADMIN_KEY, REPO, clean_env, expect, free_port, require_binary, sanitizer_report)

DEPLOY_CONFIG = REPO / "deploy" / "concertd.toml"


def run(args, env=None, cwd=None, timeout=15):
    """`concertd <args>` to its end, with no CONCERTD_* variable but those of `env`."""
    e = clean_env()
    e.update(env or {})
    try:
        p = subprocess.run([require_binary(), *args], env=e, cwd=cwd, stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        pytest.fail(f"`concertd {' '.join(args)}` did not exit within {timeout}s")
    out, err = p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")
    report = sanitizer_report(out + err)
    if report is not None:
        pytest.fail(f"`concertd {' '.join(args)}` printed a sanitizer report:\n{report}", pytrace=False)
    return p.returncode, out, err


def write(path, text):
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return str(path)


def toml_string(text):
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


@pytest.fixture
def tmp():
    with tempfile.TemporaryDirectory(prefix="concertd-config-") as d:
        yield d


def test_serve_help_mentions_config():
    rc, out, err = run(["serve", "--help"])
    assert rc == 0, err
    assert "--config" in out and "CONCERTD_CONFIG" in out, out
    rc, out, err = run(["config", "--help"])
    assert rc == 0 and "--config" in out and "--max-active" in out, out + err


def file_settings(srv, **extra):
    keys = {"host": toml_string(srv.host), "port": str(srv.port), "data-dir": toml_string(srv.data_dir),
            "admin-key": toml_string(ADMIN_KEY), **extra}
    return "".join(f"{k} = {v}\n" for k, v in keys.items())


def test_server_runs_from_the_file_alone(make_server):
    # no --host/--port/--data-dir/--admin-key flag and no variable: all of them from the file
    srv = make_server(settings="file", start=False)
    path = write(os.path.join(srv.tmp, "concertd.toml"), file_settings(srv, **{"max-active": "7", "demo": "false"}))
    srv.args = ["--config", path]
    srv.start()
    q = expect(srv.get("/api/admin/queue", headers={"X-Admin-Key": ADMIN_KEY}), 200)
    assert q["maxActive"] == 7, q
    expect(srv.get("/api/admin/queue", headers={"X-Admin-Key": "nope"}), 401, "ADMIN_KEY_REQUIRED")
    body = expect(srv.get("/api/concerts/available-dates"), 200)
    assert body["concerts"] == [], body  # demo = false
    # max-active from the file counts as given explicitly: it overrides the stored setting
    expect(srv.post("/api/admin/queue", {"maxActive": 3}, headers={"X-Admin-Key": ADMIN_KEY}), 200)
    srv.restart()
    q = expect(srv.get("/api/admin/queue", headers={"X-Admin-Key": ADMIN_KEY}), 200)
    assert q["maxActive"] == 7, q


def test_flag_and_environment_override_the_file(make_server):
    srv = make_server(settings="file", start=False)
    path = write(os.path.join(srv.tmp, "concertd.toml"), file_settings(srv, **{"max-active": "7"}))
    srv.args = ["--config", path, "--max-active", "9"]
    srv.env_extra = {"CONCERTD_MAX_ACTIVE": "8"}
    srv.start()
    q = expect(srv.get("/api/admin/queue", headers={"X-Admin-Key": ADMIN_KEY}), 200)
    assert q["maxActive"] == 9, q
    srv.stop()
    srv.args = ["--config", path]  # the variable, then, over the file
    srv.start()
    q = expect(srv.get("/api/admin/queue", headers={"X-Admin-Key": ADMIN_KEY}), 200)
    assert q["maxActive"] == 8, q


def test_file_named_by_the_environment(make_server):
    srv = make_server(settings="file", start=False)
    srv.env_extra = {"CONCERTD_CONFIG": write(os.path.join(srv.tmp, "c.toml"),
                                              file_settings(srv, **{"max-active": "5"}))}
    srv.start()
    q = expect(srv.get("/api/admin/queue", headers={"X-Admin-Key": ADMIN_KEY}), 200)
    assert q["maxActive"] == 5, q


@pytest.mark.parametrize("text,expected", [
    ("port = 8080\nfoo = 1\n", "unknown key `foo` in {path} (line 2)"),
    ("[server]\nport = 8080\n", "unknown key `server` in {path}"),
    ("port = \"8080\"\n", "`port` in {path} (line 1): must be an integer"),
    ("hold-ttl = 1.5\n", "`hold-ttl` in {path} (line 1): must be an integer (whole seconds)"),
    ("hold-ttl = 0\n", "`hold-ttl` in {path} (line 1): "),
    ("max-active = 0\n", "`max-active` in {path} (line 1): "),
    ("host = \"999.1.1.1\"\n", "`host` in {path} (line 1): "),
    ("demo = \"no\"\n", "`demo` in {path} (line 1): must be true or false"),
    ("port = \n", "cannot parse config file {path}: "),
], ids=["unknown", "table", "string-port", "float-ttl", "zero-ttl", "zero-active", "bad-host", "string-bool",
        "syntax"])
def test_bad_file_exits_2_naming_file_and_key(tmp, text, expected):
    path = write(os.path.join(tmp, "concertd.toml"), text)
    data = os.path.join(tmp, "data")
    for command in ("serve", "config"):
        rc, out, err = run([command, "--config", path, "--port", str(free_port()), "--data-dir", data])
        assert rc == 2, f"{command} with {text!r}: exit {rc}\n{out}{err}"
        assert expected.format(path=path) in err, f"{command} with {text!r}:\n{err}"
    assert not os.path.exists(data), "nothing may be created before the settings are checked"


def test_missing_file_exits_2(tmp):
    path = os.path.join(tmp, "nowhere.toml")
    rc, out, err = run(["serve", "--config", path, "--port", str(free_port()), "--data-dir", tmp])
    assert rc == 2 and path in err, f"exit {rc}: {err}"
    rc, out, err = run(["serve", "--port", str(free_port()), "--data-dir", tmp], env={"CONCERTD_CONFIG": path})
    assert rc == 2 and path in err, f"exit {rc}: {err}"


def test_config_command_prints_masked_toml_that_loads_again(tmp):
    data = os.path.join(tmp, "data")
    secret_key, pg_password = "adm1n-s3cret-key", "pg-s3cret"
    path = write(os.path.join(tmp, "concertd.toml"),
                 f'port = 9191\nmax-active = 500\nadmin-key = "{secret_key}"\ndata-dir = "{data}"\n'
                 f'trusted-proxies = ["10.0.0.0/8"]\nno-demo = true\n'
                 f'postgres = "postgresql://concertd:{pg_password}@127.0.0.1:1/concertd"\n')
    rc, out, err = run(["config", "--config", path, "--hold-ttl", "120"], env={"CONCERTD_RATE_LIMIT": "4"})
    assert rc == 0, err
    assert secret_key not in out and pg_password not in out, out
    lines = {line.split(" = ")[0]: line for line in out.splitlines() if " = " in line and not line.startswith("#")}
    assert lines["admin-key"].startswith('admin-key = "***"'), out
    assert lines["postgres"].startswith('postgres = "postgresql://concertd:***@127.0.0.1:1/concertd"'), out
    assert lines["port"].startswith("port = 9191") and lines["port"].endswith("# file"), out
    assert lines["hold-ttl"].startswith("hold-ttl = 120") and lines["hold-ttl"].endswith("# flag"), out
    assert lines["rate-limit"].endswith("# env CONCERTD_RATE_LIMIT"), out
    assert lines["active-ttl"].startswith("active-ttl = 600") and lines["active-ttl"].endswith("# default"), out
    assert lines["demo"].startswith("demo = false"), out
    assert lines["trusted-proxies"].startswith('trusted-proxies = ["10.0.0.0/8"]'), out
    assert not os.path.exists(data), "`concertd config` must not open the store"
    # fed back alone, it is the same configuration, now all from the file
    rc2, again, err2 = run(["config", "--config", write(os.path.join(tmp, "printed.toml"), out)])
    assert rc2 == 0, err2
    rc3, third, err3 = run(["config", "--config", write(os.path.join(tmp, "again.toml"), again)])
    assert rc3 == 0, err3
    assert third == again, f"{again}\n---\n{third}"
    strip = [line.split("#")[0].rstrip() for line in out.splitlines() if not line.startswith("#")]
    assert strip == [line.split("#")[0].rstrip() for line in again.splitlines() if not line.startswith("#")], \
        f"{out}\n---\n{again}"


def test_serve_refuses_a_masked_admin_key(tmp):
    path = write(os.path.join(tmp, "concertd.toml"), 'admin-key = "***"\n')
    rc, out, err = run(["serve", "--config", path, "--port", str(free_port()), "--data-dir", tmp])
    assert rc == 2 and "--admin-key" in err, f"exit {rc}: {err}"


def test_packaged_example_file_loads(tmp, make_server):
    rc, out, err = run(["config", "--config", str(DEPLOY_CONFIG)])
    assert rc == 0, err
    assert 'data-dir = "/var/lib/concertd"' in out and "# file" in out, out
    assert 'host = "127.0.0.1"' in out and "port = 8080 " in out, out
    # and a server starts with it, its flags taking the place of the packaged host, port and directory
    srv = make_server("--config", str(DEPLOY_CONFIG))
    expect(srv.get("/healthz"), 200, status="ok")
