"""Peak memory of a large upload with and without RequestLogMiddleware.

Each measurement runs in a fresh subprocess that configures a minimal Django
project (sessions, auth, CommonMiddleware, optionally our middleware last),
then sends one request through Django's real WSGI handler. The request body
is produced on the fly by a stream object, so the benchmark itself never holds
the upload in memory. Logging is on: a handler formats every event with the
ECS formatter and writes it to /dev/null, as a real deployment would.

Two separate children per variant, because tracemalloc itself costs memory:
* tracemalloc peak of Python allocations during the request;
* growth of the process's peak RSS (ru_maxrss) across the request.

Usage:  python benchmarks/upload_memory.py [--megabytes 100] [--scenario NAME ...]
Prints one line per scenario and variant, then the with-minus-without deltas.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import logging
import os
import resource
import subprocess
import sys
import time
import tracemalloc
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
OURS = "django_reqlog.middleware.RequestLogMiddleware"
BOUNDARY = "uploadMemoryBoundary"
SCENARIOS = {
    "multipart-file": "the view reads request.FILES (Django spools the file to disk)",
    "raw-stream": "the view reads request.read(64 KiB) in a loop and hashes it",
    "unread": "the view never touches the body",
}
CHUNK = 64 * 1024


class GeneratedInput:
    """A wsgi.input producing ``prefix + size bytes + suffix`` without storing it."""

    def __init__(self, prefix: bytes, size: int, suffix: bytes) -> None:
        self.prefix, self.size, self.suffix = prefix, size, suffix
        self.block = bytes(range(256)) * (CHUNK // 256)
        self.position = 0
        self.total = len(prefix) + size + len(suffix)

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            size = self.total - self.position
        out = bytearray()
        while size > 0 and self.position < self.total:
            prefix, middle, suffix = self.prefix, self.size, self.suffix
            if self.position < len(prefix):
                piece = prefix[self.position : self.position + size]
            elif self.position < len(prefix) + middle:
                offset = self.position - len(prefix)
                take = min(size, middle - offset, CHUNK)
                start = offset % len(self.block)
                piece = (self.block[start:] + self.block)[:take]
            else:
                offset = self.position - len(prefix) - middle
                piece = suffix[offset : offset + size]
            out += piece
            self.position += len(piece)
            size -= len(piece)
        return bytes(out)

    def readline(self, size: int = -1) -> bytes:
        return self.read(size if size and size > 0 else CHUNK)


# -- the child: one request through the WSGI handler ------------------------


def upload_view(request: Any) -> Any:
    from django.http import JsonResponse

    scenario = request.GET.get("scenario")
    if scenario == "multipart-file":
        upload = request.FILES["file"]
        digest = hashlib.sha256()
        for chunk in upload.chunks():
            digest.update(chunk)
        return JsonResponse({"size": upload.size, "sha": digest.hexdigest()})
    if scenario == "raw-stream":
        digest = hashlib.sha256()
        size = 0
        while True:
            chunk = request.read(CHUNK)
            if not chunk:
                break
            size += len(chunk)
            digest.update(chunk)
        return JsonResponse({"size": size, "sha": digest.hexdigest()})
    return JsonResponse({"size": None})


def urlpatterns_factory() -> list[Any]:
    from django.urls import path
    from django.views.decorators.csrf import csrf_exempt

    return [path("upload/", csrf_exempt(upload_view))]


urlpatterns: list[Any] = []


def child(variant: str, scenario: str, megabytes: int, measure: str) -> dict[str, Any]:
    sys.path.insert(0, ROOT)
    import django
    from django.conf import settings

    middleware = [
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.middleware.common.CommonMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
    ]
    if variant == "with":
        middleware.append(OURS)
    settings.configure(
        DEBUG=False,
        SECRET_KEY="benchmark-only",
        ALLOWED_HOSTS=["*"],
        ROOT_URLCONF=__name__,
        MIDDLEWARE=middleware,
        INSTALLED_APPS=[
            "django.contrib.auth",
            "django.contrib.contenttypes",
            "django.contrib.sessions",
            "django_reqlog",
        ],
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
        DATA_UPLOAD_MAX_MEMORY_SIZE=None,
        LOGGING_CONFIG=None,
        USE_TZ=True,
    )
    django.setup()
    globals()["urlpatterns"] = urlpatterns_factory()
    from django.core.handlers.wsgi import WSGIHandler

    from django_reqlog.formatters import ECSFormatter

    sink = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the process
    handler = CountingHandler(sink)
    handler.setFormatter(ECSFormatter())
    reqlog_logger = logging.getLogger("django_reqlog")
    reqlog_logger.addHandler(handler)
    reqlog_logger.setLevel(logging.INFO)
    reqlog_logger.propagate = False

    size = megabytes * 1024 * 1024
    if scenario == "multipart-file":
        prefix = (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="title"\r\n\r\nbig\r\n'
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="big.bin"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        suffix = f"\r\n--{BOUNDARY}--\r\n".encode()
        content_type = f"multipart/form-data; boundary={BOUNDARY}"
    else:
        prefix, suffix = b"", b""
        content_type = "application/octet-stream"
    stream = GeneratedInput(prefix, size, suffix)
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/upload/",
        "QUERY_STRING": f"scenario={scenario}",
        "SERVER_NAME": "bench",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "CONTENT_TYPE": content_type,
        "CONTENT_LENGTH": str(stream.total),
        "wsgi.input": stream,
        "wsgi.errors": io.StringIO(),
        "wsgi.url_scheme": "http",
        "wsgi.version": (1, 0),
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    app = WSGIHandler()
    statuses: list[str] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        statuses.append(status)
        return lambda data: None

    if measure == "tracemalloc":
        tracemalloc.start()
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    result = app(environ, start_response)
    body = b"".join(result)
    if hasattr(result, "close"):
        result.close()
    elapsed = time.perf_counter() - started
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    peak = tracemalloc.get_traced_memory()[1] if measure == "tracemalloc" else None
    if measure == "tracemalloc":
        tracemalloc.stop()
    return {
        "status": statuses[0] if statuses else None,
        "response": json.loads(body),
        "bytes_sent": stream.position,
        "tracemalloc_peak": peak,
        "maxrss_growth": (rss_after - rss_before) * 1024,  # ru_maxrss is KiB on Linux
        "seconds": round(elapsed, 2),
        "events": handler.count,
    }


class CountingHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Formats and writes every event (to /dev/null) and counts them."""

    count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1
        super().emit(record)


