#!/usr/bin/env python
"""``make demo``: the whole product working in one command, no Docker needed.

Migrates the example project, seeds users with planted secrets, starts it
under gunicorn on 127.0.0.1, drives a realistic traffic mix, stops the server
and prints the report built by ``manage.py reqlog_report``. Then it checks the
report against what was sent and scans every output for the planted secrets;
any failed step or check makes the exit status non-zero.

With ``REQLOG_ELASTICSEARCH_URL`` set, events go to Elasticsearch instead (after
``manage.py reqlog_setup``) and the report is read back from there.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import traceback
import urllib.parse
from collections import Counter
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from reqlog_demo.logging_config import DEFAULT_LOG_NAME, selected_outputs  # noqa: E402
from traffic import SPOOFED_IP, Secrets, Traffic  # noqa: E402

from django_reqlog.elastic.report.fields import lookup  # noqa: E402

BOLD = "\033[1m" if sys.stdout.isatty() else ""
RESET = "\033[0m" if sys.stdout.isatty() else ""


SECRET_ENV_VARS = frozenset(
    {
        "REQLOG_DEMO_PASSWORD",
        "REQLOG_DEMO_WRONG_PASSWORD",
        "REQLOG_DEMO_SIGNUP_PASSWORD",
        "REQLOG_DEMO_TOKEN",
        "REQLOG_DEMO_ALICE_TOKEN",
    }
)


class DemoFailed(Exception):
    """A step of the flow failed; the message says which and why."""


def say(text: str) -> None:
    print(text, flush=True)


def step(text: str) -> None:
    say(f"{BOLD}==> {text}{RESET}")


def _safe_url(url: str) -> str:
    """``url`` without any ``user:password@`` part."""
    parts = urllib.parse.urlsplit(url)
    if parts.username or parts.password:
        netloc = (parts.hostname or "") + (f":{parts.port}" if parts.port else "")
        parts = parts._replace(netloc=netloc)
    return urllib.parse.urlunsplit(parts)


def _no_control_socket() -> list[str]:
    """gunicorn >= 24 opens a control socket in ~/.gunicorn; two demos would clash."""
    from gunicorn.config import KNOWN_SETTINGS

    known = {setting.name for setting in KNOWN_SETTINGS}
    return ["--no-control-socket"] if "control_socket_disable" in known else []


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Demo:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.var = Path(args.var_dir).resolve()
        self.python = sys.executable
        self.outputs = selected_outputs(os.environ)
        self.log_file = self.var / DEFAULT_LOG_NAME
        self.server_log = self.var / "server.log"
        self.report_file = self.var / "report.txt"
        # Distinctive values, fresh every run, so a hit anywhere is a real leak.
        # Tests plant their own through the environment to scan for them.
        env = os.environ.get
        self.secrets = Secrets(
            password=env("REQLOG_DEMO_PASSWORD") or f"Planted-Pw-{secrets.token_hex(6)}",
            wrong_password=env("REQLOG_DEMO_WRONG_PASSWORD") or f"Wrong-Pw-{secrets.token_hex(6)}",
            signup_password=env("REQLOG_DEMO_SIGNUP_PASSWORD")
            or f"Signup-Pw-{secrets.token_hex(6)}",
            demo_token=env("REQLOG_DEMO_TOKEN") or secrets.token_hex(20),
            alice_token=env("REQLOG_DEMO_ALICE_TOKEN") or secrets.token_hex(20),
        )
        # Planted values reach only demo_seed, never the server's environment.
        self.env = {key: value for key, value in os.environ.items() if key not in SECRET_ENV_VARS}
        self.env.update(
            {
                "DJANGO_SETTINGS_MODULE": "reqlog_demo.settings",
                "REQLOG_DEMO_VAR_DIR": str(self.var),
                "PYTHONUNBUFFERED": "1",
                "PYTHONPATH": os.pathsep.join(
                    p for p in (str(HERE), os.environ.get("PYTHONPATH", "")) if p
                ),
            }
        )
        if "file" in self.outputs or "logstash" in self.outputs:
            # In Logstash mode a local copy is kept so the report can be built.
            self.env["REQLOG_LOG_FILE"] = str(self.log_file)
            self.outputs = selected_outputs(self.env)
        # Everything the demo's subprocesses print, scanned for secrets at the end.
        self.captured: list[str] = []
        self.checks: list[tuple[str, bool, str]] = []
        self.server: subprocess.Popen[bytes] | None = None
        self.started_at = dt.datetime.now(dt.timezone.utc)

    # ------------------------------------------------------------------ helpers

    def manage(
        self,
        *argv: str,
        env: dict[str, str] | None = None,
        timeout: float = 120,
        ok_codes: tuple[int, ...] = (0,),
    ) -> str:
        proc = subprocess.run(
            [self.python, str(HERE / "manage.py"), *argv],
            cwd=HERE,
            env=env or self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        self.captured += [proc.stdout, proc.stderr]
        if proc.returncode not in ok_codes:
            raise DemoFailed(
                f"manage.py {argv[0]} exited {proc.returncode}:\n{proc.stderr or proc.stdout}"
            )
        return proc.stdout

    def check(self, name: str, ok: bool, detail: str = "") -> None:
        self.checks.append((name, ok, detail))

    # ------------------------------------------------------------------ flow

    def prepare(self) -> None:
        step("Preparing example_project/var (SQLite database, migrations, demo users)")
        self.var.mkdir(parents=True, exist_ok=True)
        # Start from a clean slate so the report covers exactly this run.
        for old in [
            *self.var.glob(f"{DEFAULT_LOG_NAME}*"),
            self.server_log,
            self.report_file,
            self.var / "db.sqlite3",
        ]:
            old.unlink(missing_ok=True)
        self.manage("migrate", "--noinput")
        seed_env = dict(self.env)
        seed_env.update(
            {
                "REQLOG_DEMO_PASSWORD": self.secrets.password,
                "REQLOG_DEMO_TOKEN": self.secrets.demo_token,
                "REQLOG_DEMO_ALICE_TOKEN": self.secrets.alice_token,
            }
        )
        self.manage("demo_seed", env=seed_env)
        if "elasticsearch" in self.outputs:
            step("Installing the index template and lifecycle policy (reqlog_setup)")
            output = self.manage("reqlog_setup", timeout=180).rstrip()
            say("\n".join(f"    {line}" for line in output.splitlines()))
            # Clusters without data streams get a rollover alias instead: ship
            # to and read from whatever reqlog_setup chose.
            match = re.search(r"^Write target: (\S+)", output, flags=re.MULTILINE)
            if match and not self.env.get("REQLOG_ELASTICSEARCH_INDEX"):
                self.env["REQLOG_ELASTICSEARCH_INDEX"] = match.group(1)

    def start_server(self) -> str:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        step(f"Starting gunicorn on {base} (2 workers x 4 threads)")
        log = open(self.server_log, "wb")  # noqa: SIM115 - lives as long as the server
        self.server = subprocess.Popen(
            [
                self.python,
                "-m",
                "gunicorn",
                "reqlog_demo.wsgi:application",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "2",
                "--worker-class",
                "gthread",
                "--threads",
                "4",
                "--timeout",
                "30",
                "--graceful-timeout",
                "15",
                *_no_control_socket(),
            ],
            cwd=HERE,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.server.poll() is not None:
                raise DemoFailed(
                    f"gunicorn exited with {self.server.returncode}; see {self.server_log}"
                )
            # http.client, not urllib: no proxy from the environment gets in the way.
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            try:
                conn.request("GET", "/health/live")
                if conn.getresponse().status == 200:
                    return base
            except OSError:
                time.sleep(0.2)
            finally:
                conn.close()
        raise DemoFailed(f"gunicorn did not answer within 30s; see {self.server_log}")

    def stop_server(self) -> None:
        if self.server is None or self.server.poll() is not None:
            return
        step("Stopping gunicorn (graceful: workers flush their log handlers)")
        self.server.send_signal(signal.SIGTERM)
        try:
            self.server.wait(timeout=25)
        except subprocess.TimeoutExpired:
            self.server.kill()
            self.server.wait(timeout=5)
            self.check("server stopped gracefully", False, "had to SIGKILL gunicorn")
            return
        self.check(
            "server stopped gracefully",
            self.server.returncode == 0,
            f"exit {self.server.returncode}",
        )

    def drive(self, base: str) -> Traffic:
        step("Driving traffic")
        port = int(base.rsplit(":", 1)[1])
        traffic = Traffic("127.0.0.1", port, self.secrets, on_phase=lambda p: say(f"    - {p}"))
        t0 = time.monotonic()
        traffic.run()
        elapsed = time.monotonic() - t0
        errors = [s for s in traffic.sent if s.error]
        say(f"    {len(traffic.sent)} requests in {elapsed:.1f}s")
        self.check("every request got a response", not errors, f"{len(errors)} transport errors")
        wrong = [s for s in traffic.sent if not s.error and s.status != s.expected]
        self.check(
            "every response had the scripted status",
            not wrong,
            "; ".join(
                f"{s.label} {s.method} {s.path.split('?')[0]}: {s.status}!={s.expected}"
                for s in wrong[:5]
            ),
        )
        return traffic

    def report(self, traffic: Traffic) -> dict[str, Any]:
        if "file" in self.outputs:
            source = ["--file", str(self.log_file)]
        else:
            since = self.started_at.isoformat()
            source = ["--elasticsearch", "--since", since]
            if self.env.get("REQLOG_ELASTICSEARCH_INDEX"):
                source += ["--index", self.env["REQLOG_ELASTICSEARCH_INDEX"]]
        secret_args = [arg for value in self.secrets.all() for arg in ("--secret", value)]
        common = [*source, "--bucket", "5s", "--top", "6", "--no-progress", *secret_args]
        # Exit status 1 means "a secret leaked": the JSON still says where.
        report_json = json.loads(
            self.manage("reqlog_report", *common, "--format", "json", ok_codes=(0, 1))
        )
        text = self.manage("reqlog_report", *common, ok_codes=(0, 1))
        self.report_file.write_text(text, encoding="utf-8")
        say("")
        say(text.rstrip())
        say("")
        say("    Secrets #1-#3: the planted, wrong and sign-up passwords; #4-#5: the API tokens")
        say("    of demo and alice; #6 on: bob's token and session/CSRF cookies from his login.")
        return report_json

    def verify(self, traffic: Traffic, summary: dict[str, Any]) -> None:
        # Requests to a view marked @django_reqlog.skip have no event.
        sent = [s for s in traffic.sent if not s.error and s.logged]
        classes = Counter(f"{s.status // 100}xx" for s in sent)
        self.check(
            "report counts every request once",
            summary["total_requests"] == len(sent),
            f"report {summary['total_requests']} vs sent {len(sent)}",
        )
        self.check(
            "status classes match what the client saw",
            summary["status_classes"] == dict(sorted(classes.items())),
            f"report {summary['status_classes']} vs sent {dict(sorted(classes.items()))}",
        )
        burst = sum(1 for s in sent if s.status >= 500)
        peak = max((row["errors_5xx"] for row in summary["timeline"]), default=0)
        self.check(
            "5xx burst visible in the timeline",
            peak >= burst * 0.5 and burst > 0,
            f"{burst} errors sent, busiest bucket holds {peak}",
        )
        self.check(
            "slow request flagged",
            summary["slow_requests"] >= 1,
            f"{summary['slow_requests']} slow",
        )
        ips = {ip for ip, _count in summary["top_client_ips"]}
        self.check(
            "spoofed X-Forwarded-For ignored",
            SPOOFED_IP not in ips and "203.0.113.66" in ips,
            f"top client IPs: {sorted(ips)}",
        )
        masking = summary["masking"]
        self.check(
            "masking placeholders present",
            masking["redacted_count"] > 0,
            f"{masking['redacted_count']} x [REDACTED]",
        )
        self.check(
            "no planted secret in the events",
            masking["plaintext_hits"] == 0,
            f"{masking['plaintext_hits']} plaintext hits over {len(masking['secrets'])} secrets",
        )
        if "file" in self.outputs:
            self.verify_events(traffic)
        self.scan_outputs()

    def events_by_request_id(self) -> dict[str, dict[str, Any]]:
        events: dict[str, dict[str, Any]] = {}
        for line in self.log_file.read_text(encoding="utf-8").splitlines():
            doc = json.loads(line)
            request_id = doc.get("http", {}).get("request", {}).get("id")
            if request_id and str(request_id).startswith("demo-"):
                events[str(request_id)] = doc
        return events

    def verify_events(self, traffic: Traffic) -> None:
        """Match each request to its own event through the request ID."""
        events = self.events_by_request_id()
        missing = [s.request_id for s in traffic.sent if s.logged and s.request_id not in events]
        self.check("one event per request ID", not missing, f"missing: {missing[:5]}")
        self.verify_view_control(traffic, events)
        mismatched = []
        for sent in traffic.sent:
            doc = events.get(sent.request_id)
            if doc is None:
                continue
            status = doc.get("http", {}).get("response", {}).get("status_code")
            client_ip = doc.get("client", {}).get("ip")
            user = doc.get("user", {}).get("name")
            if (
                status != sent.status
                or client_ip != sent.client_ip
                or (sent.user and user != sent.user)
            ):
                mismatched.append(
                    f"{sent.request_id} {sent.label}: status {status}/{sent.status}, "
                    f"ip {client_ip}/{sent.client_ip}, user {user}/{sent.user}"
                )
        self.check(
            "each event matches its request (status, client IP, user)",
            not mismatched,
            "; ".join(mismatched[:3]),
        )
        upload = next(
            (events[s.request_id] for s in traffic.sent if s.label == "large upload"), None
        )
        body = (upload or {}).get("http", {}).get("request", {}).get("body", {})
        self.check(
            "large upload logged with its size, body capped",
            bool(upload)
            and int(body.get("bytes", 0)) > 3_000_000
            and len(str(body.get("content", ""))) <= 8192,
            f"body.bytes={body.get('bytes')}",
        )
        download = next(
            (events[s.request_id] for s in traffic.sent if s.label == "streaming download"), None
        )
        sent_bytes = next(s.response_bytes for s in traffic.sent if s.label == "streaming download")
        logged = (download or {}).get("http", {}).get("response", {}).get("body", {}).get("bytes")
        self.check(
            "streaming download logged when the stream ended, with its size",
            logged == sent_bytes,
            f"logged {logged} vs received {sent_bytes} bytes",
        )

    def verify_view_control(self, traffic: Traffic, events: dict[str, dict[str, Any]]) -> None:
        """@django_reqlog.skip, django_reqlog.bind() and REQLOG_CAPTURE_DB at work."""
        skipped = [s for s in traffic.sent if not s.logged]
        logged_anyway = [s.request_id for s in skipped if s.request_id in events]
        self.check(
            "@django_reqlog.skip view left no event",
            bool(skipped) and not logged_anyway and all(s.status == 200 for s in skipped),
            f"{len(skipped)} pings answered, {len(logged_anyway)} logged",
        )
        details = [events[s.request_id] for s in traffic.sent if s.label == "item detail"]
        bound = [lookup(doc, "labels") for doc in details]
        self.check(
            "django_reqlog.bind() fields in the events (labels.*)",
            bool(details) and all(b == {"tenant": "acme", "action": "retrieve"} for b in bound),
            f"{len(details)} item details, labels {bound[:1]}",
        )
        counted = [lookup(doc, "reqlog.db.queries") for doc in details]
        self.check(
            "database queries counted (reqlog.db)",
            bool(counted) and all(isinstance(n, int) and n >= 1 for n in counted),
            f"queries per item detail: {sorted(set(map(str, counted)))}",
        )

    def show_custom_fields(self, traffic: Traffic) -> None:
        if "file" not in self.outputs:
            return
        events = self.events_by_request_id()
        doc = next((events[s.request_id] for s in traffic.sent if s.label == "item detail"), {})
        pings = sum(1 for s in traffic.sent if not s.logged)
        step("Per-view control and custom fields")
        say(f"    GET /api/ping/ (@django_reqlog.skip): {pings} requests, no event")
        say("    GET /api/items/1/ (django_reqlog.bind() in ItemViewSet.initial):")
        for name in ("labels", "reqlog.db.queries", "reqlog.db.duration"):
            say(f"    {name:<30} {json.dumps(lookup(doc, name))}")

    def scan_outputs(self) -> None:
        """No planted secret in any log file, server output or command output."""
        texts: dict[str, str] = {}
        for path in sorted(self.var.rglob("*")):
            # The database legitimately stores the token keys (that is what
            # DRF's TokenAuthentication checks against); logs must not.
            if path.is_file() and not path.name.startswith("db.sqlite3"):
                texts[str(path)] = path.read_text(encoding="utf-8", errors="replace")
        texts["command output"] = "\n".join(self.captured)
        leaks = [
            f"secret #{number} in {where}"
            for where, text in texts.items()
            for number, value in enumerate(self.secrets.all(), start=1)
            if value in text
        ]
        self.check(
            "no planted secret in any output or log file",
            not leaks,
            ", ".join(leaks[:5])
            or f"scanned {len(texts)} outputs for {len(self.secrets.all())} secrets",
        )

    def show_console_sample(self) -> None:
        lines = [
            line
            for line in self.server_log.read_text(encoding="utf-8", errors="replace").splitlines()
            if " id=" in line
        ]
        step(f"Console lines (the short human format; {len(lines)} in {self.server_log})")
        for line in [*lines[:3], "...", *lines[-3:]] if len(lines) > 6 else lines:
            say(f"    {line}")

    def show_login_event(self, traffic: Traffic) -> None:
        """Bob's login and his next session request as logged: every secret masked."""
        if "file" not in self.outputs:
            return
        wanted = {
            s.request_id: s.label
            for s in traffic.sent
            if s.label in {"login (bob)", "me (session)"}
        }
        shown: dict[str, dict[str, Any]] = {}
        for line in self.log_file.read_text(encoding="utf-8").splitlines():
            doc = json.loads(line)
            request_id = lookup(doc, "http.request.id")
            if request_id in wanted and wanted[request_id] not in shown:
                shown[wanted[request_id]] = doc
        step("Bob's login and his next request, as logged")
        fields = {
            "login (bob)": [
                "url.path",
                "http.request.body.content",
                "http.response.body.content",
            ],
            "me (session)": [
                "url.path",
                "reqlog.request.headers.cookie",
                "user.name",
            ],
        }
        for label, names in fields.items():
            doc = shown.get(label, {})
            for name in names:
                value = lookup(doc, name)
                if value is not None:
                    say(f"    {name:<30} {value}")

    def where(self) -> None:
        step("Where things are")
        if "file" in self.outputs:
            say(f"    ECS JSON lines: {self.log_file}")
        say(f"    Server console: {self.server_log}")
        say(f"    This report:    {self.report_file}")
        source = (
            f"--file {self.log_file}" if "file" in self.outputs else "--elasticsearch --since 1h"
        )
        say(f"    Re-run it:      cd {HERE} && {self.python} manage.py reqlog_report {source}")
        if "elasticsearch" in self.outputs:
            kibana = os.environ.get("REQLOG_KIBANA_URL", "http://localhost:5601").rstrip("/")
            target = self.env.get("REQLOG_ELASTICSEARCH_INDEX", "logs-django.reqlog-default")
            say(f"    Events:         {_safe_url(os.environ['REQLOG_ELASTICSEARCH_URL'])} {target}")
            say(f"    Kibana:         {kibana}/app/dashboards#/view/reqlog-dashboard-requests")
            say(f"                    (or Discover: {kibana}/app/discover, data view reqlog)")
        if "logstash" in self.outputs:
            host = os.environ.get("REQLOG_LOGSTASH_HOST")
            port = os.environ.get("REQLOG_LOGSTASH_PORT", "5000")
            say(f"    Logstash:       events also shipped to {host}:{port}")

    def run(self) -> int:
        t0 = time.monotonic()
        mode = " + ".join(self.outputs)
        say(f"{BOLD}django-reqlog demo{RESET} (events go to: {mode})")
        traffic: Traffic | None = None
        try:
            self.prepare()
            base = self.start_server()
            try:
                traffic = self.drive(base)
            finally:
                self.stop_server()
            self.show_console_sample()
            self.show_login_event(traffic)
            self.show_custom_fields(traffic)
            step("Report (manage.py reqlog_report)")
            summary = self.report(traffic)
            self.verify(traffic, summary)
            self.where()
        except DemoFailed as exc:
            self.check("demo flow", False, str(exc))
        except subprocess.TimeoutExpired as exc:
            self.check("demo flow", False, f"timed out: {' '.join(map(str, exc.cmd[:4]))}")
        except Exception as exc:
            # A bug in the demo itself still ends in the checks summary and exit 1.
            traceback.print_exc()
            self.check("demo flow", False, f"{type(exc).__name__}: {exc}")
        finally:
            if self.server is not None and self.server.poll() is None:
                self.server.kill()
                self.server.wait(timeout=5)
        elapsed = time.monotonic() - t0
        step(f"Checks ({elapsed:.1f}s)")
        for name, ok, detail in self.checks:
            mark = "PASS" if ok else "FAIL"
            say(f"    [{mark}] {name}" + (f" - {detail}" if detail and not ok else ""))
        failed = [name for name, ok, _ in self.checks if not ok]
        if failed:
            say(f"\nDemo FAILED: {len(failed)} check(s) failed. Server log: {self.server_log}")
            return 1
        say(f"\nDemo OK: {len(self.checks)} checks passed in {elapsed:.1f}s. Next: `make test`.")
        return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--var-dir",
        default=os.environ.get("REQLOG_DEMO_VAR_DIR", str(HERE / "var")),
        help="Where the database, logs and report go (default example_project/var).",
    )
    return Demo(parser.parse_args(argv)).run()


if __name__ == "__main__":
    sys.exit(main())
