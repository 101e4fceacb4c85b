"""``shipper es setup`` and ``shipper es tail``: the Elasticsearch side of the pipeline.

``setup`` installs configs/elasticsearch (ILM policy, component and index template) with the
elasticsearch client and imports configs/kibana/saved-objects.ndjson through Kibana's API.
``tail`` prints recent records of the logs-shipper-* data streams, like ``kubectl logs``.
Every failure of the cluster becomes one line saying what was refused or unreachable.
The query (``search_body``) is pure; ``shipper.render`` turns the records into lines.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import ConfigError, ConnectError, RemoteProtocolError

INDEX = "logs-shipper-*"
POLICY, COMPONENT, TEMPLATE = "logs-shipper", "logs-shipper-mappings", "logs-shipper"


class RefusedError(RemoteProtocolError):
    """Elasticsearch or Kibana answered, with an error."""


@dataclass(frozen=True)
class TailQuery:
    service: str | None = None
    level: str | None = None
    query: str | None = None
    lines: int = 20


def search_body(query: TailQuery, after: list[Any] | None = None) -> dict[str, Any]:
    """Newest first for the first page; with ``after``, everything since, oldest first."""
    filters: list[dict[str, Any]] = []
    if query.service:
        filters.append({"term": {"service.name": query.service}})
    if query.level:
        filters.append({"term": {"log.level": query.level.lower()}})
    if query.query:
        filters.append({"query_string": {"query": query.query, "default_field": "message"}})
    order = "asc" if after else "desc"
    body: dict[str, Any] = {
        "query": {"bool": {"filter": filters}},
        "sort": [{"@timestamp": {"order": order}},
                 {"event.id": {"order": order, "unmapped_type": "keyword"}}],  # ties in a microsecond
        "size": 1000 if after else query.lines,
    }
    if after:
        body["search_after"] = after
    return body


def _client(url: str) -> Any:
    from elasticsearch import Elasticsearch  # the client is only needed by these two commands

    return Elasticsearch(url, request_timeout=15, retry_on_timeout=False, max_retries=0)


class Cluster:
    def __init__(self, url: str, client: Any = None) -> None:
        self.url = url
        self._es = client if client is not None else _client(url)

    def call(self, what: str, action: Callable[[Any], Any]) -> Any:
        import elasticsearch

        try:
            return action(self._es)
        except elasticsearch.UnsupportedProductError:  # an ApiError too: caught first
            raise ConnectError(f"{self.url} answers, but it is not Elasticsearch") from None
        except elasticsearch.ApiError as exc:
            raise RefusedError(f"Elasticsearch at {self.url} refused to {what}: {_reason(exc)}") from None
        except elasticsearch.TransportError as exc:
            raise ConnectError(f"cannot reach Elasticsearch at {self.url} ({exc.message}); "
                               "start it with `shipper stack up` or pass --url") from None


def _reason(exc: Any) -> str:
    body = exc.body if isinstance(exc.body, Mapping) else {}
    error = body.get("error", {})
    if isinstance(error, Mapping):
        cause = (error.get("root_cause") or [error])[0]
        return f"{exc.meta.status} {cause.get('type', '')}: {cause.get('reason', '')}".strip()
    return f"{exc.meta.status} {error or exc.message}"


def setup(cluster: Cluster, configs: Path, kibana_url: str | None, say: Callable[[str], None]) -> None:
    """Install the ILM policy, the component and index templates, then the Kibana objects."""
    def load(name: str) -> dict[str, Any]:
        path = configs / "elasticsearch" / name
        try:
            return json.loads(path.read_text())  # type: ignore[no-any-return]
        except (OSError, json.JSONDecodeError) as exc:
            raise ConfigError(f"cannot read {path}: {exc}; run `shipper check`") from None

    policy, component = load("ilm-policy.json"), load("component-template.json")
    template = load("index-template.json")
    cluster.call("install the ILM policy",
                 lambda es: es.ilm.put_lifecycle(name=POLICY, policy=policy["policy"]))
    say(f"ILM policy {POLICY}: installed")
    cluster.call("install the component template",
                 lambda es: es.cluster.put_component_template(name=COMPONENT, template=component["template"]))
    say(f"component template {COMPONENT}: installed")
    cluster.call("install the index template",
                 lambda es: es.indices.put_index_template(name=TEMPLATE, **template))
    say(f"index template {TEMPLATE} ({', '.join(template['index_patterns'])}): installed")
    if kibana_url:
        count = import_saved_objects(kibana_url, configs / "kibana" / "saved-objects.ndjson")
        say(f"Kibana at {kibana_url}: {count} saved objects imported (data view, error search, dashboard)")


def import_saved_objects(kibana_url: str, path: Path) -> int:
    boundary = uuid.uuid4().hex
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{path.name}\"\r\n"
            "Content-Type: application/ndjson\r\n\r\n")
    body = head.encode() + path.read_bytes() + f"\r\n--{boundary}--\r\n".encode()
    headers = {"kbn-xsrf": "shipper", "Content-Type": f"multipart/form-data; boundary={boundary}"}
    request = urllib.request.Request(f"{kibana_url.rstrip('/')}/api/saved_objects/_import?overwrite=true",
                                     data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            answer = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        raise RefusedError(f"Kibana at {kibana_url} refused the saved objects: {exc.code} "
                           f"{exc.read().decode(errors='replace')[:300]}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ConnectError(f"cannot reach Kibana at {kibana_url} ({reason}); the Elasticsearch part is "
                           "installed; start Kibana (`shipper stack up`) or pass --kibana-url none") from None
    if not answer.get("success"):
        errors = "; ".join(f"{e.get('type')} {e.get('id')}: {e.get('error', {}).get('type')}"
                           for e in answer.get("errors", []))
        raise RefusedError(f"Kibana at {kibana_url} did not import every saved object: {errors}")
    return int(answer.get("successCount", 0))


def tail(cluster: Cluster, query: TailQuery, follow: bool, poll: float = 1.0) -> Iterator[dict[str, Any]]:
    """The last ``query.lines`` records, oldest first; with ``follow``, then every new one."""
    hits = _search(cluster, search_body(query))
    hits.reverse()
    yield from (hit["_source"] for hit in hits)
    after = hits[-1]["sort"] if hits else None
    while follow:
        time.sleep(poll)  # Elasticsearch has no push: polling is how its records are followed
        if after is None:  # nothing yet: whatever arrives now is new
            new = _search(cluster, search_body(query))
            new.reverse()
        else:
            new = _search(cluster, search_body(query, after))
        yield from (hit["_source"] for hit in new)
        if new:
            after = new[-1]["sort"]


def _search(cluster: Cluster, body: dict[str, Any]) -> list[dict[str, Any]]:
    def run(es: Any) -> Any:
        return es.search(index=INDEX, ignore_unavailable=True, allow_no_indices=True, **body)

    return list(cluster.call("search the records", run)["hits"]["hits"])
