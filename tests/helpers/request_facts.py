"""Generated request events for the formatting tests (tests/test_native_events.py):
``RequestFacts`` with every field drawn, hostile values included (control
characters, lone surrogates, huge numbers, odd hosts and addresses, deep and
broken JSON, multipart bodies, headers, route parameters), and the
LogRecord a formatter receives for them."""

from __future__ import annotations

import json
import logging
from typing import Any

from hypothesis import strategies as st

from django_reqlog.request_facts import RequestFacts, record_extra
from django_reqlog.request_fields import EventMessage
from tests.helpers import masking_cases as ms

CARD = ms.CARD
JWT = "eyJhbGciOi.eyJzdWIiOi.sig"
# Odd text: control characters, quotes, escapes, non-ASCII, a lone surrogate.
ODD = [
    "\x00",
    "\x08",
    "\x0c",
    "\x1b[31m",
    "\n",
    "\r\n",
    "\t",
    '"',
    "\\",
    "\x7f",
    "é",
    "\u2028",
    "😀",
]
ODD += ["\ufeff"]
texts = st.lists(st.one_of(st.sampled_from(ms.FREE_PIECES), st.sampled_from(ODD)), max_size=8).map(
    "".join
)


def _long(piece: str, count: int) -> str:
    return piece * count


HOSTS = [
    "api.example.com",
    "api.example.com:8443",
    "api.example.com:99999",
    "api.example.com:99999999999999999999999",
    "api.example.com:",
    "api.example.com:²",
    "api.example.com:٣",
    "[::1]:443",
    "[::1]",
    "a:b:c",
    ":80",
    "",
    "exämple.com",
    "x" * 300 + ":81",
    "host\r\nInjected: 1",
]
ADDRESSES = [
    "203.0.113.5",
    "10.0.0.7",
    "127.0.0.1",
    "::1",
    "2001:db8::1",
    "2001:DB8:0:0:0:0:0:1",
    "2001:db8:0:0:1:0:0:1",
    "::ffff:10.0.0.7",
    "::10.0.0.7",
    "fe80::1%eth0",
    "[2001:db8::2]:8080",
    "[2001:db8::2",
    "198.51.100.1:443",
    "198.51.100.1:",
    "198.51.100.1:²",
    "01.2.3.4",
    "1.2.3",
    "256.1.1.1",
    "1:2:3:4:5:6:7::",
    "::",
    ":::",
    "1::2::3",
    "12345::1",
    '"192.0.2.9"',
    " 192.0.2.10 ",
    "\u3000192.0.2.11",
    "unknown",
    "",
    "x" * 70,
    "1.2.3.4/24",
]
TRUSTED = [[], ["10.0.0.0/8"], ["10.0.0.0/8", "2001:db8::/32", "127.0.0.1"], ["0.0.0.0/0", "::/0"]]
hops = st.lists(st.sampled_from(ADDRESSES), max_size=24)
forwarded = st.one_of(
    st.just(""),
    hops.map(", ".join),
    hops.map(",".join),
    st.sampled_from([",", " , ", "203.0.113.9,,10.0.0.1"]),
)

QUERY_PIECES = [
    "a=1",
    "token=abc",
    "next=%2Fhome",
    "q=a+b",
    "x=%C3%A9",
    "x=%C3",
    "x=%FF%FE",
    "bad=%zz%4",
    "%70assword=hunter2",
    "user[password]=x",
    "flag",
    "=",
    "a=b=c",
    "",
    "é=ü",
    f"card={CARD}",
    f"jwt={JWT}",
    'j={"pin": 1, "a": [2]}',
    "j=%7B%22secret%22%3A%22x%22%7D",
    "code=abc&state=xyz",
    "sp ace=v v",
    "semi;colon=1",
    "k=~_.-[]/:,",
    "t=token abcdefghij",
]
queries = st.one_of(
    st.lists(st.sampled_from(QUERY_PIECES), max_size=6).map("&".join),
    texts,
    st.sampled_from(["&", "&&&", "a=" + "b" * 9000, "k=" + "1-" * 9000, "t=" + "x" * 20000]),
)
REFERERS = [
    "",
    "https://x.example/cb?code=abc&state=s#access_token=t",
    "https://user:hunter2@x.example/p",
    "https://user:pa:ss@x.example/p?q=1",
    "//a:b@c",
    "///a:b@c",
    "http://x.example/#frag",
    "/relative?token=abc",
    f"https://x.example/{JWT}",
    "not a url token abcdefghij",
]