# -- the parent: run the children, print the figures ------------------------


def run_child(variant: str, scenario: str, megabytes: int, measure: str) -> dict[str, Any]:
    command = [
        sys.executable,
        os.path.abspath(__file__),
        "--child",
        variant,
        scenario,
        str(megabytes),
        measure,
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=ROOT)
    if done.returncode != 0:
        raise SystemExit(f"child failed ({' '.join(command)}):\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def mib(value: float | None) -> str:
    return "-" if value is None else f"{value / 1024 / 1024:7.2f} MiB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=int, default=100)
    parser.add_argument("--scenario", action="append", choices=sorted(SCENARIOS))
    args = parser.parse_args()
    scenarios = args.scenario or list(SCENARIOS)
    print(
        f"{args.megabytes} MiB upload, one request per subprocess, Python {sys.version.split()[0]}"
    )
    worst = 0.0
    for scenario in scenarios:
        print(f"\n{scenario}: {SCENARIOS[scenario]}")
        figures: dict[str, dict[str, Any]] = {}
        for variant in ("without", "with"):
            traced = run_child(variant, scenario, args.megabytes, "tracemalloc")
            rss = run_child(variant, scenario, args.megabytes, "rss")
            figures[variant] = {"traced": traced, "rss": rss}
            print(
                f"  {variant:>7} middleware: tracemalloc peak {mib(traced['tracemalloc_peak'])},"
                f" peak RSS growth {mib(rss['maxrss_growth'])}, {rss['seconds']} s,"
                f" status {rss['status']}, view saw {rss['response'].get('size')} bytes,"
                f" events logged {rss['events']}"
            )
        traced_delta = (
            figures["with"]["traced"]["tracemalloc_peak"]
            - figures["without"]["traced"]["tracemalloc_peak"]
        )
        rss_delta = (
            figures["with"]["rss"]["maxrss_growth"] - figures["without"]["rss"]["maxrss_growth"]
        )
        base = figures["without"]["traced"]["tracemalloc_peak"] or 1
        ratio = figures["with"]["traced"]["tracemalloc_peak"] / base
        worst = max(worst, traced_delta, rss_delta)
        same = figures["with"]["rss"]["response"] == figures["without"]["rss"]["response"]
        print(
            f"  delta (with - without): tracemalloc {mib(traced_delta)}, peak RSS {mib(rss_delta)};"
            f" tracemalloc ratio {ratio:.3f}; identical view result: {same}"
        )
    verdict = "PASS" if worst < 5 * 1024 * 1024 else "FAIL"
    print(f"\nworst delta {mib(worst)} (target < 5 MiB): {verdict}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        _, _, variant_arg, scenario_arg, megabytes_arg, measure_arg = sys.argv
        print(json.dumps(child(variant_arg, scenario_arg, int(megabytes_arg), measure_arg)))
    else:
        main()
