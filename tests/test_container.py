"""The container files: docker/Dockerfile, docker/compose.yaml, docker/gateway.toml.

Read against the project, with no Docker engine (part of `make test`): what they copy exists
and is not excluded by .dockerignore, the variables they set are real `SEG_` overrides,
ports, health check and entry point agree with the configuration and the console script.
The built image itself is tested by tests/container (`make test-container`).
"""

from __future__ import annotations

import fnmatch
import http.server
import json
import re
import shlex
import socket
import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import pytest

from selfemployed_gateway.configuration import CONFIG_ENV, ENVIRONMENT_OVERRIDES, load_settings
from tests.support.paths import PROJECT

DOCKER = PROJECT / "docker"
DOCKERFILE = DOCKER / "Dockerfile"
COMPOSE = DOCKER / "compose.yaml"
CONTAINER_CONFIG = DOCKER / "gateway.toml"
DEFAULT_CONFIG = PROJECT / "config" / "gateway.toml"
DOCKERIGNORE = PROJECT / ".dockerignore"

KNOWN_VARIABLES = {*ENVIRONMENT_OVERRIDES, CONFIG_ENV}
APP = PurePosixPath("/app")
SECRETS = PurePosixPath("/run/secrets")
# Host paths of bind mounts that are not in the repository: created by a make target.
CREATED_BY = {"var/pki": "make pki"}


# --- Dockerfile --------------------------------------------------------------------------


@dataclass
class Instruction:
    keyword: str
    arguments: str

    def json_or_words(self) -> list[str]:
        """Exec form (a JSON array) or shell words."""
        text = self.arguments.strip()
        if text.startswith("["):
            words = json.loads(text)
            assert isinstance(words, list)
            return [str(word) for word in words]
        return shlex.split(text)


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]


def parse_dockerfile(text: str) -> list[Stage]:
    """Stages of a Dockerfile: comments dropped, continuation lines joined."""
    logical: list[str] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("#") or (not line and pending):
            continue  # Docker also drops comment and empty lines inside a continuation
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        if pending or line:
            logical.append(pending + line)
        pending = ""
    assert not pending, "the Dockerfile ends with a line continuation"

    stages: list[Stage] = []
    global_arguments: dict[str, str] = {}  # ARG before the first FROM: usable in FROM
    for line in logical:
        keyword, _, arguments = line.partition(" ")
        instruction = Instruction(keyword.upper(), arguments.strip())
        if instruction.keyword == "ARG" and not stages:
            variable, _, default = instruction.arguments.partition("=")
            global_arguments[variable.strip()] = default.strip()
        elif instruction.keyword == "FROM":
            words = re.sub(
                r"\$\{(\w+)\}|\$(\w+)",
                lambda m: global_arguments[m.group(1) or m.group(2)],
                instruction.arguments,
            ).split()
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            stages.append(Stage(base=words[0], name=name))
        else:
            assert stages, f"{line!r} before the first FROM"
            stages[-1].instructions.append(instruction)
    return stages


def copy_parts(instruction: Instruction) -> tuple[dict[str, str], list[str], str]:
    """(--flags, sources, destination) of a COPY instruction."""
    words = instruction.arguments.split()
    flags: dict[str, str] = {}
    while words and words[0].startswith("--"):
        key, _, value = words.pop(0)[2:].partition("=")
        flags[key] = value
    rest = Instruction("COPY", " ".join(words)).json_or_words()
    assert len(rest) >= 2, f"COPY needs a source and a destination: {instruction.arguments}"
    return flags, rest[:-1], rest[-1]


def env_pairs(stage: Stage) -> dict[str, str]:
    """Every variable the stage's ENV instructions set (KEY=VALUE ... or legacy KEY VALUE)."""
    variables: dict[str, str] = {}
    for instruction in stage.all("ENV"):
        words = shlex.split(instruction.arguments)
        if words and "=" not in words[0]:
            variables[words[0]] = " ".join(words[1:])
            continue
        for word in words:
            key, _, value = word.partition("=")
            variables[key] = value
    return variables