JSON_BODIES = st.one_of(ms.json_texts(), ms.broken_json_texts())
FORM_BODIES = st.one_of(st.lists(st.sampled_from(QUERY_PIECES), max_size=6).map("&".join), texts)


@st.composite
def multipart(draw: st.DrawFn) -> tuple[str, bytes, tuple[tuple[bytes, int, bool], ...] | None]:
    """(content type, captured prefix, counted parts) of a multipart body."""
    boundary = draw(st.sampled_from(["XyZ", "----b0und4ry", "a b", "é"]))
    quoted = draw(st.booleans())
    content_type = draw(
        st.sampled_from(["multipart/form-data", "Multipart/Form-Data", " multipart/form-data "])
    ) + (f'; boundary="{boundary}"' if quoted else f"; BOUNDARY={boundary}")
    if draw(st.integers(0, 15)) == 0:
        content_type = "multipart/form-data"  # no boundary
    delimiter = b"--" + boundary.encode("latin-1", "replace")
    names = st.sampled_from(
        ["a", "password", "note", "user[pin]", "x y", "é", 'q\\"uote', "", "csrfmiddlewaretoken"]
    )
    body = b""
    counted = []
    for _ in range(draw(st.integers(0, 4))):
        name = draw(names)
        disposition = draw(
            st.sampled_from(
                [
                    f'form-data; name="{name}"',
                    f"form-data; NAME={name}",
                    f'form-data; name="{name}"; filename="a.png"',
                    f"form-data; name={name}; filename=résumé.pdf",
                    f"form-data; name*=utf-8''{name}",
                    f'form-data; name="{name}"; f\u0131lename="dotless.txt"',
                    f'form-data;name="{name}";filename="a\\"b.txt"',
                    "form-data",
                ]
            )
        )
        head = f"Content-Disposition: {disposition}"
        part_type = draw(
            st.sampled_from(["", "text/plain", "image/png", "application/json", "TEXT/CSV"])
        )
        if part_type:
            head += f"\r\ncontent-type: {part_type}"
        data = draw(
            st.sampled_from(
                [
                    b"plain",
                    b"",
                    CARD.encode(),
                    b'{"token": "x", "n": 1}',
                    b"password=hunter2",
                    b"\xff\xfe\x00bin",
                    b"x" * 9000,
                ]
            )
        )
        complete = draw(st.integers(0, 5)) > 0
        body += delimiter + b"\r\n" + head.encode() + b"\r\n\r\n" + data + b"\r\n"
        counted.append((head.encode(), len(data), complete))
    body += delimiter + b"--\r\n"
    cut = draw(st.one_of(st.just(len(body)), st.integers(0, len(body))))
    return content_type, body[:cut], tuple(counted) if draw(st.booleans()) else None


@st.composite
def bodies(draw: st.DrawFn) -> dict[str, Any]:
    """The request body facts: content type, prefix, sizes and parts."""
    kind = draw(st.sampled_from(["none", "json", "json", "form", "text", "binary", "multipart"]))
    values: dict[str, Any] = {"content_encoding": ""}
    parts = None
    if kind == "none":
        values["content_type"] = draw(st.sampled_from(["", "application/json"]))
        prefix = draw(st.sampled_from([None, b""]))
    elif kind == "json":
        values["content_type"] = draw(
            st.sampled_from(
                [
                    "application/json",
                    "application/vnd.api+json; charset=utf-8",
                    "",
                    "APPLICATION/JSON",
                ]
            )
        )
        text = draw(JSON_BODIES)
        prefix = text.encode("utf-8", "surrogatepass")
    elif kind == "form":
        values["content_type"] = "application/x-www-form-urlencoded"
        prefix = draw(FORM_BODIES).encode("utf-8", "surrogatepass")
    elif kind == "text":
        values["content_type"] = draw(st.sampled_from(["text/plain", "", "application/xml"]))
        prefix = draw(texts).encode("utf-8", "surrogatepass")
    elif kind == "binary":
        values["content_type"] = draw(
            st.sampled_from(["image/png", "", "application/octet-stream"])
        )
        values["content_encoding"] = draw(st.sampled_from(["", "gzip", " Identity ", "br"]))
        prefix = b"\x89PNG\x00\x01" + draw(st.binary(max_size=20))
    else:
        values["content_type"], prefix, parts = draw(multipart())
    if draw(st.integers(0, 9)) == 0:  # invalid UTF-8 anywhere
        raw = bytearray(prefix or b"")
        at = draw(st.integers(0, len(raw)))
        raw[at:at] = draw(st.sampled_from([b"\xff", b"\xc3", b"\xe2\x82", b"\xed\xa0\x80"]))
        prefix = bytes(raw) if prefix is not None else None
    size = len(prefix) if prefix is not None else 0
    values["body_prefix"] = prefix
    values["body_parts"] = parts
    values["body_bytes"] = draw(
        st.sampled_from([None, size, size + 100, max(0, size - 1), 0, 2**40])
    )
    values["content_length"] = values["body_bytes"]
    values["body_omitted"] = draw(st.integers(0, 9)) == 0
    values["body_unread"] = draw(st.sampled_from([None, False, True]))
    return values


