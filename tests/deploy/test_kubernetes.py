"""deploy/kubernetes: the production manifests, validated and cross-checked offline.

No cluster and no kubectl here. Every object is validated against the API schemas that
kubernetes-validate bundles (strict: an unknown field fails), then read against the project,
as tests/test_container.py reads the Dockerfile: ports and probe paths are the listeners'
(the admin module's own paths), the SEG_ variables are real overrides, every file the
configuration names is mounted (or in the image) with a mode production accepts, the
embedded configuration loads and passes production.py's checks, the grace period covers
preStop and the gateway's drain, selectors select, the network policy admits SOAP and
keeps the admin port to Prometheus, and the pod runs as the image's user.
"""

from __future__ import annotations

import asyncio
import copy
import datetime
import io
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

import kubernetes_validate
import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from prometheus_client import CollectorRegistry
from twisted.web.test.requesthelper import DummyChannel, DummyRequest

from selfemployed_gateway import configuration
from selfemployed_gateway.audit.protection import new_key_text
from selfemployed_gateway.configuration import CONFIG_ENV, ENVIRONMENT_OVERRIDES, load_settings
from selfemployed_gateway.devpki import CA_COMMON_NAME
from selfemployed_gateway.production import unsafe_settings
from selfemployed_gateway.server import admin
from selfemployed_gateway.server.channel import GatewaySite, LimitedRequest
from selfemployed_gateway.server.gateway import Gateway
from selfemployed_gateway.settings import AuditBackend, RegistryBackend, Settings
from selfemployed_gateway.suppliers.l302.mapping import load_l302_mapping
from tests.support.paths import PROJECT
from tests.test_container import (
    DOCKERFILE,
    Stage,
    cli_subcommands,
    copy_parts,
    env_pairs,
    parse_dockerfile,
    paths_in,
)

# The Kubernetes version the manifests are validated against: one that kubernetes-validate
# bundles (1.25 … 1.37 in 1.37.0) and the oldest the manifests target, since the preStop
# `sleep` action is on by default from 1.30 (beta) and matchLabelKeys from 1.27.
KUBERNETES_VERSION = "1.31.0"

DEPLOY = PROJECT / "deploy" / "kubernetes"
KUSTOMIZATION = DEPLOY / "kustomization.yaml"
README = DEPLOY / "README.md"
GATEWAY_TOML = DEPLOY / "gateway.toml"
L302_MAPPING = PROJECT / "config" / "l302-mapping.toml"
NAMESPACE = "selfemployed-gateway"
DEPLOYMENT = "selfemployed-gateway"
CONTAINER = "gateway"
CONFIG_MAP = "selfemployed-gateway-config"

KNOWN_VARIABLES = {*ENVIRONMENT_OVERRIDES, CONFIG_ENV}
# Settings whose value is itself a secret, and so their SEG_ variables (configuration.py).
SECRET_VARIABLES = {
    variable
    for variable, dotted in ENVIRONMENT_OVERRIDES.items()
    if dotted in configuration._SECRET_SETTINGS
}
# After the drain: closing INASTI's and PostgreSQL's connections, the audit writer's last
# rows, the process's exit. Seconds.
SHUTDOWN_MARGIN_SECONDS = 5
# What Kubernetes gives a Secret or ConfigMap file when the volume names no defaultMode.
DEFAULT_FILE_MODE = 0o644
# The kubelet adds group read to the files of read-only volumes (Secret, ConfigMap,
# projected) when the pod has an fsGroup, and makes fsGroup their group.
FS_GROUP_READ = 0o440
CLUSTER_KINDS = {"Namespace"}
PROBES = ("startupProbe", "livenessProbe", "readinessProbe")
NO_SCHEMA = {"kustomization.yaml"}  # kustomize's file: no API object, no schema


# --- reading the manifests -----------------------------------------------------------------


def manifest_files() -> list[Path]:
    return sorted(p for p in DEPLOY.glob("*.yaml") if p.name not in NO_SCHEMA)


def documents(path: Path) -> list[dict[str, Any]]:
    """Every YAML document of a file (a file may hold several), empty ones dropped."""
    loaded = yaml.safe_load_all(path.read_text(encoding="utf-8"))
    return [document for document in loaded if document is not None]


@pytest.fixture(scope="module")
def objects() -> dict[tuple[str, str], dict[str, Any]]:
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for path in manifest_files():
        for document in documents(path):
            key = (document["kind"], document["metadata"]["name"])
            assert key not in found, f"{key} defined twice"
            found[key] = document
    return found


