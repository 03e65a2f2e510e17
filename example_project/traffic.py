"""A scripted, realistic traffic mix against the example project.

Every request carries an ``X-Request-ID`` (``demo-00001``...) so each event in
the log can be matched to the request that caused it, and records the status
the script expects, so a misbehaving server fails the demo instead of passing
unnoticed. Planted secrets travel in bodies, headers, cookies and query
strings; the caller checks that none of them reach any log.
"""

from __future__ import annotations

import http.client
import json
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any

# The demo's "load balancer" is loopback (a trusted proxy in the example
# settings); these are the clients it forwards for.
CLIENT_IPS = ["203.0.113.10", "203.0.113.11", "198.51.100.7", "192.0.2.44", "2001:db8::1f"]
# What an attacker writes at the left of X-Forwarded-For; it must never become client.ip.
SPOOFED_IP = "6.6.6.6"
SPOOF_ORIGIN_IP = "203.0.113.66"


@dataclass
class Sent:
    """One request as the client saw it."""

    request_id: str
    label: str
    method: str
    path: str
    expected: int
    status: int
    client_ip: str
    user: str | None
    started: float
    elapsed_ms: float
    response_bytes: int
    error: str | None = None
    # False for a view marked @django_reqlog.skip: no event is expected.
    logged: bool = True


@dataclass
class Secrets:
    password: str
    wrong_password: str
    signup_password: str
    demo_token: str
    alice_token: str
    # Learnt during the run: bob's token, session and CSRF cookies.
    learnt: list[str] = field(default_factory=list)

    def all(self) -> list[str]:
        return [
            self.password,
            self.wrong_password,
            self.signup_password,
            self.demo_token,
            self.alice_token,
            *self.learnt,
        ]