ROUTES = [
    (None, None),
    ("login/", ()),
    ("reset/<uidb64>/<token>/", (("uidb64", "MQ"), ("token", "cbv6qz-5e1f"))),
    ("items/<int:pk>/", (("pk", "42"),)),
    ("accounts/confirm-email/<str:key>/", (("key", "fiiqwlcf"),)),
    (
        "^accounts/password/reset/key/(?P<uidb36>[0-9A-Za-z]+)-(?P<key>.+)/$",
        (("uidb36", "1"), ("key", "dj2ggp-7556d5")),
    ),
    ("^api/(?P<token>[^/]+)/x(y)?/$", (("token", "t0k"),)),
    ("a/<token>/b/<token2>/", (("token", "zz"), ("token2", ""))),
    ("keys/<key>/", (("key", "not-in-path"),)),
]


@st.composite
def routed_paths(draw: st.DrawFn) -> dict[str, Any]:
    route, kwargs = draw(st.sampled_from(ROUTES))
    if route is None:
        path = draw(st.one_of(texts.map(lambda t: "/" + t), st.sampled_from(["/", ""])))
    else:
        path = "/" + route.strip("^$")
        for name, value in kwargs:
            path = path.replace(f"(?P<{name}>[0-9A-Za-z]+)", value).replace(
                f"(?P<{name}>.+)", value
            )
            path = path.replace(f"(?P<{name}>[^/]+)", value)
            for converter in ("", "int:", "str:"):
                path = path.replace(f"<{converter}{name}>", value)
        path = path.replace("(y)?", "y")
        if draw(st.booleans()):
            path += draw(texts)
    if draw(st.integers(0, 20)) == 0:
        path = "/p" * 5000  # past the cap
    return {"path": path, "route": route, "route_kwargs": kwargs or None, "view": route and "v"}


HEADER_NAMES = [*ms.HEADER_NAMES, "cookie", "X-Mixed-Case", "x-dup", "X-DUP", "x-long"]
header_values = st.one_of(
    texts,
    st.sampled_from(REFERERS),
    st.sampled_from(["é" * 3000, "a" * 9000 + "token abcdefghij", "/p?token=1"]),
)
headers = st.one_of(
    st.none(),
    st.lists(st.tuples(st.sampled_from(HEADER_NAMES), header_values), max_size=6),
    st.just([(f"x-h{i}", "v") for i in range(105)]),
)
ids = st.one_of(st.sampled_from(["e" * 32, "req-1", "", 'id\n\x00"é']), texts)
optional_ids = st.one_of(st.none(), st.just("4bf92f3577b34da6a3ce929d0e0e4736"), ids)
durations = st.one_of(
    st.sampled_from([0, 62_500, 12_500_000, 1_999_500, 2**62]), st.integers(0, 10**12)
)
created = st.one_of(
    st.sampled_from([1764236572.123456, 1764236572.9999996, 0.0, 1e9 + 0.0005]),
    st.floats(0, 4e9),
)
response_bodies = st.one_of(
    st.none(), st.just(b""), JSON_BODIES.map(lambda t: t.encode("utf-8", "surrogatepass"))
)
# Bound labels as django_reqlog.bind() leaves them: names that are ordinary,
# sensitive or reserved in the Logstash form; values of the four kinds, card
# numbers and secret-shaped text included.
LABEL_NAMES = ["tenant", "order_id", "api_token", "pin", "status", "host", "labels_dropped", "x-1"]
label_values = st.one_of(
    texts,
    st.sampled_from([CARD, JWT, "password=hunter2", '{"secret": "x", "a": 1}', "é" * 1024]),
    st.sampled_from([0, 42, -7, int(CARD.replace(" ", "").replace("-", "")), 2**63 - 1]),
    st.sampled_from([0.25, 1.0, -3.5, 4111111111111111.0, 0.0001]),
    st.booleans(),
)
labels = st.one_of(
    st.none(),
    st.dictionaries(st.sampled_from(LABEL_NAMES), label_values, max_size=6).map(
        lambda bound: tuple(bound.items()) or None
    ),
)