@pytest.fixture(scope="module")
def stages() -> list[Stage]:
    return parse_dockerfile(DOCKERFILE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def final(stages: list[Stage]) -> Stage:
    return stages[-1]


@pytest.fixture(scope="module")
def default_config() -> dict[str, Any]:
    return tomllib.loads(DEFAULT_CONFIG.read_text(encoding="utf-8"))


def dockerignore_patterns() -> list[str]:
    lines = DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
    return [line.strip().lstrip("/") for line in lines if line.strip() and line[0] != "#"]


def ignored(path: str, patterns: list[str]) -> bool:
    """Whether .dockerignore excludes `path` (a pattern matches it or one of its parents)."""
    parts = PurePosixPath(path.rstrip("/")).parts
    prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    for pattern in patterns:
        assert not pattern.startswith("!"), "exceptions are not handled by this test"
        bare = pattern[3:] if pattern.startswith("**/") else None
        for prefix in prefixes:
            if fnmatch.fnmatchcase(prefix, pattern):
                return True
            if bare and fnmatch.fnmatchcase(prefix.rsplit("/", 1)[-1], bare):
                return True
    return False


def test_two_stages_on_a_python_slim_image_the_project_runs_on(stages: list[Stage]) -> None:
    bases = {stage.base for stage in stages}
    assert len(stages) == 2 and len(bases) == 1, "build and runtime on the same Python"
    (base,) = bases
    found = re.fullmatch(r"python:3\.(\d+)-slim", base)
    assert found, base
    minor = int(found.group(1))
    pyproject = tomllib.loads((PROJECT / "pyproject.toml").read_text(encoding="utf-8"))
    supported = pyproject["project"]["requires-python"]
    assert re.fullmatch(r">=3\.(\d+),<3\.(\d+)", supported), supported
    low, high = (int(n) for n in re.findall(r"3\.(\d+)", supported))
    assert low <= minor < high, f"{base} outside requires-python {supported}"
    build = stages[0]
    assert build.name, "the build stage needs a name for COPY --from"
    assert any("pip install ." in i.arguments for i in build.all("RUN")), "non-editable install"
    assert not any("pip install -e" in i.arguments for i in build.all("RUN"))


def test_every_copy_source_exists_and_is_in_the_build_context(stages: list[Stage]) -> None:
    patterns = dockerignore_patterns()
    names = {stage.name for stage in stages if stage.name}
    copies = [i for stage in stages for i in stage.all("COPY")]
    assert copies
    for instruction in copies:
        flags, sources, _ = copy_parts(instruction)
        if "from" in flags:
            assert flags["from"] in names, f"COPY --from an unknown stage: {instruction}"
            continue
        for source in sources:
            assert (PROJECT / source).exists(), f"COPY source missing from the repo: {source}"
            assert not ignored(source, patterns), f".dockerignore excludes {source}"


def test_dockerignore_keeps_local_state_out_of_the_context() -> None:
    patterns = dockerignore_patterns()
    for path in (".venv", "var", ".git", "tests", "bench", "src/pkg/__pycache__"):
        assert ignored(path, patterns), path
    for path in ("pyproject.toml", "README.md", "src", "wsdl", "xsd", "config"):
        assert not ignored(path, patterns), path


def test_the_package_data_is_declared_for_the_non_editable_install() -> None:
    pyproject = tomllib.loads((PROJECT / "pyproject.toml").read_text(encoding="utf-8"))
    data = pyproject["tool"]["setuptools"]["package-data"]["selfemployed_gateway"]
    package = PROJECT / "src" / "selfemployed_gateway"
    schemas = sorted(package.glob("suppliers/schemas/*.xsd"))
    assert schemas
    for schema in schemas:
        relative = schema.relative_to(package).as_posix()
        assert any(fnmatch.fnmatchcase(relative, pattern) for pattern in data), relative


def test_the_final_stage_copies_the_venv_contract_and_configuration(final: Stage) -> None:
    destinations: dict[str, str] = {}
    for instruction in final.all("COPY"):
        _, sources, destination = copy_parts(instruction)
        for source in sources:
            destinations[source.rstrip("/")] = destination.rstrip("/")
    assert destinations["/opt/venv"] == "/opt/venv"
    assert destinations["wsdl"] == "/app/wsdl"
    assert destinations["xsd"] == "/app/xsd"
    assert destinations["config"] == "/app/config"
    assert destinations["docker/gateway.toml"] == env_pairs(final)[CONFIG_ENV]
    assert final.all("WORKDIR")[-1].arguments == "/app"


def test_the_final_stage_runs_as_a_non_root_user(final: Stage) -> None:
    users = final.all("USER")
    assert users, "the final stage must set USER"
    user = users[-1].arguments.split(":")[0]
    assert user not in {"root", "0"}
    assert user in {"seg", "10001"}
    created = " ".join(i.arguments for i in final.all("RUN"))
    assert re.search(r"useradd .*--uid 10001 .*seg", created), "user seg (uid 10001)"


def test_volumes(final: Stage) -> None:
    (volume,) = final.all("VOLUME")
    assert set(volume.json_or_words()) == {"/app/config", "/app/pki", "/app/var"}


def test_every_seg_variable_of_the_image_is_a_known_override(final: Stage) -> None:
    variables = env_pairs(final)
    seg = {name for name in variables if name.startswith("SEG_")}
    assert seg - KNOWN_VARIABLES == set(), "not in settings.ENVIRONMENT_OVERRIDES"
    assert variables[CONFIG_ENV] == "/app/config/gateway.toml"
    assert variables["PYTHONUNBUFFERED"] == "1"
    assert variables["SEG_LISTEN_HOST"] == variables["SEG_ADMIN_HOST"] == "0.0.0.0"
    assert variables["SEG_TLS_CERTIFICATE"] == "/app/pki/server.crt"
    assert variables["SEG_TLS_PRIVATE_KEY"] == "/app/pki/server.key"


def test_exposed_ports_are_those_of_the_default_configuration(
    final: Stage, default_config: dict[str, Any]
) -> None:
    exposed = {int(word.split("/")[0]) for i in final.all("EXPOSE") for word in i.arguments.split()}
    soap = default_config["gateway"]["listen"]["port"]
    admin = default_config["admin"]["listen"]["port"]
    assert exposed == {soap, admin}
    container = load_settings(CONTAINER_CONFIG, environ={})
    assert {container.gateway.listen.port, container.admin.listen.port} == exposed


def healthcheck(final: Stage) -> tuple[list[str], list[str]]:
    """(options, exec-form command) of the final stage's HEALTHCHECK."""
    (instruction,) = final.all("HEALTHCHECK")
    options, _, command = instruction.arguments.partition("CMD ")
    return options.split(), Instruction("CMD", command).json_or_words()


def test_healthcheck_asks_healthz_on_the_admin_port(
    final: Stage, default_config: dict[str, Any]
) -> None:
    options, command = healthcheck(final)
    assert set(options) >= {"--interval=30s", "--timeout=3s", "--start-period=10s"}
    assert command[:2] == ["python", "-c"], "slim images have no curl: urllib"
    code = command[2]
    assert "urllib.request" in code
    assert "http://127.0.0.1:" in code and "/healthz" in code
    assert repr(str(default_config["admin"]["listen"]["port"])) in code


class _Health(http.server.BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        self.send_response(self.status if self.path == "/healthz" else 404)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def admin_stub() -> Iterator[type[_Health]]:
    handler = type("Handler", (_Health,), {})
    server = http.server.HTTPServer(("127.0.0.1", 0), handler)
    handler.port = server.server_address[1]  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield handler
    finally:
        server.shutdown()
        server.server_close()


def test_the_healthcheck_command_fails_unless_healthz_answers_ok(
    final: Stage, admin_stub: type[_Health]
) -> None:
    """Run the HEALTHCHECK's Python against a stand-in admin port (SEG_ADMIN_PORT)."""
    _, command = healthcheck(final)

    def run(port: int) -> int:
        environment = {"SEG_ADMIN_PORT": str(port), "PATH": ""}
        return subprocess.run(
            [sys.executable, *command[1:]], env=environment, capture_output=True, timeout=30
        ).returncode

    port: int = admin_stub.port  # type: ignore[attr-defined]
    assert run(port) == 0
    admin_stub.status = 503
    assert run(port) != 0
    admin_stub.status = 200
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        free = closed.getsockname()[1]
    assert run(free) != 0


def cli_subcommands() -> set[str]:
    result = subprocess.run(
        [sys.executable, "-m", "selfemployed_gateway.cli", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=PROJECT,
    )
    assert result.returncode == 0, result.stderr
    commands = set(re.findall(r"(?m)^    ([a-z][a-z0-9-]*)(?:\s|$)", result.stdout))
    assert "serve" in commands, result.stdout
    return commands


@pytest.fixture(scope="module")
def subcommands() -> set[str]:
    return cli_subcommands()


def test_entrypoint_is_the_console_script_and_cmd_a_subcommand(
    final: Stage, subcommands: set[str]
) -> None:
    pyproject = tomllib.loads((PROJECT / "pyproject.toml").read_text(encoding="utf-8"))
    scripts = pyproject["project"]["scripts"]
    assert scripts == {"selfemployed-gateway": "selfemployed_gateway.cli:main"}
    assert final.all("ENTRYPOINT")[-1].json_or_words() == ["selfemployed-gateway"]
    assert final.all("CMD")[-1].json_or_words() == ["serve"]
    assert "serve" in subcommands


# --- docker/gateway.toml -----------------------------------------------------------------


def paths_in(value: Any) -> Iterator[Path]:
    if isinstance(value, Path):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from paths_in(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from paths_in(item)


@pytest.mark.skipif(not CONTAINER_CONFIG.exists(), reason="no docker/gateway.toml")
@pytest.mark.parametrize("with_image_environment", [False, True])
def test_the_container_configuration_loads_with_paths_under_app(
    final: Stage, with_image_environment: bool
) -> None:
    """load_settings checks types, not existence: /app need not exist here."""
    environ = env_pairs(final) if with_image_environment else {}
    settings = load_settings(CONTAINER_CONFIG, environ=environ)
    paths = list(paths_in(settings.model_dump()))
    assert len(paths) >= 9
    for path in paths:
        assert PurePosixPath(path).is_relative_to(APP) or _secret(path), path
    assert settings.tls.client_ca == [Path("/app/pki/ca.crt")]
    assert settings.tls.certificate == Path("/app/pki/server.crt")
    assert settings.tls.private_key == Path("/app/pki/server.key")
    assert settings.gateway.listen.host == settings.admin.listen.host == "0.0.0.0"
    assert settings.simulator is not None


def _secret(path: object) -> bool:
    """Keys are secrets mounted at /run/secrets (issue #13), never files of a volume."""
    return PurePosixPath(str(path)).is_relative_to(SECRETS)


def test_the_container_configuration_names_files_of_the_repository() -> None:
    """Every /app path of the image's configuration is one the image holds (or a volume)."""
    settings = load_settings(CONTAINER_CONFIG, environ={})
    copied = {"config", "wsdl", "xsd"}
    for path in paths_in(settings.model_dump()):
        if _secret(path):
            continue  # mounted by the orchestrator (compose secrets)
        relative = PurePosixPath(path).relative_to(APP)
        if relative.parts[0] in copied:
            assert (PROJECT / relative).exists(), path
        else:
            assert relative.parts[0] in {"pki", "var"}, path


def test_the_container_configuration_keeps_the_development_behaviour() -> None:
    """Only paths and listen hosts differ from config/gateway.toml."""
    container = load_settings(CONTAINER_CONFIG, environ={}).model_dump()
    development = load_settings(DEFAULT_CONFIG, environ={}).model_dump()

    def without_paths_and_hosts(value: Any) -> Any:
        if isinstance(value, dict):
            return {
                key: without_paths_and_hosts(item)
                for key, item in value.items()
                if key != "host" and not list(paths_in(item))
            }
        return value

    assert without_paths_and_hosts(container) == without_paths_and_hosts(development)


# --- docker/compose.yaml (line-based) ----------------------------------------------------


@dataclass
class Block:
    """A top-level entry or a service: its own lines and the anchors it merges."""

    lines: list[str]
    merges: list[str]
    anchor: str | None


def compose_blocks(text: str) -> tuple[dict[str, Block], dict[str, Block]]:
    """(top-level entries, services) of compose.yaml: 2-space indentation, `<<: *anchor`."""
    top: dict[str, Block] = {}
    services: dict[str, Block] = {}
    current: Block | None = None
    section = ""
    for raw in text.splitlines():
        line = raw.split(" #")[0].rstrip() if not raw.lstrip().startswith("#") else ""
        if not line:
            continue
        indent = len(line) - len(line.lstrip())
        key = re.match(r"^\s*([\w.-]+):(?:\s*&([\w-]+))?", line)
        if indent == 0 and key:
            section = key.group(1)
            current = top[section] = Block([], [], key.group(2))
            continue
        if indent == 2 and section == "services" and key:
            current = services[key.group(1)] = Block([], [], key.group(2))
            continue
        assert current is not None, line
        merge = re.match(r"^\s*<<:\s*\*([\w-]+)\s*$", line)
        if merge and indent == (4 if section == "services" else 2):
            current.merges.append(merge.group(1))
        current.lines.append(line)
    return top, services


def effective_lines(block: Block, top: dict[str, Block]) -> list[str]:
    anchors = {b.anchor: b for b in top.values() if b.anchor}
    lines = list(block.lines)
    for name in block.merges:
        assert name in anchors, f"unknown anchor *{name}"
        lines += effective_lines(anchors[name], top)
    return lines


@pytest.fixture(scope="module")
def compose_text() -> str:
    return COMPOSE.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def compose(compose_text: str) -> tuple[dict[str, Block], dict[str, Block]]:
    return compose_blocks(compose_text)


def test_compose_services_and_profiles(
    compose: tuple[dict[str, Block], dict[str, Block]],
) -> None:
    top, services = compose
    assert set(services) >= {"simulator", "gateway", "postgres"}
    for name in ("postgres", "gateway-pg"):
        if name in services:
            assert any('profiles: ["postgresql"]' in line for line in services[name].lines), name
    for name in ("simulator", "gateway"):
        assert not any("profiles:" in line for line in effective_lines(services[name], top))
    assert any("image: postgres:15" in line for line in services["postgres"].lines)


def test_every_seg_variable_in_compose_is_a_known_override(compose_text: str) -> None:
    used = set(re.findall(r"\bSEG_[A-Z0-9_]+", compose_text))
    assert used
    assert used - KNOWN_VARIABLES == set(), "not in settings.ENVIRONMENT_OVERRIDES"


def test_postgresql_settings_only_in_the_postgresql_profile(
    compose: tuple[dict[str, Block], dict[str, Block]],
) -> None:
    top, services = compose
    for name, block in services.items():
        lines = "\n".join(effective_lines(block, top))
        if "SEG_AUDIT_BACKEND: postgresql" in lines or "SEG_AUDIT_POSTGRESQL_DSN" in lines:
            assert 'profiles: ["postgresql"]' in lines, name


def test_compose_commands_are_cli_subcommands(
    compose: tuple[dict[str, Block], dict[str, Block]], subcommands: set[str]
) -> None:
    top, services = compose
    commands: dict[str, str] = {}
    for name, block in services.items():
        for line in effective_lines(block, top):
            found = re.match(r"^\s*command:\s*(.+)$", line)
            if found:
                commands.setdefault(name, Instruction("CMD", found.group(1)).json_or_words()[0])
    assert commands["simulator"] == "simulate-inasti"
    assert commands["gateway"] == "serve"
    assert set(commands.values()) <= subcommands


def test_compose_volumes_exist_or_are_created_by_make(
    compose_text: str, compose: tuple[dict[str, Block], dict[str, Block]]
) -> None:
    top, services = compose
    named = {m.group(1) for line in top["volumes"].lines if (m := re.match(r"^  ([\w-]+):", line))}
    makefile = (PROJECT / "Makefile").read_text(encoding="utf-8")
    mounts = 0
    for block in services.values():
        for line in effective_lines(block, top):
            found = re.match(r"^\s*- ([^:\s]+):(/[^:\s]*)(?::(ro|rw))?\s*$", line)
            if not found:
                continue
            mounts += 1
            source, target = found.group(1), found.group(2)
            if not source.startswith((".", "/")):
                assert source in named, f"named volume {source} is not declared"
                continue
            host = (DOCKER / source).resolve()
            relative = host.relative_to(PROJECT).as_posix()
            made_by = [folder for folder in CREATED_BY if relative.startswith(folder + "/")]
            assert relative not in CREATED_BY, f"{source}: mount the files it needs, not it all"
            if made_by:
                creator = CREATED_BY[made_by[0]]
                assert creator in compose_text, f"compose.yaml should say {creator} creates it"
                assert re.search(rf"(?m)^{creator.split()[1]}:", makefile), creator
                assert found.group(3) == "ro", f"{source} holds keys: mount it read-only"
            else:
                assert host.exists(), f"bind mount source missing: {source}"
            if target != "/app/config/gateway.toml":
                volume = target if target.count("/") == 2 else target.rsplit("/", 1)[0]
                assert volume in {"/app/config", "/app/pki", "/app/var"} or not target.startswith(
                    "/app"
                ), target
    assert mounts >= 4


def test_make_pki_creates_what_the_gateway_mounts() -> None:
    from selfemployed_gateway import cli

    assert Path("var/pki") == cli.DEV_PKI
    makefile = (PROJECT / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"(?m)^pki:.*\n\t.*selfemployed-gateway dev-pki\s*$", makefile)


def test_gateway_healthcheck_and_supplier_urls(
    compose: tuple[dict[str, Block], dict[str, Block]], default_config: dict[str, Any]
) -> None:
    top, services = compose
    gateway = "\n".join(effective_lines(services["gateway"], top))
    assert "healthcheck:" in gateway
    admin = default_config["admin"]["listen"]["port"]
    assert f"http://127.0.0.1:{admin}/healthz" in gateway
    assert f'"127.0.0.1:{admin}:{admin}"' in gateway  # this host only (issue #13)
    soap = default_config["gateway"]["listen"]["port"]
    assert f'"{soap}:{soap}"' in gateway

    container = load_settings(CONTAINER_CONFIG, environ={})
    assert container.simulator is not None
    simulator = f"https://simulator:{container.simulator.listen.port}"
    final_path = default_config["supplier"]["url"].split(":4580", 1)[1]
    l302_path = default_config["supplier"]["l302_url"].split(":4580", 1)[1]
    assert f"SEG_SUPPLIER_URL: {simulator}{final_path}" in gateway
    assert f"SEG_SUPPLIER_L302_URL: {simulator}{l302_path}" in gateway
    simulator_lines = "\n".join(effective_lines(services["simulator"], top))
    assert "SEG_SIMULATOR_HOST: 0.0.0.0" in simulator_lines
