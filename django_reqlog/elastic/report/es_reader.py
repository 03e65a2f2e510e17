"""Elasticsearch as a source of documents: one consistent snapshot, page by page."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import sys
from collections.abc import Iterator
from typing import IO, Any

from django_reqlog.elastic.errors import ElasticError
from django_reqlog.elastic.report.progress import Progress

KEEP_ALIVE = "2m"


def iter_elasticsearch(
    client: Any,
    index: str,
    since: dt.datetime | None,
    *,
    page_size: int = 1000,
    progress: bool = False,
    stream: IO[str] | None = None,
    prefer_pit: bool = True,
) -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield ``(raw_json, source)`` for every document in ``index`` since ``since``.

    Uses a point in time with ``search_after`` so a long read sees one
    consistent snapshot; clusters without the point-in-time API get a scroll.
    """
    from elasticsearch import ApiError, NotFoundError, TransportError

    query: dict[str, Any] = (
        {"range": {"@timestamp": {"gte": since.isoformat()}}}
        if since is not None
        else {"match_all": {}}
    )
    meter = Progress(stream or sys.stderr, f"reading {index}", None) if progress else None
    count = 0
    try:
        with contextlib.suppress(ApiError):
            # Make the latest shipped events searchable; a reader without the
            # privilege still gets everything older than the refresh interval.
            client.indices.refresh(index=index, ignore_unavailable=True)
        pages = _pit_pages if prefer_pit else _scroll_pages
        for source in pages(client, index, query, page_size):
            count += 1
            if meter is not None and count % page_size == 0:
                meter.update(count, count)
            yield json.dumps(source, ensure_ascii=False), source
    except NotFoundError as exc:
        raise _not_found(index, exc) from None
    except (ApiError, TransportError) as exc:
        raise ElasticError(f"Elasticsearch request failed: {_describe(exc)}") from None
    finally:
        if meter is not None:
            meter.finish(count, count)


def _pit_pages(
    client: Any, index: str, query: dict[str, Any], page_size: int
) -> Iterator[dict[str, Any]]:
    pit = _open_point_in_time(client, index)
    if pit is None:
        yield from _scroll_pages(client, index, query, page_size)
        return
    search_after: list[Any] | None = None
    try:
        while True:
            body: dict[str, Any] = {
                "size": page_size,
                "query": query,
                "pit": {"id": pit, "keep_alive": KEEP_ALIVE},
                "sort": [{"@timestamp": "asc"}, {"_shard_doc": "asc"}],
            }
            if search_after is not None:
                body["search_after"] = search_after
            response = client.search(**body)
            pit = response.get("pit_id", pit)
            hits = response["hits"]["hits"]
            if not hits:
                return
            for hit in hits:
                yield hit.get("_source") or {}
            search_after = hits[-1]["sort"]
    finally:
        # Closing is a courtesy: an abandoned PIT expires on its own after keep_alive.
        with contextlib.suppress(Exception):
            client.close_point_in_time(id=pit)


def _open_point_in_time(client: Any, index: str) -> str | None:
    """A point-in-time id, or ``None`` where the cluster has no PIT API."""
    from elasticsearch import ApiError, NotFoundError

    try:
        pit: str = client.open_point_in_time(index=index, keep_alive=KEEP_ALIVE)["id"]
    except NotFoundError as exc:
        if _index_not_found(exc):
            raise
        return None
    except ApiError:
        return None
    return pit


def _scroll_pages(
    client: Any, index: str, query: dict[str, Any], page_size: int
) -> Iterator[dict[str, Any]]:
    response = client.search(
        index=index, query=query, size=page_size, scroll=KEEP_ALIVE, sort=["_doc"]
    )
    scroll_id = response.get("_scroll_id")
    try:
        while True:
            hits = response["hits"]["hits"]
            if not hits:
                return
            for hit in hits:
                yield hit.get("_source") or {}
            response = client.scroll(scroll_id=scroll_id, scroll=KEEP_ALIVE)
            scroll_id = response.get("_scroll_id", scroll_id)
    finally:
        if scroll_id:
            with contextlib.suppress(Exception):
                client.clear_scroll(scroll_id=scroll_id)


def _index_not_found(exc: BaseException) -> bool:
    return "index_not_found" in str(getattr(exc, "body", "")) + str(exc)


def _not_found(index: str, exc: BaseException) -> ElasticError:
    if not _index_not_found(exc):
        return ElasticError(f"Elasticsearch request failed: {_describe(exc)}")
    return ElasticError(
        f"index or data stream {index!r} not found: nothing has been shipped yet, "
        "or run `manage.py reqlog_setup` first"
    )


def _describe(exc: BaseException) -> str:
    status = getattr(getattr(exc, "meta", None), "status", None)
    message = getattr(exc, "message", None) or str(exc)
    return f"HTTP {status}: {message}" if status else str(message)