# What the core leaves to the Python formatters (docs/development.md): text
# no Rust string holds, floats and times whose spelling differs between
# serialisers, Unicode case rules. Each generated event has at most one.
SURROGATE = "\udc80"
DECLINED: dict[str, Any] = {
    "user_agent": "agent " + SURROGATE,
    "path": "/p" + SURROGATE,
    "username": SURROGATE,
    "body_prefix": b'{"a": "\\ud800", "password": 1}',
    "sample_rate": 1e-05,
    "started_at": 253402300800.5,
    "content_type": "text/\u00e9",
    "content_encoding": "gzip\u00e9",
    "headers": [("x-\u00e9", "v")],
    "labels": (("ratio", 1e-05),),
    "db_slowest_sql": "SELECT * FROM t WHERE a = 'x'",
    "view_sensitive_fields": ("iban",),
}


@st.composite
def request_facts(draw: st.DrawFn, *, declined: bool = True) -> RequestFacts:
    """One request's facts, every field drawn; with ``declined``, one event in
    ten also gets one value the core declines."""
    values: dict[str, Any] = {
        "event_id": draw(ids),
        "request_id": draw(ids),
        "started_at": draw(created),
        "method": draw(st.sampled_from(["GET", "POST", "x" * 40, "pöst", ""])),
        "scheme": draw(st.sampled_from(["http", "https", ""])),
        "host": draw(st.sampled_from(HOSTS)),
        "query_string": draw(queries),
        "http_version": draw(st.sampled_from(["HTTP/1.1", "HTTP/2", "", "1.0", "HTTP/"])),
        "remote_addr": draw(st.sampled_from(ADDRESSES)),
        "forwarded_for": draw(forwarded),
        "user_agent": draw(texts),
        "referer": draw(st.one_of(st.sampled_from(REFERERS), texts)),
        "remote_port": draw(st.sampled_from(["", "51234", "99999", "abc", "²", "0", "0080"])),
        "trace_id": draw(optional_ids),
        "parent_span_id": draw(optional_ids),
        "span_id": draw(optional_ids),
        "status": draw(st.sampled_from([200, 201, 204, 302, 404, 499, 500, 503, 599])),
        "headers": draw(headers),
        "sensitive_post": draw(ms.also_sensitive),
        "response_content_type": draw(
            st.sampled_from(["", "application/json", "text/html; charset=utf-8", "image/png"])
        ),
        "response_bytes": draw(st.sampled_from([None, 0, 17, 5000])),
        "response_body_prefix": draw(response_bodies),
        "response_truncated": draw(st.booleans()),
        "response_aborted": draw(st.sampled_from([None, False, True])),
        "user_id": draw(st.one_of(st.none(), ids)),
        "username": draw(st.one_of(st.none(), texts, st.just("u" * 300))),
        "duration_ns": draw(durations),
        "slow": draw(st.booleans()),
        "sample_rate": draw(st.sampled_from([1.0, 0.25, 0.1, 0.001, 1])),
        "labels": draw(labels),
        "labels_dropped": draw(st.sampled_from([0, 0, 3])),
        "db_queries": draw(st.sampled_from([None, 0, 17])),
        "db_duration_ns": draw(st.sampled_from([None, 0, 1_234_567])),
        "db_slowest_ns": draw(st.sampled_from([None, 654_321])),
    }
    values.update(draw(bodies()))
    values.update(draw(routed_paths()))
    if declined and draw(st.integers(0, 9)) == 0:
        name = draw(st.sampled_from(sorted(DECLINED)))
        values[name] = DECLINED[name]
    return RequestFacts(**values)


