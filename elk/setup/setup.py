"""One-shot, idempotent setup of the django-reqlog ELK stack.

Run by the ``setup`` service of docker-compose.yml (and, with ``--preflight``,
by the ``preflight`` service before anything else starts). Every step is an
upsert, so running it again after a change, or after a crash half-way, is safe:

1. refuse empty, placeholder ("changeme", "REPLACE_ME"...) or short secrets;
2. set the ``kibana_system`` password, create the roles and users of
   ``roles.json`` (least privilege: the app may only create documents in
   ``logs-django.reqlog-*``);
3. run the package's own ``manage.py reqlog_setup`` (index template, ILM
   policy, data stream);
4. wait for Kibana, import the package's saved objects (overwrite), create or
   update the connectors and the rules of ``elk/kibana/rules/``.

The saved objects have one home, ``django_reqlog/elastic/resources/kibana/``;
docker-compose.yml mounts that folder read-only at the same place under
/reqlog, and the upload is the package's own (``django_reqlog.elastic.kibana``,
which ``reqlog_setup --kibana-url`` uses too). Apart from that package, which
the image installs, only the standard library is used.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from django_reqlog.elastic.errors import ElasticError
from django_reqlog.elastic.kibana import import_ndjson

HERE = Path(__file__).resolve().parent
ELK = HERE.parent
ROLES_FILE = HERE / "roles.json"
KIBANA_DIR = ELK / "kibana"
# The repository's copy in a checkout; the read-only mount in the container.
SAVED_OBJECTS = ELK.parent / "django_reqlog" / "elastic" / "resources" / "kibana" / "reqlog.ndjson"

# Secrets the stack needs, and the minimum length of each kind. Kibana's
# encryption keys must be at least 32 characters or alerting stays disabled.
PASSWORD_VARS = (
    "ELASTIC_PASSWORD",
    "KIBANA_SYSTEM_PASSWORD",
    "REQLOG_WRITER_PASSWORD",
    "LOGSTASH_WRITER_PASSWORD",
    "FILEBEAT_WRITER_PASSWORD",
    "ELASTALERT_PASSWORD",
    "KAFKA_APP_PASSWORD",
    "KAFKA_LOGSTASH_PASSWORD",
)
KEY_VARS = ("KIBANA_ENCRYPTION_KEY", "KIBANA_SECURITY_KEY", "KIBANA_REPORTING_KEY")
SECRET_VARS = (*PASSWORD_VARS, "DJANGO_SECRET_KEY", *KEY_VARS)
MIN_PASSWORD_LENGTH = 12
MIN_KEY_LENGTH = 32
# Values copied from tutorials (docker-elk ships "changeme") or left over
# from .env.example; compared case-insensitively, as substrings for the
# markers and exactly for the rest.
PLACEHOLDER_MARKERS = ("changeme", "change-me", "change_me", "replace_me", "replace-me")
WEAK_VALUES = {"password", "elastic", "kibana", "secret", "admin", "123456", "default"}


def check_secrets(env: Mapping[str, str], names: Iterable[str] = SECRET_VARS) -> list[str]:
    """Return one message per unusable secret (empty list: all good)."""
    problems = []
    for name in names:
        value = env.get(name, "")
        lowered = value.strip().lower()
        minimum = (
            MIN_KEY_LENGTH
            if name in KEY_VARS or name == "DJANGO_SECRET_KEY"
            else MIN_PASSWORD_LENGTH
        )
        if not value.strip():
            problems.append(f"{name} is empty")
        elif any(marker in lowered for marker in PLACEHOLDER_MARKERS) or lowered in WEAK_VALUES:
            problems.append(f"{name} is a placeholder ({value!r}); generate a real secret")
        elif len(value) < minimum:
            problems.append(f"{name} is shorter than {minimum} characters")
    passwords = [env.get(name, "") for name in PASSWORD_VARS if env.get(name)]
    if len(set(passwords)) != len(passwords):
        problems.append("the passwords in .env must all differ (one per user)")
    return problems


def strip_docs(value: Any) -> Any:
    """Drop the ``_doc`` keys our JSON files use as comments."""
    if isinstance(value, dict):
        return {k: strip_docs(v) for k, v in value.items() if not k.startswith("_")}
    if isinstance(value, list):
        return [strip_docs(v) for v in value]
    return value


def load_json(path: Path) -> Any:
    return strip_docs(json.loads(path.read_text(encoding="utf-8")))


def load_rules(directory: Path = KIBANA_DIR / "rules") -> list[dict[str, Any]]:
    return [load_json(path) for path in sorted(directory.glob("*.json"))]


class HTTPError(Exception):
    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"HTTP {status}: {body[:500]}")
        self.status = status
        self.body = body


class Client:
    """A tiny JSON-over-HTTP client with basic auth (no third-party deps)."""

    def __init__(
        self,
        base_url: str,
        username: str,
        password: str,
        kibana: bool = False,
        cafile: str | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        # A private CA (ES_CA_CERTS) for clusters served over HTTPS.
        self.cafile = cafile
        self.context = ssl.create_default_context(cafile=cafile) if cafile else None
        token = base64.b64encode(f"{username}:{password}".encode()).decode()
        self.headers = {"Authorization": f"Basic {token}"}
        if kibana:
            # Kibana rejects state-changing API calls without this header.
            self.headers["kbn-xsrf"] = "reqlog-setup"

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        timeout: float = 30,
    ) -> Any:
        data = None if body is None else json.dumps(body).encode()
        headers = dict(self.headers)
        if data is not None:
            headers["Content-Type"] = "application/json"
        req = urllib.request.Request(
            self.base_url + path, data=data, method=method, headers=headers
        )
        try:
            with urllib.request.urlopen(req, timeout=timeout, context=self.context) as resp:
                text = resp.read().decode("utf-8")
        except urllib.error.HTTPError as exc:
            raise HTTPError(exc.code, exc.read().decode("utf-8", "replace")) from None
        return json.loads(text) if text else None

    def exists(self, path: str) -> bool:
        try:
            self.request("GET", path)
        except HTTPError as exc:
            if exc.status == 404:
                return False
            raise
        return True


def wait_for(what: str, probe: Any, timeout: float, interval: float = 5) -> None:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            if probe():
                return
        except (OSError, HTTPError, ValueError) as exc:
            last = exc
        time.sleep(interval)
    raise SystemExit(f"setup: {what} not ready after {timeout:.0f}s (last error: {last})")


def log(message: str) -> None:
    print(f"setup: {message}", flush=True)


# ---------------------------------------------------------------- Elasticsearch


def setup_elasticsearch(es: Client, env: Mapping[str, str], spec: Mapping[str, Any]) -> None:
    """Set built-in passwords, then upsert roles and users (PUT is idempotent)."""
    for user, var in spec.get("builtin_passwords", {}).items():
        es.request("POST", f"/_security/user/{user}/_password", {"password": env[var]})
        log(f"password of built-in user {user} set")
    for name, role in spec["roles"].items():
        es.request("PUT", f"/_security/role/{name}", role)
        log(f"role {name} up to date")
    for name, user in spec["users"].items():
        body = {
            "password": env[user["password_env"]],
            "roles": user["roles"],
            "full_name": user.get("full_name", name),
        }
        es.request("PUT", f"/_security/user/{name}", body)
        log(f"user {name} up to date")


def run_reqlog_setup(env: Mapping[str, str]) -> None:
    """Template, ILM policy and data stream, by the package's own command."""
    command = env.get(
        "REQLOG_SETUP_COMMAND", "python /srv/app/example_project/manage.py reqlog_setup"
    ).split()
    log("running " + " ".join(command))
    subprocess.run(command, check=True, env=dict(env))