def of_kind(objects: Mapping[tuple[str, str], dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [document for (k, _), document in objects.items() if k == kind]


@pytest.fixture(scope="module")
def deployment(objects: dict[tuple[str, str], dict[str, Any]]) -> dict[str, Any]:
    return objects[("Deployment", DEPLOYMENT)]


@pytest.fixture(scope="module")
def pod(deployment: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = deployment["spec"]["template"]["spec"]
    return spec


@pytest.fixture(scope="module")
def container(pod: dict[str, Any]) -> dict[str, Any]:
    (found,) = [c for c in pod["containers"] if c["name"] == CONTAINER]
    return found


@pytest.fixture(scope="module")
def pod_labels(deployment: dict[str, Any]) -> dict[str, str]:
    labels: dict[str, str] = deployment["spec"]["template"]["metadata"]["labels"]
    return labels


def container_ports(container: dict[str, Any]) -> dict[str, int]:
    return {port["name"]: port["containerPort"] for port in container["ports"]}


def port_number(container: dict[str, Any], port: int | str) -> int:
    """A probe's or Service's port: a number, or the name of a container port."""
    return port if isinstance(port, int) else container_ports(container)[port]


def selects(selector: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    return bool(selector) and all(labels.get(key) == value for key, value in selector.items())


# --- the Dockerfile and the configuration --------------------------------------------------


@pytest.fixture(scope="module")
def final_stage() -> Stage:
    return parse_dockerfile(DOCKERFILE.read_text(encoding="utf-8"))[-1]


@pytest.fixture(scope="module")
def config_map(objects: dict[tuple[str, str], dict[str, Any]]) -> dict[str, str]:
    data: dict[str, str] = objects[("ConfigMap", CONFIG_MAP)]["data"]
    return data


def stand_in(variable: str) -> str:
    """A value of the right shape for a variable the Deployment takes from a Secret."""
    if variable.endswith("_DSN"):
        return (
            "host=postgresql.example.be port=5432 dbname=seg user=seg_gateway "
            "sslmode=verify-full sslrootcert=/app/pki/postgresql-ca.crt"
        )
    return new_key_text()  # 44 characters: what README.md has one make


def pod_environment(final_stage: Stage, container: dict[str, Any]) -> dict[str, str]:
    """The process's environment: the image's ENV, then the container's env (which wins);
    values from a Secret are stand-ins."""
    environment = env_pairs(final_stage)
    for variable in container.get("env", []):
        if "value" in variable:
            environment[variable["name"]] = str(variable["value"])
        else:
            assert "secretKeyRef" in variable["valueFrom"], variable
            environment[variable["name"]] = stand_in(variable["name"])
    return environment


@pytest.fixture(scope="module")
def environment(final_stage: Stage, container: dict[str, Any]) -> dict[str, str]:
    return pod_environment(final_stage, container)


@pytest.fixture(scope="module")
def settings(
    config_map: dict[str, str],
    environment: dict[str, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Settings:
    """The embedded gateway.toml, loaded as the pod loads it (its paths are absolute)."""
    path = tmp_path_factory.mktemp("config") / "gateway.toml"
    path.write_text(config_map["gateway.toml"], encoding="utf-8")
    return load_settings(path, environ=environment)


def configured_paths(settings: Settings, environment: Mapping[str, str]) -> list[PurePosixPath]:
    """Every file or folder the gateway reads: the configuration file and what it names."""
    named = [PurePosixPath(str(path)) for path in paths_in(settings.model_dump())]
    return [PurePosixPath(environment[CONFIG_ENV]), *named]


# --- what the volumes put where --------------------------------------------------------------


@dataclass(frozen=True)
class File:
    kind: str  # Secret or ConfigMap
    name: str
    key: str
    mode: int  # as the kubelet leaves it


@dataclass(frozen=True)
class Mount:
    path: PurePosixPath
    volume: str
    files: dict[str, File] | None  # relative path -> source; None: an emptyDir (writable)


def _effective_mode(mode: int, pod: Mapping[str, Any]) -> int:
    if pod.get("securityContext", {}).get("fsGroup") is not None:
        return mode | FS_GROUP_READ
    return mode


def _source_files(
    kind: str,
    source: Mapping[str, Any],
    default_mode: int,
    pod: Mapping[str, Any],
    in_folder: Mapping[tuple[str, str], Mapping[str, Any]],
) -> dict[str, File]:
    name = source["name"] if kind == "ConfigMap" else source.get("name", source.get("secretName"))
    items = source.get("items")
    if items is None:
        defined = in_folder.get((kind, name))
        assert defined is not None, f"{kind} {name}: list its items (the keys the pod reads)"
        items = [{"key": key, "path": key} for key in defined.get("data", {})]
    return {
        item["path"]: File(
            kind, name, item["key"], _effective_mode(item.get("mode", default_mode), pod)
        )
        for item in items
    }


def volume_files(
    volume: Mapping[str, Any],
    pod: Mapping[str, Any],
    in_folder: Mapping[tuple[str, str], Mapping[str, Any]],
) -> dict[str, File] | None:
    """The files a volume holds (relative path -> source); None for an emptyDir."""
    if "emptyDir" in volume:
        return None
    if "projected" in volume:
        default = volume["projected"].get("defaultMode", DEFAULT_FILE_MODE)
        files: dict[str, File] = {}
        for source in volume["projected"]["sources"]:
            (field,) = set(source) & {"secret", "configMap"} or {f"unexpected {source}"}
            kind = "Secret" if field == "secret" else "ConfigMap"
            added = _source_files(kind, source[field], default, pod, in_folder)
            assert not set(added) & set(files), f"volume {volume['name']}: a path twice"
            files.update(added)
        return files
    for kind, field in (("Secret", "secret"), ("ConfigMap", "configMap")):
        if field in volume:
            default = volume[field].get("defaultMode", DEFAULT_FILE_MODE)
            return _source_files(kind, volume[field], default, pod, in_folder)
    raise AssertionError(f"volume {volume['name']}: not a Secret, ConfigMap or emptyDir")


def mounts(
    pod: Mapping[str, Any],
    container: Mapping[str, Any],
    in_folder: Mapping[tuple[str, str], Mapping[str, Any]],
) -> list[Mount]:
    volumes = {volume["name"]: volume for volume in pod.get("volumes", [])}
    found: list[Mount] = []
    for mount in container.get("volumeMounts", []):
        assert "subPath" not in mount, "a subPath mount never sees a Secret or ConfigMap change"
        files = volume_files(volumes[mount["name"]], pod, in_folder)
        found.append(Mount(PurePosixPath(mount["mountPath"]), mount["name"], files))
    return found


@pytest.fixture(scope="module")
def pod_mounts(
    pod: dict[str, Any],
    container: dict[str, Any],
    objects: dict[tuple[str, str], dict[str, Any]],
) -> list[Mount]:
    return mounts(pod, container, objects)


def mount_of(path: PurePosixPath, pod_mounts: list[Mount]) -> Mount | None:
    """The mount a path is under (the deepest one), or None: the image's own file system."""
    under = [m for m in pod_mounts if path == m.path or m.path in path.parents]
    return max(under, key=lambda m: len(m.path.parts)) if under else None


def source_of(path: PurePosixPath, pod_mounts: list[Mount]) -> File | None:
    mount = mount_of(path, pod_mounts)
    if mount is None or mount.files is None:
        return None
    return mount.files.get(path.relative_to(mount.path).as_posix())


def in_image(path: PurePosixPath, final_stage: Stage) -> Path | None:
    """The repository file the image copies to `path`, if it exists."""
    for instruction in final_stage.all("COPY"):
        flags, sources, destination = copy_parts(instruction)
        if "from" in flags:
            continue
        target = PurePosixPath(destination)
        for source in sources:
            if path == target or target in path.parents:
                candidate = PROJECT / source / path.relative_to(target)
                if candidate.exists():
                    return candidate
    return None


# --- (a) schema validation -------------------------------------------------------------------


def test_the_pinned_kubernetes_version_is_bundled() -> None:
    minor = ".".join(KUBERNETES_VERSION.split(".")[:2])
    bundled = {".".join(v.split(".")[:2]) for v in kubernetes_validate.utils.all_versions()}
    assert minor in bundled, f"kubernetes-validate bundles {sorted(bundled)}"


@pytest.mark.parametrize("path", manifest_files(), ids=lambda p: p.name)
def test_every_manifest_validates_strictly(path: Path) -> None:
    found = documents(path)
    assert found, f"{path.name}: no object"
    for document in found:
        validated = kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)
        assert validated == ".".join(KUBERNETES_VERSION.split(".")[:2])


@pytest.mark.parametrize("path", manifest_files(), ids=lambda p: p.name)
def test_one_object_per_file(path: Path) -> None:
    assert len(documents(path)) == 1


def test_strict_validation_rejects_an_unknown_field(deployment: dict[str, Any]) -> None:
    broken = copy.deepcopy(deployment)
    probe = broken["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]
    probe["httpGet"]["pathh"] = probe["httpGet"].pop("path")
    # Only strict validation knows the field is unknown: it is what the tests use.
    kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=False)
    with pytest.raises(kubernetes_validate.ValidationError, match="pathh"):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)
    wrong_type = copy.deepcopy(deployment)
    wrong_type["spec"]["replicas"] = "three"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(wrong_type, KUBERNETES_VERSION, strict=True)


def test_every_object_is_in_the_namespace(objects: dict[tuple[str, str], dict[str, Any]]) -> None:
    for (kind, name), document in objects.items():
        if kind in CLUSTER_KINDS:
            assert name == NAMESPACE
        else:
            assert document["metadata"].get("namespace") == NAMESPACE, (kind, name)
    assert not of_kind(objects, "Secret"), "Secrets are created by the operator, never committed"
    assert not {"Ingress", "HTTPRoute", "Gateway"} & {kind for kind, _ in objects}, (
        "TLS must reach the gateway: no HTTP-level router in front of it"
    )


def test_kustomization_lists_exactly_the_manifests(container: dict[str, Any]) -> None:
    kustomization = yaml.safe_load(KUSTOMIZATION.read_text(encoding="utf-8"))
    assert kustomization["kind"] == "Kustomization"
    resources = kustomization["resources"]
    assert len(resources) == len(set(resources)), "a resource listed twice"
    assert set(resources) == {path.name for path in manifest_files()}
    assert kustomization["namespace"] == NAMESPACE
    images = {image["name"]: image for image in kustomization["images"]}
    assert set(images) == {container["image"]}, "the images: entry names the Deployment's image"
    (image,) = images.values()
    assert image.get("newName") and (image.get("newTag") or image.get("digest"))


# --- (b) the configuration -------------------------------------------------------------------


def test_the_config_map_embeds_gateway_toml_and_the_l302_table(
    config_map: dict[str, str], tmp_path: Path
) -> None:
    assert config_map["gateway.toml"] == GATEWAY_TOML.read_text(encoding="utf-8"), (
        "configmap.yaml's gateway.toml differs from deploy/kubernetes/gateway.toml: copy it"
    )
    assert config_map["l302-mapping.toml"] == L302_MAPPING.read_text(encoding="utf-8"), (
        "configmap.yaml's l302-mapping.toml differs from config/l302-mapping.toml: copy it"
    )
    mapping = tmp_path / "l302-mapping.toml"
    mapping.write_text(config_map["l302-mapping.toml"], encoding="utf-8")
    load_l302_mapping(mapping)


def test_the_embedded_configuration_is_a_production_one(
    settings: Settings, objects: dict[tuple[str, str], dict[str, Any]], container: dict[str, Any]
) -> None:
    assert settings.gateway.environment == "production"
    env = {v["name"]: v for v in container["env"]}
    assert env["SEG_ENVIRONMENT"]["value"] == "production", "an edit of the file cannot lower it"
    assert settings.audit.backend is AuditBackend.POSTGRESQL, "replicas share one audit trail"
    assert settings.audit.sqlite_path is None
    assert settings.registry.backend is RegistryBackend.POSTGRESQL
    assert settings.gateway.workers == 1, "one process per pod: the autoscaler adds pods"
    assert settings.simulator is None
    assert settings.gateway.listen.host == settings.admin.listen.host == "0.0.0.0"
    # The published address: https, the SOAP path, the SOAP Service's port.
    assert settings.gateway.public_url is not None
    url = urlsplit(settings.gateway.public_url)
    assert url.path == settings.gateway.path
    (soap,) = [
        port
        for service in of_kind(objects, "Service")
        for port in service["spec"]["ports"]
        if port_number(container, port["targetPort"]) == settings.gateway.listen.port
    ]
    assert (url.port or 443) == soap["port"]


def test_every_seg_variable_is_a_known_override(container: dict[str, Any]) -> None:
    names = [variable["name"] for variable in container.get("env", [])]
    assert len(names) == len(set(names)), "a variable set twice"
    seg = {name for name in names if name.startswith("SEG_")}
    assert seg
    assert seg - KNOWN_VARIABLES == set(), "not in configuration.ENVIRONMENT_OVERRIDES"
    assert "envFrom" not in container, "every variable named: no Secret poured in whole"


def test_secret_values_come_from_secrets(container: dict[str, Any]) -> None:
    assert {"SEG_AUDIT_POSTGRESQL_DSN", "SEG_LOG_SSIN_HASH_KEY"} <= SECRET_VARIABLES
    for variable in container.get("env", []):
        if variable["name"] in SECRET_VARIABLES:
            assert "value" not in variable, f"{variable['name']} written in the manifest"
            assert "secretKeyRef" in variable["valueFrom"], variable["name"]
    env = {v["name"] for v in container["env"]}
    assert {"SEG_AUDIT_POSTGRESQL_DSN", "SEG_REGISTRY_POSTGRESQL_DSN"} <= env


def test_the_configuration_passes_the_production_checks(settings: Settings) -> None:
    """The checks that need no file (here no /app exists: the file checks find nothing)."""
    assert unsafe_settings(settings) == []


# --- files: mounted where the configuration says, with modes production accepts ------------


def test_every_file_the_configuration_names_is_mounted_or_in_the_image(
    settings: Settings,
    environment: dict[str, str],
    pod_mounts: list[Mount],
    final_stage: Stage,
) -> None:
    paths = configured_paths(settings, environment)
    assert len(paths) >= 12
    for path in paths:
        assert path.is_absolute(), path
        mount = mount_of(path, pod_mounts)
        if mount is None:
            assert in_image(path, final_stage), f"{path}: neither mounted nor in the image"
            continue
        assert mount.files is not None, f"{path} is in an emptyDir: empty when the pod starts"
        relative = path.relative_to(mount.path).as_posix()
        assert relative in mount.files or any(
            name.startswith(relative + "/") for name in mount.files
        ), f"{path}: volume {mount.volume} at {mount.path} has no {relative}"


def test_the_configuration_files_are_the_config_maps_and_keys_secrets(
    settings: Settings, environment: dict[str, str], pod_mounts: list[Mount]
) -> None:
    def source(path: object) -> tuple[str, str, str] | None:
        found = source_of(PurePosixPath(str(path)), pod_mounts)
        return (found.kind, found.name, found.key) if found else None

    assert source(environment[CONFIG_ENV]) == ("ConfigMap", CONFIG_MAP, "gateway.toml")
    assert source(settings.supplier.l302_mapping) == ("ConfigMap", CONFIG_MAP, "l302-mapping.toml")
    # What production._loose_secret_files guards: keys and the token are Secrets.
    secrets = [
        settings.tls.private_key,
        settings.supplier.tls.private_key,
        settings.audit.ssin_hash_key_file,
        settings.admin.token_file,
        *settings.audit.encryption_keys,
    ]
    for path in secrets:
        assert path is not None
        found = source(path)
        assert found is not None and found[0] == "Secret", f"{path}: a key is a Secret"


def _documented() -> dict[tuple[str, str], set[str]]:
    """(kind, name) -> keys of every `kubectl create secret|configmap` in README.md."""
    text = README.read_text(encoding="utf-8")
    found: dict[tuple[str, str], set[str]] = {}
    for block in re.findall(r"```sh\n(.*?)```", text, flags=re.S):
        lines = [line for line in block.splitlines() if not line.lstrip().startswith("#")]
        for command in "\n".join(lines).replace("\\\n", " ").splitlines():
            words = shlex.split(command, comments=True)
            if words[:1] != ["kubectl"] or "create" not in words:
                continue
            assert words[words.index("-n") + 1] == NAMESPACE, command
            what = words[words.index("create") + 1 :]
            if what[0] == "secret":
                kind, kind_of_secret, name, flags = "Secret", what[1], what[2], what[3:]
            else:
                assert what[0] == "configmap", command
                kind, kind_of_secret, name, flags = "ConfigMap", "", what[1], what[2:]
            keys = {"tls.crt", "tls.key"} if kind_of_secret == "tls" else set()
            for flag in flags:
                option, _, value = flag.partition("=")
                if option == "--from-file":
                    keys.add(value.split("=")[0] if "=" in value else Path(value).name)
                elif option == "--from-literal":
                    keys.add(value.split("=")[0])
            assert (kind, name) not in found, f"{kind} {name} documented twice"
            found[(kind, name)] = keys
    return found


def _referenced(pod_mounts: list[Mount], container: dict[str, Any]) -> set[tuple[str, str, str]]:
    referenced = {
        (file.kind, file.name, file.key)
        for mount in pod_mounts
        if mount.files is not None
        for file in mount.files.values()
    }
    for variable in container.get("env", []):
        source = variable.get("valueFrom", {})
        for kind, field in (("Secret", "secretKeyRef"), ("ConfigMap", "configMapKeyRef")):
            if field in source:
                assert not source[field].get("optional"), f"{variable['name']}: required"
                referenced.add((kind, source[field]["name"], source[field]["key"]))
    return referenced


def test_every_secret_and_config_map_key_exists_or_is_documented(
    pod_mounts: list[Mount],
    container: dict[str, Any],
    objects: dict[tuple[str, str], dict[str, Any]],
) -> None:
    documented = _documented()
    referenced = _referenced(pod_mounts, container)
    assert referenced
    for kind, name, key in referenced:
        if (kind, name) in objects:
            assert key in objects[(kind, name)].get("data", {}), f"{kind} {name} has no {key}"
        else:
            assert (kind, name) in documented, f"{kind} {name}: say in README.md how to create it"
            assert key in documented[(kind, name)], f"README.md: {kind} {name} lacks key {key}"
    for (kind, name), keys in documented.items():
        used = {key for k, n, key in referenced if (k, n) == (kind, name)}
        assert used == keys, f"README.md documents {kind} {name} keys {keys}, the pod reads {used}"


def test_paths_in_the_readme_are_mounted(pod_mounts: list[Mount], final_stage: Stage) -> None:
    """README.md's DSN example names the PostgreSQL CA by its path in the pod."""
    text = README.read_text(encoding="utf-8")
    paths = set(re.findall(r"(?<![\w.])(/(?:app|run/secrets)/[\w./-]*\w)", text))
    assert "/app/pki/postgresql-ca.crt" in paths
    for path in map(PurePosixPath, paths):
        assert source_of(path, pod_mounts) or in_image(path, final_stage), path


def test_mounted_files_are_readable_by_the_gateway_only(
    pod: dict[str, Any], pod_mounts: list[Mount]
) -> None:
    """Files are owned by root; the gateway reads them through fsGroup (group read)."""
    fs_group = pod["securityContext"].get("fsGroup")
    for mount in pod_mounts:
        for relative, file in (mount.files or {}).items():
            readable = bool(file.mode & 0o004) or (fs_group is not None and file.mode & 0o040)
            assert readable, f"{mount.path / relative}: mode {file.mode:04o}, unreadable"
            if file.kind == "Secret":
                assert not file.mode & 0o007, f"{mount.path / relative}: readable by others"
            assert not file.mode & 0o222, f"{mount.path / relative}: writable"


# --- the production checks on stand-in files ------------------------------------------------


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _certificate(subject: str, issuer: str, *, ca: bool) -> tuple[bytes, bytes]:
    """(certificate PEM, key PEM): issued by a CA named `issuer` (its key is not kept)."""
    key = ec.generate_private_key(ec.SECP256R1())
    issuer_key = key if subject == issuer else ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .sign(issuer_key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return certificate.public_bytes(serialization.Encoding.PEM), key_pem


def _rebase(value: str, root: Path) -> str:
    return str(root) + value if value.startswith(("/app/", "/run/")) else value


def production_findings(
    root: Path,
    config_text: str,
    environment: Mapping[str, str],
    pod_mounts: list[Mount],
    *,
    client_ca_issuer: str = "Stand-in institutions CA",
) -> list[str]:
    """Lay out under `root` every file the pod's volumes hold, with the kubelet's modes (real
    certificates and keys where the configuration reads them), load the configuration with
    its paths under `root` and return what production refuses."""
    for mount in pod_mounts:
        folder = root / mount.path.relative_to("/")
        folder.mkdir(parents=True, exist_ok=True)
        for relative, file in (mount.files or {}).items():
            path = folder / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"stand-in\n")
            path.chmod(file.mode)
    rebased = {name: _rebase(value, root) for name, value in environment.items()}
    config = root / "gateway.toml"
    config.write_text(
        config_text.replace('"/app/', f'"{root}/app/').replace('"/run/', f'"{root}/run/'),
        encoding="utf-8",
    )
    settings = load_settings(config, environ=rebased)

    def put(path: Path | None, content: bytes) -> None:
        assert path is not None and path.exists(), f"{path}: not mounted"
        path.write_bytes(content)  # an existing file keeps its mode

    client_ca, _ = _certificate(client_ca_issuer, client_ca_issuer, ca=True)
    for path in settings.tls.client_ca:
        put(path, client_ca)
    server, server_key = _certificate("gateway.example.be", "Stand-in server CA", ca=False)
    put(settings.tls.certificate, server)
    put(settings.tls.private_key, server_key)
    inasti_ca, _ = _certificate("Stand-in INASTI CA", "Stand-in INASTI CA", ca=True)
    for path in settings.supplier.tls.ca:
        put(path, inasti_ca)
    client, client_key = _certificate("selfemployed-gateway", "Stand-in client CA", ca=False)
    put(settings.supplier.tls.certificate, client)
    put(settings.supplier.tls.private_key, client_key)
    put(settings.tls.client_bindings, b"# Client bindings of the institutions (stand-in)\n")
    for path in settings.audit.encryption_keys:
        put(path, new_key_text().encode())
    put(settings.audit.ssin_hash_key_file, new_key_text().encode())
    put(settings.admin.token_file, b"t" * 32)
    return unsafe_settings(settings)


def test_the_production_checks_pass_on_the_mounted_files(
    tmp_path: Path,
    config_map: dict[str, str],
    environment: dict[str, str],
    pod_mounts: list[Mount],
) -> None:
    found = production_findings(tmp_path, config_map["gateway.toml"], environment, pod_mounts)
    assert found == []


def test_the_stand_in_files_are_checked(
    tmp_path: Path,
    config_map: dict[str, str],
    environment: dict[str, str],
    pod: dict[str, Any],
    container: dict[str, Any],
    objects: dict[tuple[str, str], dict[str, Any]],
) -> None:
    """The checks above see the files: without the Deployment's defaultMode (Secrets then
    get 0644) production refuses the keys, and it refuses a development CA."""
    loose = copy.deepcopy(pod)
    for volume in loose["volumes"]:
        volume.get("projected", {}).pop("defaultMode", None)
    found = production_findings(
        tmp_path / "loose",
        config_map["gateway.toml"],
        environment,
        mounts(loose, container, objects),
    )
    assert found and all("readable by others" in line for line in found), found
    found = production_findings(
        tmp_path / "development",
        config_map["gateway.toml"],
        environment,
        mounts(pod, container, objects),
        client_ca_issuer=CA_COMMON_NAME,
    )
    assert any("tls.client_ca" in line and "development CA" in line for line in found), found


# --- ports and probes ------------------------------------------------------------------------


def test_container_ports_are_those_of_the_configuration(
    container: dict[str, Any], settings: Settings
) -> None:
    ports = container_ports(container)
    assert ports == {"soap": settings.gateway.listen.port, "admin": settings.admin.listen.port}
    assert {port.get("protocol", "TCP") for port in container["ports"]} == {"TCP"}


@pytest.fixture(scope="module")
def admin_paths() -> dict[str, type]:
    """The admin listener's paths, from admin.admin_root itself: path -> resource class."""
    loop = asyncio.new_event_loop()
    try:
        readiness = admin.Readiness(lambda: True, loop)
        root = admin.admin_root(readiness, admin.Metrics(CollectorRegistry()))
    finally:
        loop.close()
    return {"/" + name.decode(): type(child) for name, child in root.children.items()}


def probe_path(container: dict[str, Any], name: str, settings: Settings) -> str:
    probe = container[name]["httpGet"]
    assert port_number(container, probe["port"]) == settings.admin.listen.port, name
    assert probe.get("scheme", "HTTP") == "HTTP", "the admin listener is plain HTTP"
    assert "httpHeaders" not in probe, "probes need no token (/metrics alone does)"
    path: str = probe["path"]
    return path


def test_probes_ask_the_admin_listener(
    container: dict[str, Any], settings: Settings, admin_paths: dict[str, type]
) -> None:
    health = [path for path, kind in admin_paths.items() if kind is admin.Health]
    ready = [path for path, kind in admin_paths.items() if kind is admin.Readiness]
    assert len(health) == len(ready) == 1, admin_paths
    # Start-up: INASTI and the registers reachable once, so that a rollout with a wrong
    # certificate or DSN stalls. Then liveness and readiness: the process answers, whatever
    # INASTI or PostgreSQL do (a restart would not mend them, and a replica out of the
    # Service would answer a refused connection instead of MSG00002).
    assert probe_path(container, "startupProbe", settings) in ready
    assert probe_path(container, "livenessProbe", settings) in health
    assert probe_path(container, "readinessProbe", settings) in health


def test_liveness_depends_on_nothing_outside_the_process(admin_paths: dict[str, type]) -> None:
    """/healthz is built without the supplier or the registers, and answers 200 alone."""
    (health,) = [kind for kind in admin_paths.values() if kind is admin.Health]
    request = DummyRequest([b""])
    health().render(request)
    assert request.responseCode == 200


def test_probe_timing(container: dict[str, Any], settings: Settings) -> None:
    startup = container["startupProbe"]
    # /readyz connects, shakes hands and asks INASTI (about connect_timeout_seconds each:
    # the socket's timeout), then reads the registers (registry.timeout_seconds).
    slowest = 3 * settings.supplier.connect_timeout_seconds + settings.registry.timeout_seconds
    assert startup.get("timeoutSeconds", 1) >= slowest
    # Room to load the annex and the contract and open the pool: at least a minute.
    assert startup.get("failureThreshold", 3) * startup.get("periodSeconds", 10) >= 60
    liveness = container["livenessProbe"]
    assert liveness.get("failureThreshold", 3) * liveness.get("periodSeconds", 10) >= 20


# --- shutdown --------------------------------------------------------------------------------


def drain_seconds(settings: Settings) -> float:
    """How long Gateway.drain lets exchanges in flight finish, asked of Gateway.drain."""

    class Consult:
        timeout: float | None = None

        async def drain(self, timeout: float) -> None:
            self.timeout = timeout

    class Supplier:
        async def aclose(self) -> None:
            pass

    gateway = SimpleNamespace(
        _retention_task=None,
        settings=settings,
        supplier=Supplier(),
        endpoint=SimpleNamespace(pipeline=SimpleNamespace(register=None)),
    )
    consult = Consult()
    asyncio.run(Gateway.drain(gateway, consult))  # type: ignore[arg-type]
    assert consult.timeout is not None
    return consult.timeout


def pre_stop_seconds(container: dict[str, Any]) -> int:
    """The preStop hook's sleep: the kubelet's `sleep` action, or `exec` of sleep N."""
    pre_stop = container["lifecycle"]["preStop"]
    if "sleep" in pre_stop:
        seconds: int = pre_stop["sleep"]["seconds"]
        return seconds
    found = re.fullmatch(r"(?:\S*/)?sleep (\d+)", " ".join(pre_stop["exec"]["command"]))
    assert found, pre_stop
    return int(found.group(1))


def test_the_grace_period_covers_pre_stop_and_the_drain(
    pod: dict[str, Any], container: dict[str, Any], settings: Settings
) -> None:
    drain = drain_seconds(settings)
    assert drain >= settings.supplier.timeout_seconds, "an exchange gets its supplier budget"
    # gateway.workers > 1 would add the wait for the other processes (cli._stop_workers).
    assert settings.gateway.workers == 1
    pre_stop = pre_stop_seconds(container)
    assert pre_stop >= 5, "the balancer and kube-proxy need time to stop sending"
    grace = pod["terminationGracePeriodSeconds"]
    assert grace >= pre_stop + drain + SHUTDOWN_MARGIN_SECONDS, (
        f"terminationGracePeriodSeconds {grace} < preStop {pre_stop} + drain {drain} "
        f"+ {SHUTDOWN_MARGIN_SECONDS}"
    )


def test_the_rollout_never_lowers_capacity(deployment: dict[str, Any]) -> None:
    spec = deployment["spec"]
    assert spec["replicas"] >= 3
    rolling = spec["strategy"]["rollingUpdate"]
    assert spec["strategy"]["type"] == "RollingUpdate"
    assert (rolling["maxUnavailable"], rolling["maxSurge"]) == (0, 1)
    assert selects(spec["selector"]["matchLabels"], spec["template"]["metadata"]["labels"])


# --- Services, PDB, HPA, NetworkPolicy -------------------------------------------------------


def test_services_select_the_pods_and_name_container_ports(
    objects: dict[tuple[str, str], dict[str, Any]],
    pod_labels: dict[str, str],
    container: dict[str, Any],
    settings: Settings,
) -> None:
    services = of_kind(objects, "Service")
    assert len(services) == 2
    by_port: dict[int, dict[str, Any]] = {}
    for service in services:
        assert selects(service["spec"]["selector"], pod_labels), service["metadata"]["name"]
        for port in service["spec"]["ports"]:
            target = port["targetPort"]
            assert isinstance(target, str) and target in container_ports(container), target
            assert port.get("protocol", "TCP") == "TCP"
            by_port[container_ports(container)[target]] = service
    soap = by_port[settings.gateway.listen.port]
    admin_service = by_port[settings.admin.listen.port]
    assert soap is not admin_service, "the admin port is not published with SOAP"
    assert len(soap["spec"]["ports"]) == 1
    assert soap["spec"]["type"] in {"LoadBalancer", "ClusterIP"}
    if soap["spec"]["type"] == "LoadBalancer":
        # The client's address, for the per-peer bounds and the logs: no SNAT.
        assert soap["spec"]["externalTrafficPolicy"] == "Local"
    assert admin_service["spec"]["type"] == "ClusterIP"
    assert len(admin_service["spec"]["ports"]) == 1


def test_the_disruption_budget_and_the_autoscaler_target_the_deployment(
    objects: dict[tuple[str, str], dict[str, Any]],
    deployment: dict[str, Any],
    pod_labels: dict[str, str],
    container: dict[str, Any],
) -> None:
    (budget,) = of_kind(objects, "PodDisruptionBudget")
    assert budget["spec"]["selector"] == deployment["spec"]["selector"]
    assert selects(budget["spec"]["selector"]["matchLabels"], pod_labels)
    replicas = deployment["spec"]["replicas"]
    if "maxUnavailable" in budget["spec"]:
        assert budget["spec"]["maxUnavailable"] == 1
    else:
        assert budget["spec"]["minAvailable"] == replicas - 1

    (autoscaler,) = of_kind(objects, "HorizontalPodAutoscaler")
    assert autoscaler["apiVersion"] == "autoscaling/v2"
    spec = autoscaler["spec"]
    target = spec["scaleTargetRef"]
    assert (target["apiVersion"], target["kind"], target["name"]) == (
        deployment["apiVersion"],
        "Deployment",
        deployment["metadata"]["name"],
    )
    assert spec["minReplicas"] == replicas
    assert replicas < spec["maxReplicas"] <= 50
    (metric,) = spec["metrics"]
    assert metric["type"] == "Resource" and metric["resource"]["name"] == "cpu"
    assert metric["resource"]["target"]["type"] == "Utilization"
    assert 30 <= metric["resource"]["target"]["averageUtilization"] <= 90
    assert spec["behavior"]["scaleDown"]["stabilizationWindowSeconds"] >= 60
    assert container["resources"]["requests"]["cpu"], "CPU utilisation is of the request"


def _admits(rule: Mapping[str, Any], number: int, name: str, protocol: str = "TCP") -> bool:
    ports = rule.get("ports")
    if not ports:
        return True  # a rule without ports admits every port
    return any(
        port.get("port") in (None, number, name) and port.get("protocol", "TCP") == protocol
        for port in ports
    )


def test_the_network_policy_admits_soap_and_keeps_admin_to_prometheus(
    objects: dict[tuple[str, str], dict[str, Any]],
    pod_labels: dict[str, str],
    settings: Settings,
) -> None:
    (policy,) = of_kind(objects, "NetworkPolicy")
    spec = policy["spec"]
    assert selects(spec["podSelector"]["matchLabels"], pod_labels)
    assert set(spec["policyTypes"]) == {"Ingress", "Egress"}
    soap, admin_port = settings.gateway.listen.port, settings.admin.listen.port

    ingress = spec["ingress"]
    soap_rules = [rule for rule in ingress if _admits(rule, soap, "soap")]
    assert any(
        not rule.get("from")
        or any(peer.get("ipBlock", {}).get("cidr") == "0.0.0.0/0" for peer in rule["from"])
        for rule in soap_rules
    ), "the SOAP port is open to the institutions (anywhere): mutual TLS decides"
    admin_rules = [rule for rule in ingress if _admits(rule, admin_port, "admin")]
    assert admin_rules
    for rule in admin_rules:
        assert rule.get("ports"), "a rule without ports would open the admin port"
        assert rule.get("from"), "the admin port is not open to anyone"
        for peer in rule["from"]:
            assert "ipBlock" not in peer, peer
            namespaces = peer["namespaceSelector"]["matchLabels"]
            pods = peer["podSelector"]["matchLabels"]
            assert namespaces == {"kubernetes.io/metadata.name": "monitoring"}, peer
            assert pods == {"app.kubernetes.io/name": "prometheus"}, peer

    egress = spec["egress"]
    for rule in egress:
        assert rule.get("to") and rule.get("ports"), f"egress open to all: {rule}"
    allowed = {
        (port["port"], port.get("protocol", "TCP")) for rule in egress for port in rule["ports"]
    }
    inasti = {urlsplit(settings.supplier.url).port or 443}
    assert allowed == {(53, "UDP"), (53, "TCP"), (5432, "TCP")} | {(p, "TCP") for p in inasti}
    for rule in egress:
        if any(port["port"] in inasti for port in rule["ports"]):
            assert all("ipBlock" in peer for peer in rule["to"]), "INASTI is outside"
            assert all(peer["ipBlock"]["cidr"] != "0.0.0.0/0" for peer in rule["to"])


# --- the pod --------------------------------------------------------------------------------


def image_user(final_stage: Stage) -> tuple[int, int]:
    user = final_stage.all("USER")[-1].arguments
    uid, _, gid = user.partition(":")
    assert uid.isdigit() and gid.isdigit(), f"USER {user}: numeric, so runAsNonRoot can tell"
    return int(uid), int(gid)


def test_the_pod_runs_as_the_image_user_without_privileges(
    pod: dict[str, Any],
    container: dict[str, Any],
    final_stage: Stage,
    objects: dict[tuple[str, str], dict[str, Any]],
) -> None:
    uid, gid = image_user(final_stage)
    pod_security = pod["securityContext"]
    security = container["securityContext"]
    for context in (pod_security, security):
        assert context["runAsNonRoot"] is True
        assert context["runAsUser"] == uid
        assert context["runAsGroup"] == gid
        assert context["seccompProfile"]["type"] == "RuntimeDefault"
    assert pod_security["fsGroup"] == gid
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security.get("privileged", False) is False
    assert security["capabilities"]["drop"] == ["ALL"]
    assert not security["capabilities"].get("add")
    assert pod["automountServiceAccountToken"] is False
    account = objects[("ServiceAccount", pod["serviceAccountName"])]
    assert account["automountServiceAccountToken"] is False
    assert not any(pod.get(key) for key in ("hostNetwork", "hostPID", "hostIPC"))
    assert all("hostPath" not in volume for volume in pod["volumes"])
    for kind in ("requests", "limits"):
        assert set(container["resources"][kind]) == {"cpu", "memory"}, kind


def mebibytes(quantity: str) -> float:
    """A Kubernetes memory quantity (binary suffixes only) in MiB."""
    found = re.fullmatch(r"(\d+)(Ki|Mi|Gi)?", quantity)
    assert found, f"{quantity}: write memory in Ki, Mi or Gi"
    factor = {None: 1 / 2**20, "Ki": 1 / 1024, "Mi": 1, "Gi": 1024}[found.group(2)]
    return int(found.group(1)) * factor


def test_memory_limit_leaves_room_for_the_memory_volumes(
    container: dict[str, Any], pod: dict[str, Any]
) -> None:
    """Files in a Memory emptyDir count against the container's memory limit."""
    resources = container["resources"]
    in_memory = sum(
        mebibytes(volume["emptyDir"]["sizeLimit"])
        for volume in pod["volumes"]
        if volume.get("emptyDir", {}).get("medium") == "Memory"
    )
    request = mebibytes(resources["requests"]["memory"])
    assert mebibytes(resources["limits"]["memory"]) >= request + in_memory


def test_replicas_spread_over_nodes(pod: dict[str, Any], pod_labels: dict[str, str]) -> None:
    spread = [
        constraint
        for constraint in pod.get("topologySpreadConstraints", [])
        if constraint["topologyKey"] == "kubernetes.io/hostname"
        and constraint["whenUnsatisfiable"] == "DoNotSchedule"
        and selects(constraint["labelSelector"]["matchLabels"], pod_labels)
    ]
    anti = [
        term
        for term in pod.get("affinity", {})
        .get("podAntiAffinity", {})
        .get("requiredDuringSchedulingIgnoredDuringExecution", [])
        if term["topologyKey"] == "kubernetes.io/hostname"
        and selects(term["labelSelector"]["matchLabels"], pod_labels)
    ]
    assert spread or anti, "one node's loss must not take several replicas"
    assert all(constraint["maxSkew"] == 1 for constraint in spread)


def spools_bodies_to_temporary_files() -> bool:
    """Whether the SOAP site lets Twisted write a request body of unknown length (chunked) or
    of 100 kB and more to a temporary file (Request.gotLength asks the site's
    getContentFile, when it has one)."""
    request = LimitedRequest(DummyChannel())
    request.channel.site = object.__new__(GatewaySite)  # only its getContentFile is asked
    spooled = False
    for length in (None, 200_000):
        request.gotLength(length)
        spooled |= not isinstance(request.content, io.BytesIO)
        request.content.close()
    return spooled


def test_writable_paths_are_bounded_empty_dirs(
    container: dict[str, Any], pod: dict[str, Any], pod_mounts: list[Mount]
) -> None:
    """The root file system is read-only: what the process writes needs a mount."""
    writable = {str(m.path): m for m in pod_mounts if m.files is None}
    assert "TMPDIR" not in {v["name"] for v in container["env"]}
    if spools_bodies_to_temporary_files():
        assert "/tmp" in writable, "Twisted's temporary files need a writable /tmp"
    assert "/app/var" in writable, "the image's runtime-state volume"
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    for path, mount in writable.items():
        empty = volumes[mount.volume]["emptyDir"]
        assert empty.get("sizeLimit"), f"{path}: bounded"
    if "/tmp" in writable:
        tmp = volumes[writable["/tmp"].volume]["emptyDir"]
        assert tmp["medium"] == "Memory", "a temporary file (a request?) never on the disk"


def test_the_container_runs_serve_with_the_image_entrypoint(container: dict[str, Any]) -> None:
    assert "command" not in container, "the image's ENTRYPOINT: selfemployed-gateway"
    assert container["args"] == ["serve"]
    assert "serve" in cli_subcommands()


def test_every_probe_is_an_http_get(container: dict[str, Any]) -> None:
    for name in PROBES:
        assert set(container[name]) & {"httpGet", "tcpSocket", "exec", "grpc"} == {"httpGet"}