CREATED = 1764236572.123456  # 2025-11-27T09:42:52.123Z


def facts_with(**values: Any) -> RequestFacts:
    """``RequestFacts`` by keyword. The fields without a default in the class
    are a plain HTTPS POST to api.example.com unless ``values`` say otherwise;
    every other field keeps the class's default."""
    required: dict[str, Any] = {
        "event_id": "e" * 32, "request_id": "req-1", "started_at": CREATED, "method": "POST",
        "scheme": "https", "host": "api.example.com", "path": "/", "query_string": "",
        "http_version": "HTTP/1.1", "remote_addr": "203.0.113.5", "forwarded_for": "",
        "user_agent": "curl/8.0", "referer": "", "content_type": "", "content_length": None,
        "content_encoding": "",
    }  # fmt: skip
    return RequestFacts(**{**required, **values})


def example_facts(**overrides: object) -> RequestFacts:
    """A JSON login POST with a password: the facts of the exact-output tests."""
    values: dict[str, object] = {
        "started_at": CREATED - 0.0125,
        "host": "api.example.com:8443",
        "path": "/login/",
        "query_string": "next=%2Fhome&token=abc",
        "content_type": "application/json",
        "content_length": 44,
        "remote_port": "51234",
        "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
        "parent_span_id": "00f067aa0ba902b7",
        "span_id": "53995c3f42cd8ad8",
        "body_prefix": b'{"username": "alice", "password": "hunter2"}',
        "body_bytes": 44,
        "body_unread": False,
        "sample_rate": 0.25,
        "route": "login/",
        "view": "login",
        "status": 200,
        "response_content_type": "application/json",
        "response_bytes": 17,
        "user_id": "7",
        "username": "alice",
        "duration_ns": 12_500_000,
    }
    values.update(overrides)
    return facts_with(**values)


def example_record(
    facts: RequestFacts | None = None, level: int = logging.INFO, **extra: object
) -> logging.LogRecord:
    """A record with a fixed time, process and thread, carrying ``facts`` if given."""
    record = logging.LogRecord(
        "django_reqlog", level, "/app/mw.py", 10, "POST /login/?next=%2Fhome 200", (), None, "emit"
    )
    record.created = CREATED
    record.process = 4242
    record.threadName = "MainThread"
    if facts is not None:
        record.reqlog = facts
        record.event_id = facts.event_id
        record.request_id = facts.request_id
    for key, value in extra.items():
        setattr(record, key, value)
    return record


def request_record(
    facts: RequestFacts, *, created: float = CREATED, **extra: Any
) -> logging.LogRecord:
    """The record the middleware hands to logging for ``facts``: a standard
    LogRecord with the facts, the IDs and the lazy message."""
    record = logging.makeLogRecord(
        {
            "name": "django_reqlog",
            "levelno": logging.INFO,
            "levelname": "INFO",
            "pathname": "/app/django_reqlog/middleware.py",
            "filename": "middleware.py",
            "module": "middleware",
            "lineno": 330,
            "funcName": "_emit",
            "msg": EventMessage(facts),
            "args": (),
            "created": created,
            "process": 4242,
            "threadName": "MainThread",
            **record_extra(facts),
            **extra,
        }
    )
    return record


def json_line_keys(line: str) -> list[str]:
    return list(json.loads(line))


def masking_record(
    body: bytes, content_type: str, query: str, headers: list[tuple[str, str]]
) -> logging.LogRecord:
    """A request record carrying generated body, query and headers (the body
    marked as cut short), as the middleware would hand it to a formatter."""
    made = facts_with(
        started_at=1764236572.0,
        path="/items/4111111111111111/",
        query_string=query,
        user_agent="curl/8.0 token abcdefghij",
        referer="https://x.example/cb?code=abc&state=s#access_token=t",
        content_type=content_type,
        content_length=len(body) + 10,
        status=200,
        headers=headers,
        body_prefix=body,
        body_bytes=len(body) + 10,
        sensitive_post=frozenset({"note"}),
    )
    record = logging.LogRecord("django_reqlog", logging.INFO, "/app/mw.py", 10, "event", (), None)
    record.created = 1764236572.5
    record.reqlog = made
    record.event_id = made.event_id
    record.request_id = made.request_id
    return record