# ---------------------------------------------------------------- Kibana


def kibana_available(kibana: Client) -> bool:
    status = kibana.request("GET", "/api/status")
    overall = status.get("status", {}).get("overall", {})
    # 8.x/9.x report {"level": "available"}; older ones {"state": "green"}.
    return bool(overall.get("level") == "available" or overall.get("state") == "green")


def import_saved_objects(kibana: Client, ndjson: Path) -> None:
    try:
        count = import_ndjson(
            kibana.base_url,
            ndjson,
            authorization=kibana.headers["Authorization"],
            cafile=kibana.cafile,
            timeout=120,
        )
    except ElasticError as exc:
        raise SystemExit(f"setup: saved objects import failed: {str(exc)[:2000]}") from None
    log(f"imported {count} Kibana saved objects from {ndjson.name}")


def upsert_connector(kibana: Client, connector: Mapping[str, Any]) -> None:
    path = f"/api/actions/connector/{connector['id']}"
    body = {k: v for k, v in connector.items() if k != "id"}
    if kibana.exists(path):
        body.pop("connector_type_id")
        kibana.request("PUT", path, body)
    else:
        kibana.request("POST", path, body)
    log(f"connector {connector['name']} up to date")


# Fields Kibana accepts on update (PUT); the rest are fixed at creation.
RULE_UPDATE_FIELDS = ("name", "tags", "schedule", "params", "actions", "throttle", "notify_when")


