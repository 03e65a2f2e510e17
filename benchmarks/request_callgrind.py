"""Instructions per request on the request thread, counted by callgrind (they
do not drift with the load of a shared machine).

    python benchmarks/request_callgrind.py [VARIANT ...]     # the table
    python benchmarks/request_callgrind.py --parts           # where reqlog's share goes
    python benchmarks/request_callgrind.py --run VARIANT N   # what valgrind runs

VARIANT is a name from ``benchmarks/variants.py``: ``floor`` (no logging
middleware), ``reqlog-queue`` (a handler that only queues what a shipper
queues, no worker thread) or ``reqlog-tcp`` (``LogstashHandler`` to a
reading loopback sink, its worker formatting and sending meanwhile). Each is
run under valgrind for two numbers of requests, each after the same warm-up;
the difference of the two counts divided by the difference of the requests
is the cost of one request, start-up excluded. Only the main thread, which
drives the requests, is counted (``--separate-threads=yes``): a shipper's
worker and sender threads are left out, the cost of handing them the GIL is
not.

``--parts`` counts pieces of what the middleware adds, each on its own in a
loop (the same two-lengths difference), on a request like the benchmark's
after it went through the view: a breakdown, not a sum (the pieces overlap
a little, and the view's own reading of the body is not in any).

``REQLOG_OLD_TREE`` points at a copy of another tree (say, main) to measure
that tree's code and benchmarks instead of this editable install's.
"""

from __future__ import annotations

import glob
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUNS = (300, 1300)
WARMUP = 200


def run(variant: str, count: int) -> None:
    old = os.environ.get("REQLOG_OLD_TREE")
    if old:  # that tree's django_reqlog and benchmarks, not this editable install's
        sys.meta_path[:] = [f for f in sys.meta_path if "__editable__" not in type(f).__module__]
        sys.path.insert(0, old)
    else:
        sys.path.insert(0, str(ROOT))
    from benchmarks import measure

    # The handlers stay referenced by the logger until the process exits.
    measure._setup(variant, tempfile.mkdtemp(prefix="reqlog-callgrind-"))
    one = measure.wsgi_driver()
    for _ in range(WARMUP):
        one()
    for _ in range(count):
        one()
    # No drain and no close: waiting for a worker would count the main
    # thread's polling. Exit at once (daemon threads may still be busy).
    os._exit(0)


def _parts() -> dict[str, Callable[[], object]]:
    """Each piece of the request thread's added work, ready to repeat."""
    sys.path.insert(0, str(ROOT))
    from benchmarks import measure

    measure._setup("reqlog-queue", tempfile.mkdtemp(prefix="reqlog-callgrind-"))
    from django.http import JsonResponse
    from django.test import RequestFactory

    from django_reqlog import middleware as mw
    from django_reqlog.context import RequestContext
    from django_reqlog.request_facts import record_extra
    from django_reqlog.request_fields import EventMessage

    request = RequestFactory().post(
        "/api/orders/?page=1&token=abc123",
        data=measure.BODY,
        content_type="application/json",
        **measure.HEADERS,
    )
    request.body  # noqa: B018 - the view reads it, as the benchmark's does
    middleware = mw.RequestLogMiddleware(lambda r: JsonResponse({}))
    settings = mw._Settings()
    state = mw._State(request, settings, RequestContext(mw.new_id()), len(measure.BODY), None)
    facts = middleware._facts(state, request, 201)
    assert facts is not None
    response = JsonResponse({"id": 1, "items": 20, "ok": True}, status=201)
    logger = mw.logger

    def record() -> object:
        return logger.makeRecord(
            logger.name, 20, __file__, 1, EventMessage(facts), (), None, "_emit",
            record_extra(facts),
        )  # fmt: skip

    made = record()

    def header() -> None:
        # What response.setdefault does when the header is new (repeatable:
        # the header is there after the first call, so it is set again).
        if "X-Request-ID" in response.headers:
            response["X-Request-ID"] = state.request_id

    def contexts() -> None:
        mw._State(request, settings, RequestContext("x"), None, None).reset()

    return {
        "settings: 8 conf properties, each read once per request": mw._Settings,
        "three IDs (new_id)": lambda: (mw.new_id(), mw.new_id(), mw.new_id()),
        "request state and its context variables": contexts,
        "the facts (RequestFacts from META, body, route, user)": lambda: middleware._facts(
            state, request, 201
        ),
        "response facts (content type, size, body prefix)": lambda: mw._response_body(
            facts, response, settings
        ),
        "the request-ID header (`in`, then `response[name] = value`)": header,
        "the record (Logger.makeRecord)": record,
        "handing it on (Logger.handle, queue-only handler)": lambda: logger.handle(made),  # type: ignore[arg-type]
    }


def run_part(index: int, repeat: int) -> None:
    part = list(_parts().values())[index]
    for _ in range(100):
        part()
    for _ in range(repeat):
        part()
    os._exit(0)


def count(variant: str, requests: int, env: dict[str, str], mode: str = "--run") -> int:
    with tempfile.TemporaryDirectory(prefix="reqlog-cg-") as out:
        result = subprocess.run(
            [
                *("valgrind", "--tool=callgrind", "--separate-threads=yes"),
                f"--callgrind-out-file={out}/cg.out",
                *(sys.executable, __file__, mode, variant, str(requests)),
            ],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, **env, "PYTHONHASHSEED": "0"},
        )
        main = sorted(glob.glob(f"{out}/cg.out-01"))
        assert main, result.stderr[-2000:]
        match = re.search(r"^summary: (\d+)$", Path(main[0]).read_text(), re.M)
        assert match, main[0]
        return int(match.group(1))


def _sink() -> tuple[subprocess.Popen[str], dict[str, str]]:
    sink = subprocess.Popen(
        [sys.executable, str(ROOT / "benchmarks" / "sink.py")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert sink.stdout is not None
    read_port, stall_port = sink.stdout.readline().split()
    return sink, {"REQLOG_BENCH_READ_PORT": read_port, "REQLOG_BENCH_STALL_PORT": stall_port}


def main(variants: list[str]) -> None:
    sink, env = _sink()
    try:
        print(f"| variant | instructions per request | requests {RUNS[0]} vs {RUNS[1]} |")
        print("|---|---:|---|")
        for variant in variants:
            low, high = (count(variant, n, env) for n in RUNS)
            per = (high - low) / (RUNS[1] - RUNS[0])
            print(f"| {variant} | {per:,.0f} | {low:,} / {high:,} |", flush=True)
    finally:
        assert sink.stdin is not None
        sink.stdin.close()
        sink.wait(10)


def main_parts() -> None:
    names = list(_parts())
    print(f"| piece | instructions per request | repeats {RUNS[0]} vs {RUNS[1]} |")
    print("|---|---:|---|")
    for index, name in enumerate(names):
        low, high = (count(str(index), n, {}, "--run-part") for n in RUNS)
        per = (high - low) / (RUNS[1] - RUNS[0])
        print(f"| {name} | {per:,.0f} | {low:,} / {high:,} |", flush=True)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--run"]:
        run(sys.argv[2], int(sys.argv[3]))
    elif sys.argv[1:2] == ["--run-part"]:
        run_part(int(sys.argv[2]), int(sys.argv[3]))
    elif sys.argv[1:2] == ["--parts"]:
        main_parts()
    else:
        main(sys.argv[1:] or ["floor", "reqlog-queue", "reqlog-tcp"])
