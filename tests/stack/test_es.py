"""shipper es setup / tail against a stand-in cluster (the real one: test_compose_stack.py)."""

import json
import subprocess
import sys

import pytest

from shipper.bundle import HERE as BUNDLE
from shipper.es import TailQuery, search_body

from .fake_elastic import FakeServer

ROOT = BUNDLE  # configs/ and docker-compose.yml, as shipped in the package


@pytest.fixture
def elastic():
    server = FakeServer()
    yield server
    server.close()


@pytest.fixture
def kibana():
    server = FakeServer(product=None)
    server.answers[("POST", "/api/saved_objects/_import")] = (200, {"success": True, "successCount": 5})
    yield server
    server.close()


def shipper(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "shipper", *args], capture_output=True, text=True, timeout=60, cwd=ROOT)


def test_setup_installs_the_policy_and_templates_of_configs_and_imports_the_kibana_objects(elastic, kibana):
    result = shipper("es", "setup", "--url", elastic.url, "--kibana-url", kibana.url)
    assert result.returncode == 0, result.stderr
    policy = json.loads((ROOT / "configs/elasticsearch/ilm-policy.json").read_text())
    assert elastic.bodies("PUT", "/_ilm/policy/logs-shipper") == [policy]
    assert elastic.bodies("PUT", "/_component_template/logs-shipper-mappings")[0]["template"]["mappings"]
    (template,) = elastic.bodies("PUT", "/_index_template/logs-shipper")
    assert template["index_patterns"] == ["logs-shipper-*"] and template["priority"] == 200
    ((_, path, headers, body),) = [r for r in kibana.requests if r[0] == "POST"]
    assert path == "/api/saved_objects/_import?overwrite=true" and {k.lower() for k in headers} >= {"kbn-xsrf"}
    assert b'"id":"shipper-overview"' in body and "5 saved objects imported" in result.stdout


def test_a_refusal_names_what_was_refused_and_why(elastic):
    elastic.answers[("PUT", "/_component_template/")] = (400, {"error": {"root_cause": [
        {"type": "mapper_parsing_exception", "reason": "unknown type [wildcard]"}], "type": "x"}, "status": 400})
    result = shipper("es", "setup", "--url", elastic.url, "--kibana-url", "none")
    assert result.returncode == 76 and "Traceback" not in result.stderr
    assert result.stderr.strip() == (f"shipper es setup: Elasticsearch at {elastic.url} refused to install the "
                                     "component template: 400 mapper_parsing_exception: unknown type [wildcard]")
    assert "ILM policy logs-shipper: installed" in result.stdout  # what was done is said


def test_kibana_away_is_named_after_the_elasticsearch_part_is_installed(elastic):
    result = shipper("es", "setup", "--url", elastic.url, "--kibana-url", "http://127.0.0.1:9")
    assert result.returncode == 69 and "cannot reach Kibana at http://127.0.0.1:9" in result.stderr
    assert "the Elasticsearch part is installed" in result.stderr


def test_an_unreachable_cluster_is_one_line_pointing_at_stack_up():
    result = shipper("es", "tail", "--url", "http://127.0.0.1:9")
    assert result.returncode == 69 and len(result.stderr.strip().splitlines()) == 1
    assert "cannot reach Elasticsearch at http://127.0.0.1:9" in result.stderr and "shipper stack up" in result.stderr


def test_something_that_is_not_elasticsearch_is_named():
    other = FakeServer(product=None)
    try:
        result = shipper("es", "tail", "--url", other.url)
    finally:
        other.close()
    assert result.returncode == 69 and "answers, but it is not Elasticsearch" in result.stderr


def test_tail_prints_the_newest_records_oldest_first_with_the_filters_sent(elastic):
    hits = [{"_source": {"@timestamp": f"2026-11-28T00:00:0{n}Z", "log.level": "error", "message": f"m{n}",
                         "service": {"name": "shop"}}, "sort": [n, f"id{n}"]} for n in (3, 2, 1)]
    elastic.answers[("POST", "/logs-shipper-*/_search")] = (200, {"hits": {"hits": hits}})
    result = shipper("es", "tail", "--url", elastic.url, "--service", "shop", "--level", "ERROR", "-q", "db*", "-n", "3")
    assert result.returncode == 0, result.stderr
    assert [line.split()[-1] for line in result.stdout.splitlines()] == ["m1", "m2", "m3"]
    (body,) = elastic.bodies("POST", "/logs-shipper-*/_search")
    assert body["query"]["bool"]["filter"] == [{"term": {"service.name": "shop"}}, {"term": {"log.level": "error"}},
                                               {"query_string": {"query": "db*", "default_field": "message"}}]
    assert body["size"] == 3 and body["sort"][0] == {"@timestamp": {"order": "desc"}}


def test_following_asks_for_what_came_after_the_last_record():
    body = search_body(TailQuery(), after=[1700000000000, "id9"])
    assert body["search_after"] == [1700000000000, "id9"] and body["sort"][0] == {"@timestamp": {"order": "asc"}}