@dataclass
class Traffic:
    """Drives the scripted mix; thread-safe bookkeeping of what was sent."""

    host: str
    port: int
    secrets: Secrets
    on_phase: Callable[[str], Any] = print
    sent: list[Sent] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _counter: int = 0
    _cookies: dict[str, str] = field(default_factory=dict)

    # ------------------------------------------------------------------ plumbing

    def _next_id(self) -> str:
        with self._lock:
            self._counter += 1
            return f"demo-{self._counter:05d}"

    def request(
        self,
        label: str,
        method: str,
        path: str,
        expected: int,
        *,
        body: bytes | None = None,
        json_body: Any = None,
        headers: dict[str, str] | None = None,
        client_ip: str | None = None,
        forwarded_for: str | None = None,
        user: str | None = None,
        timeout: float = 30.0,
        logged: bool = True,
    ) -> tuple[int, bytes, http.client.HTTPResponse | None]:
        request_id = self._next_id()
        all_headers = {"X-Request-ID": request_id, "User-Agent": "reqlog-demo/1.0"}
        client_ip = client_ip or CLIENT_IPS[self._counter % len(CLIENT_IPS)]
        all_headers["X-Forwarded-For"] = forwarded_for or client_ip
        if json_body is not None:
            body = json.dumps(json_body).encode()
            all_headers["Content-Type"] = "application/json"
        all_headers.update(headers or {})
        started = time.time()
        t0 = time.perf_counter()
        status, data, error, response = 0, b"", None, None
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=all_headers)
            response = conn.getresponse()
            # Read in chunks: the streaming download is several megabytes.
            chunks = []
            while chunk := response.read(65536):
                chunks.append(chunk)
            data = b"".join(chunks)
            status = response.status
        except OSError as exc:
            error = f"{type(exc).__name__}: {exc}"
        finally:
            conn.close()
        elapsed_ms = (time.perf_counter() - t0) * 1000
        sent = Sent(
            request_id=request_id,
            label=label,
            method=method,
            path=path,
            expected=expected,
            status=status,
            client_ip=client_ip,
            user=user,
            started=started,
            elapsed_ms=elapsed_ms,
            response_bytes=len(data),
            error=error,
            logged=logged,
        )
        with self._lock:
            self.sent.append(sent)
        return status, data, response

    def token(self, key: str) -> dict[str, str]:
        return {"Authorization": f"Token {key}"}

    def _parallel(self, jobs: Iterable[Callable[[], Any]], workers: int = 6) -> None:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            for future in [pool.submit(job) for job in jobs]:
                future.result()

    # ------------------------------------------------------------------ phases

    def run(self) -> None:
        self.on_phase("normal browsing and API reads")
        self.normal_traffic(rounds=10)
        self.on_phase("logins: a planted password, a wrong one, a session user")
        self.logins()
        self.on_phase("CRUD with token and session auth")
        self.crud()
        self.on_phase("4xx: validation errors, unknown pages, missing auth")
        self.client_errors()
        self.on_phase("spoofed X-Forwarded-For headers")
        self.spoofed()
        self.on_phase("a large upload and a streaming download")
        self.transfers()
        self.on_phase("async view and a slow request")
        self.async_and_slow()
        self.on_phase("a burst of 5xx errors")
        self.burst()
        self.on_phase("normal traffic again")
        self.normal_traffic(rounds=8)

    def normal_traffic(self, rounds: int) -> None:
        s = self.secrets
        for round_no in range(rounds):
            jobs: list[Callable[[], Any]] = [
                lambda: self.request("home", "GET", "/", 200),
                lambda: self.request("health", "GET", "/health/", 200),
                lambda: self.request("list items", "GET", "/api/items/", 200),
                # A keep-alive poll: @django_reqlog.skip, so no event.
                lambda: self.request("ping (skipped)", "GET", "/api/ping/", 200, logged=False),
                lambda: self.request("list items", "GET", "/api/items/?limit=5&offset=2", 200),
                lambda: self.request(
                    "list items (token)",
                    "GET",
                    "/api/items/",
                    200,
                    headers=self.token(s.demo_token),
                    user="demo",
                ),
                lambda: self.request(
                    "me (token)",
                    "GET",
                    "/api/me/",
                    200,
                    headers=self.token(s.alice_token),
                    user="alice",
                ),
                lambda: self.request(
                    "item detail",
                    "GET",
                    "/api/items/1/",
                    200,
                    headers={**self.token(s.demo_token), "X-Tenant": "acme"},
                    user="demo",
                ),
                # A token in the query string, as careless API clients send it.
                lambda: self.request(
                    "list items (api_key in URL)",
                    "GET",
                    f"/api/items/?search=widget&api_key={s.alice_token}",
                    200,
                ),
                lambda: self.request("async stock", "GET", "/api/async/?warehouse=north", 200),
            ]
            self._parallel(jobs)
            # Spread the traffic over time so the per-bucket timeline has a shape.
            time.sleep(0.5 if round_no < rounds - 1 else 0)

    def logins(self) -> None:
        s = self.secrets
        self.request(
            "login (wrong password)",
            "POST",
            "/api/login/",
            401,
            json_body={"username": "demo", "password": s.wrong_password},
        )
        status, data, response = self.request(
            "login (bob)",
            "POST",
            "/api/login/",
            200,
            json_body={"username": "bob", "password": s.password},
        )
        if status == 200 and response is not None:
            payload = json.loads(data)
            s.learnt.append(payload["token"])
            for header in response.headers.get_all("Set-Cookie") or []:
                cookie: SimpleCookie = SimpleCookie()
                cookie.load(header)
                for name, morsel in cookie.items():
                    self._cookies[name] = morsel.value
                    if name in {"sessionid", "csrftoken"}:
                        s.learnt.append(morsel.value)
        # A form-encoded login, as an HTML form would post it.
        self.request(
            "login (form-encoded)",
            "POST",
            "/api/login/",
            200,
            body=f"username=demo&password={s.password}".encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        self.request(
            "signup",
            "POST",
            "/api/signup/",
            201,
            json_body={
                "username": f"carol_{uuid.uuid4().hex[:8]}",
                "email": "carol@example.com",
                "password": s.signup_password,
            },
        )

    def _session_headers(self, unsafe: bool = False) -> dict[str, str]:
        cookie = "; ".join(f"{k}={v}" for k, v in self._cookies.items())
        headers = {"Cookie": cookie}
        if unsafe and "csrftoken" in self._cookies:
            headers["X-CSRFToken"] = self._cookies["csrftoken"]
        return headers

    def crud(self) -> None:
        s = self.secrets
        auth = self.token(s.demo_token)
        created_ids = []
        for number in range(6):
            status, data, _ = self.request(
                "create item",
                "POST",
                "/api/items/",
                201,
                json_body={
                    "sku": f"DEMO-{uuid.uuid4().hex[:10]}",
                    "name": f"Widget {number}",
                    "price": f"{number + 1}.50",
                    "quantity": number,
                },
                headers=auth,
                user="demo",
            )
            if status == 201:
                created_ids.append(json.loads(data)["id"])
        for item_id in created_ids[:3]:
            self.request(
                "update item",
                "PATCH",
                f"/api/items/{item_id}/",
                200,
                json_body={"quantity": 99},
                headers=auth,
                user="demo",
            )
        for item_id in created_ids[3:]:
            self.request(
                "delete item", "DELETE", f"/api/items/{item_id}/", 204, headers=auth, user="demo"
            )
            self.request(
                "deleted item", "GET", f"/api/items/{item_id}/", 404, headers=auth, user="demo"
            )
        # Session-authenticated user: cookie plus CSRF header for writes.
        self.request(
            "list items (session)",
            "GET",
            "/api/items/",
            200,
            headers=self._session_headers(),
            user="bob",
        )
        self.request(
            "me (session)", "GET", "/api/me/", 200, headers=self._session_headers(), user="bob"
        )
        self.request(
            "create item (session)",
            "POST",
            "/api/items/",
            201,
            json_body={"sku": f"BOB-{uuid.uuid4().hex[:10]}", "name": "Gizmo", "price": "3.00"},
            headers=self._session_headers(unsafe=True),
            user="bob",
        )

    def client_errors(self) -> None:
        s = self.secrets
        auth = self.token(s.demo_token)
        jobs: list[Callable[[], Any]] = []
        for _ in range(3):
            jobs += [
                lambda: self.request(
                    "create item (bad price)",
                    "POST",
                    "/api/items/",
                    400,
                    json_body={"sku": "X", "name": "Broken", "price": "-1"},
                    headers=auth,
                    user="demo",
                ),
                lambda: self.request(
                    "create item (missing fields)",
                    "POST",
                    "/api/items/",
                    400,
                    json_body={},
                    headers=auth,
                    user="demo",
                ),
                lambda: self.request(
                    "create item (malformed JSON)",
                    "POST",
                    "/api/items/",
                    400,
                    body=b'{"name": "oops",',
                    headers={**auth, "Content-Type": "application/json"},
                    user="demo",
                ),
                lambda: self.request(
                    "signup (invalid)",
                    "POST",
                    "/api/signup/",
                    400,
                    json_body={"username": "No!", "email": "nope", "password": "short"},
                ),
                lambda: self.request(
                    "create item (anonymous)",
                    "POST",
                    "/api/items/",
                    401,
                    json_body={"sku": "ANON", "name": "x", "price": "1"},
                ),
                lambda: self.request("me (anonymous)", "GET", "/api/me/", 401),
                lambda: self.request("scanner noise", "GET", "/wp-login.php", 404),
                lambda: self.request("missing item", "GET", "/api/items/999999/", 404),
                lambda: self.request(
                    "wrong method",
                    "PUT",
                    "/api/items/",
                    405,
                    headers=auth,
                    user="demo",
                    json_body={},
                ),
                lambda: self.request(
                    "bad token",
                    "GET",
                    "/api/me/",
                    401,
                    headers=self.token("0" * 40),
                ),
            ]
        self._parallel(jobs)

    def spoofed(self) -> None:
        # The attacker talks to our load balancer, which appends the real
        # address; the forged left-most hop must be ignored.
        jobs: list[Callable[[], Any]] = [
            lambda: self.request(
                "spoofed X-Forwarded-For",
                "GET",
                "/api/items/",
                200,
                forwarded_for=f"{SPOOFED_IP}, {SPOOF_ORIGIN_IP}",
                client_ip=SPOOF_ORIGIN_IP,
            )
            for _ in range(8)
        ]
        self._parallel(jobs)

    def transfers(self) -> None:
        s = self.secrets
        boundary = uuid.uuid4().hex
        payload = os.urandom(3 * 1024 * 1024)
        body = (
            (
                f"--{boundary}\r\n"
                'Content-Disposition: form-data; name="note"\r\n\r\n'
                "quarterly stock photos\r\n"
                f"--{boundary}\r\n"
                'Content-Disposition: form-data; name="file"; filename="photos.bin"\r\n'
                "Content-Type: application/octet-stream\r\n\r\n"
            ).encode()
            + payload
            + f"\r\n--{boundary}--\r\n".encode()
        )
        self.request(
            "large upload",
            "POST",
            "/api/upload/",
            201,
            body=body,
            headers={
                **self.token(s.demo_token),
                "Content-Type": f"multipart/form-data; boundary={boundary}",
            },
            user="demo",
        )
        self.request(
            "streaming download",
            "GET",
            "/api/export.csv?rows=60000",
            200,
            headers=self.token(s.alice_token),
            user="alice",
        )

    def async_and_slow(self) -> None:
        jobs: list[Callable[[], Any]] = [
            lambda: self.request("async stock", "GET", "/api/async/?warehouse=south", 200)
            for _ in range(5)
        ]
        jobs.append(lambda: self.request("slow report", "GET", "/api/slow/?ms=700", 200))
        self._parallel(jobs)

    def burst(self, size: int = 30) -> None:
        jobs: list[Callable[[], Any]] = [
            lambda: self.request("failing endpoint", "GET", "/api/boom/", 500) for _ in range(size)
        ]
        self._parallel(jobs, workers=8)
