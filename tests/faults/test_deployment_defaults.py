"""Issue 16, item 10: the docker-compose stack has no default secret and publishes nothing beyond
this machine unless the operator says so. ``docker-compose config`` renders the file as compose
would run it (no engine needed); without docker-compose, the static checks still run."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
SECRETS = ("POSTGRES_PASSWORD", "SHOPPER_READER_PASSWORD", "MINIO_ROOT_PASSWORD")


def compose_config(tmp_path: Path, env_lines: list[str]) -> subprocess.CompletedProcess:
    binary = shutil.which("docker-compose")
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("docker-compose is not installed; .ci/run installs it with apt-get")
        pytest.skip("docker-compose not installed (CI installs it)")
    env_file = tmp_path / "compose.env"
    env_file.write_text("".join(f"{line}\n" for line in env_lines))
    environ = {k: v for k, v in os.environ.items() if k not in (*SECRETS, "SHOPPER_BIND_ADDRESS")}
    return subprocess.run(
        [binary, "-f", str(COMPOSE), "--env-file", str(env_file), "config"],
        capture_output=True,
        text=True,
        env=environ,
        timeout=120,
    )


@pytest.mark.parametrize("missing", SECRETS)
def test_the_stack_refuses_to_start_without_a_password(tmp_path: Path, missing: str):
    given = [f"{name}=a-real-secret-1" for name in SECRETS if name != missing]
    result = compose_config(tmp_path, given)
    assert result.returncode != 0
    assert f"set {missing} in .env" in result.stderr


def test_the_env_example_does_not_start_as_copied(tmp_path: Path):
    """Copying .env.example without setting the passwords is refused too (they are empty)."""
    result = compose_config(tmp_path, (ROOT / ".env.example").read_text().splitlines())
    assert result.returncode != 0 and "set POSTGRES_PASSWORD in .env" in result.stderr


def published(config_text: str) -> dict[str, list[str]]:
    services = yaml.safe_load(config_text)["services"]
    return {name: [str(p) for p in s.get("ports", [])] for name, s in services.items() if s.get("ports")}


def test_ports_are_published_on_localhost_unless_the_operator_opts_in(tmp_path: Path):
    secrets = [f"{name}=a-real-secret-1" for name in SECRETS]
    default = compose_config(tmp_path, secrets)
    assert default.returncode == 0, default.stderr
    ports = published(default.stdout)
    assert set(ports) == {"postgres", "minio", "kafka", "webserver", "api", "dashboard"}
    assert all(p.startswith("127.0.0.1:") for mapped in ports.values() for p in mapped), ports

    shared = compose_config(tmp_path, [*secrets, "SHOPPER_BIND_ADDRESS=0.0.0.0"])
    assert shared.returncode == 0, shared.stderr
    assert all(p.startswith("0.0.0.0:") for mapped in published(shared.stdout).values() for p in mapped)


def test_the_files_hold_no_default_secret_and_bind_every_port():
    """Static: no fallback password anywhere, and every published port goes through the bind address."""
    text = COMPOSE.read_text()
    assert "change-me" not in text and "change-me" not in (ROOT / ".env.example").read_text()
    for name in SECRETS:
        uses = re.findall(r"(?<!\$)\$\{" + name + r"([^}]*)\}", text)  # ($${...} is the container's variable)
        assert uses and all(use.startswith(":?") for use in uses), (name, uses)
    lines = (ROOT / ".env.example").read_text().splitlines()
    example = dict(line.split("=", 1) for line in lines if "=" in line and not line.startswith("#"))
    assert all(example[name] == "" for name in SECRETS)
    for service in yaml.safe_load(text)["services"].values():
        for port in service.get("ports", []):
            assert port.startswith("${SHOPPER_BIND_ADDRESS:-127.0.0.1}:"), port
