"""docs/deploy.md stays true: its proxy configs pass `caddy validate` / `nginx -t`, its systemd units
pass `systemd-analyze verify` and start real `poas` commands with real flags, and its doctor
checklist names only checks `poas doctor` makes. A tool that is not installed skips its own check
(saying so); nothing is installed by the test."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer.main

import poas.cli  # noqa: F401  (registers every command)
from poas.cli.app import app

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "deploy.md").read_text()
POAS = Path(sys.executable).parent / "poas"


def _block(lang: str) -> str:
    found = re.findall(rf"```{lang}\n(.*?)```", DOC, flags=re.S)
    assert len(found) == 1, f"docs/deploy.md should hold one {lang} block"
    return str(found[0])


def _units() -> dict[str, str]:
    found = re.findall(r"`/etc/systemd/system/([\w-]+\.service)`:\n\n```ini\n(.*?)```", DOC, flags=re.S)
    return {name: body for name, body in found}


def _need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        why = f"{tool} is not installed here: its check in docs/deploy.md was not run"
        if os.environ.get("CI", "").lower() == "true":  # .ci/run installs caddy, nginx and systemd
            pytest.fail(why)
        pytest.skip(why)
    return path


def _caddy_validate(tmp_path: Path, text: str) -> subprocess.CompletedProcess[str]:
    caddy = _need("caddy")
    config = tmp_path / "Caddyfile"
    config.write_text(text)
    env = {"HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path)}
    cmd = [caddy, "validate", "--config", str(config), "--adapter", "caddyfile"]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=env)


def test_the_caddy_config_validates(tmp_path: Path) -> None:
    text = _block("caddyfile")
    good = _caddy_validate(tmp_path, text)
    assert good.returncode == 0, good.stderr
    assert "reverse_proxy 127.0.0.1:8000" in text
    bad = _caddy_validate(tmp_path, text.replace("reverse_proxy", "reverse_proxi"))
    assert bad.returncode != 0  # the check can fail


def _nginx_test(tmp_path: Path, server_conf: str) -> subprocess.CompletedProcess[str]:
    nginx = _need("nginx")
    openssl = _need("openssl")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    if not cert.exists():
        subprocess.run(
            [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
             "-days", "1", "-subj", "/CN=poas.example.com"],
            check=True, capture_output=True, timeout=60,
        )  # fmt: skip
    live = "/etc/letsencrypt/live/poas.example.com/"
    conf = server_conf.replace(live + "fullchain.pem", str(cert)).replace(live + "privkey.pem", str(key))
    (tmp_path / "poas.conf").write_text(conf)
    (tmp_path / "logs").mkdir(exist_ok=True)
    main = tmp_path / "nginx.conf"
    main.write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/logs/error.log;\nevents {{}}\n"
        f"http {{\n  access_log off;\n  include {tmp_path}/poas.conf;\n}}\n"
    )
    cmd = [nginx, "-t", "-p", str(tmp_path), "-c", str(main), "-g", "daemon off;"]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60)


def test_the_nginx_config_passes_nginx_t(tmp_path: Path) -> None:
    text = _block("nginx")
    good = _nginx_test(tmp_path, text)
    assert good.returncode == 0, good.stderr
    for header in ("X-Forwarded-For", "X-Forwarded-Proto", "Host"):
        assert f"proxy_set_header {header}" in text
    assert "proxy_pass http://127.0.0.1:8000;" in text
    bad = _nginx_test(tmp_path, text.replace("proxy_pass", "proxy_passs"))
    assert bad.returncode != 0  # the check can fail


def test_the_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    tool = _need("systemd-analyze")
    units = _units()
    assert sorted(units) == ["poas-web.service", "poas-worker.service"]
    env = tmp_path / "poas.env"
    env.write_text("POAS_HOME=/var/lib/poas\n")
    paths = []
    for name, body in units.items():
        local = body.replace("/opt/poas/venv/bin/poas", str(POAS)).replace("/etc/poas/poas.env", str(env))
        (tmp_path / name).write_text(local)
        paths.append(str(tmp_path / name))
    done = subprocess.run([tool, "verify", *paths], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    complaints = [line for line in (done.stdout + done.stderr).splitlines() if ".service" in line]
    assert done.returncode == 0 and not complaints, done.stderr


def _resolve(args: list[str]) -> tuple[Any, list[str]]:
    """The (sub)command `poas ARGS` runs, and the arguments left for it (Typer's own click)."""
    cmd: Any = typer.main.get_command(app)
    while hasattr(cmd, "commands") and args and args[0] in cmd.commands:
        cmd, args = cmd.commands[args[0]], args[1:]
    return cmd, args


@pytest.mark.parametrize("unit", ["poas-web.service", "poas-worker.service"])
def test_each_unit_starts_a_real_poas_command(unit: str) -> None:
    body = _units()[unit]
    starts = re.findall(r"^ExecStart=(.*)$", body, flags=re.M)
    assert len(starts) == 1
    argv = shlex.split(starts[0])
    assert argv[0] == "/opt/poas/venv/bin/poas"
    cmd, rest = _resolve(argv[1:])
    assert cmd.name == unit.removeprefix("poas-").removesuffix(".service")
    assert not hasattr(cmd, "commands")
    # Parsing the arguments with the command's own parser: an unknown flag or a bad value fails here.
    ctx = cmd.make_context(cmd.name, rest)
    assert ctx.params  # the flags were read


def test_a_wrong_flag_would_be_caught() -> None:
    cmd, rest = _resolve(["web", "--hots", "127.0.0.1"])
    with pytest.raises(Exception) as raised:
        cmd.make_context(cmd.name, rest)
    assert type(raised.value).__name__ == "NoSuchOption"


def test_the_checklist_names_only_doctor_checks() -> None:
    checklist = DOC.split("## 9. Checklist `poas doctor` verifies", 1)[1]
    # an item names one check or several: "- `fees <id>`, `shipping <id>`: …"
    heads = re.findall(r"^- ((?:`[^`]+`(?:, )?)+):", checklist, flags=re.M)
    names = [name for head in heads for name in re.findall(r"`([^`]+)`", head)]
    doctor = (ROOT / "src" / "poas" / "services" / "doctor.py").read_text()
    made = set(re.findall(r'Check\(\s*"([a-z ]+)"', doctor))
    # per-shop checks are f-strings: f"fees {shop.id}" is `fees <id>` on the list
    made |= {f"{kind} <id>" for kind in re.findall(r'f"([a-z]+) \{shop\.id\}"', doctor)}
    made |= {"<kind> sync <id>"}
    assert {"shop <id>", "costs <id>", "fees <id>", "shipping <id>", "returns <id>"} <= made
    assert 'f"{s.kind.kind} sync {s.shop_id}"' in doctor
    assert names and set(names) <= made, set(names) - made
    # and every check doctor makes is on the list
    assert made <= set(names), made - set(names)


def test_readme_links_the_guide() -> None:
    assert "(docs/deploy.md)" in (ROOT / "README.md").read_text()