def upsert_rule(kibana: Client, rule: Mapping[str, Any]) -> None:
    path = f"/api/alerting/rule/{rule['id']}"
    body = {k: v for k, v in rule.items() if k != "id"}
    if kibana.exists(path):
        kibana.request("PUT", path, {k: v for k, v in body.items() if k in RULE_UPDATE_FIELDS})
    else:
        kibana.request("POST", path, body)
    log(f"rule {rule['name']} up to date")


def setup_kibana(kibana: Client) -> None:
    import_saved_objects(kibana, SAVED_OBJECTS)
    for connector in load_json(KIBANA_DIR / "connectors.json"):
        upsert_connector(kibana, connector)
    for rule in load_rules():
        upsert_rule(kibana, rule)


# ---------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preflight", action="store_true", help="only check the secrets")
    parser.add_argument("--skip-kibana", action="store_true")
    parser.add_argument("--skip-reqlog-setup", action="store_true")
    args = parser.parse_args(argv)
    env = os.environ

    problems = check_secrets(env)
    if problems:
        for problem in problems:
            print(f"setup: refusing to start: {problem}", file=sys.stderr)
        print("setup: edit .env (see .env.example for how to generate values)", file=sys.stderr)
        return 1
    if args.preflight:
        log("secrets look fine")
        return 0

    state_dir = Path(env.get("SETUP_STATE_DIR", "/var/lib/reqlog-setup"))
    marker = state_dir / "done"
    # A marker from an earlier run must not make this run look finished.
    marker.unlink(missing_ok=True)

    es = Client(
        env.get("ES_URL", "http://elasticsearch:9200"),
        "elastic",
        env["ELASTIC_PASSWORD"],
        cafile=env.get("ES_CA_CERTS") or None,
    )
    wait_for("Elasticsearch", lambda: es.request("GET", "/_cluster/health")["status"] != "red", 300)
    setup_elasticsearch(es, env, load_json(ROLES_FILE))
    if not args.skip_reqlog_setup:
        run_reqlog_setup(env)
    if not args.skip_kibana:
        kibana = Client(
            env.get("KIBANA_URL", "http://kibana:5601"),
            "elastic",
            env["ELASTIC_PASSWORD"],
            kibana=True,
        )
        wait_for("Kibana", lambda: kibana_available(kibana), 600)
        setup_kibana(kibana)

    if state_dir.is_dir():
        marker.write_text(time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()) + "\n")
    log("done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
