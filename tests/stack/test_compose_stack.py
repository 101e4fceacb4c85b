"""The whole pipeline for real: docker-compose.yml up (testcontainers), logwrap into Fluentd, records
found in Elasticsearch. Skipped with the reason when no Docker engine is reachable."""

import json
import os
import shutil
import subprocess
import time
import uuid

import pytest

from shipper.bundle import HERE as BUNDLE
from shipper.render import field

from ..processes import LOGWRAP, SHIPPER, python

ROOT = BUNDLE  # configs/ and docker-compose.yml, as shipped in the package
ELASTICSEARCH = "http://localhost:9200"


def engine_problem() -> str | None:
    if shutil.which("docker") is None:
        return "the docker command is not installed"
    probe = subprocess.run(["docker", "info", "--format", "{{.ServerVersion}}"], capture_output=True, text=True)
    if probe.returncode != 0:
        return "no Docker engine is reachable: " + (probe.stderr.strip().splitlines() or ["docker info failed"])[0]
    if subprocess.run(["docker", "compose", "version"], capture_output=True).returncode != 0:
        return "testcontainers needs the `docker compose` plugin"
    return None


pytestmark = pytest.mark.skipif(engine_problem() is not None, reason=str(engine_problem()))


@pytest.fixture(scope="module")
def stack():
    from testcontainers.compose import DockerCompose

    from shipper.es import Cluster, setup

    compose = DockerCompose(ROOT, compose_file_name="docker-compose.yml", build=True, wait=True)
    compose.start()
    try:
        setup(Cluster(ELASTICSEARCH), ROOT / "configs", "http://localhost:5601", lambda line: None)
        yield compose
    finally:
        compose.stop(down=True)


@pytest.fixture
def es(stack):
    from elasticsearch import Elasticsearch

    client = Elasticsearch(ELASTICSEARCH, request_timeout=30)
    yield client
    client.close()


def records_of(es, service: str, count: int, timeout: float = 90) -> list[dict]:
    """The service's records once ``count`` are searchable (Fluentd flushes every 2 s)."""
    deadline = time.monotonic() + timeout
    while True:
        es.indices.refresh(index="logs-shipper-*", ignore_unavailable=True, allow_no_indices=True)
        found = es.search(index="logs-shipper-*", size=1000, ignore_unavailable=True, allow_no_indices=True,
                          query={"term": {"service.name": service}})["hits"]["hits"]
        if len(found) >= count or time.monotonic() > deadline:
            return [hit["_source"] | {"_id": hit["_id"]} for hit in found]
        time.sleep(1)  # polling the cluster: it offers no event to wait on


APP = """
import logging, shipper.autolog
log = logging.getLogger("shop")
for n in range(5):
    log.info("order %d", n, extra={"order.id": n})
try:
    raise TimeoutError("gateway")
except TimeoutError:
    log.exception("checkout failed")
"""


def test_logwrap_records_reach_elasticsearch_with_their_fields(es):
    service = f"shop-{uuid.uuid4().hex[:8]}"
    done = subprocess.run([*LOGWRAP, "--to", "tcp://127.0.0.1:24224", "--tag", service, "--", *python(APP)],
                          capture_output=True, timeout=60, env={**os.environ, "SERVICE_NAME": service})
    assert done.returncode == 0, done.stderr
    records = records_of(es, service, 6)
    assert sorted(r["message"] for r in records) == ["checkout failed"] + [f"order {n}" for n in range(5)]
    failed = next(r for r in records if r["message"] == "checkout failed")
    assert failed["error"]["type"] == "TimeoutError" and "gateway" in failed["error"]["stack_trace"]
    # logwrap's id is the document id; Fluentd added the host it passed through
    assert all(r["_id"] == r["event.id"] and r["stream"] == "stdout" and field(r, "host.name") for r in records)


def test_a_resent_chunk_is_stored_once(es):
    service = f"resend-{uuid.uuid4().hex[:8]}"
    lines = "".join(json.dumps({"message": f"r{n}", "event.id": f"{service}-{n}", "service": {"name": service},
                                "@timestamp": "2026-11-28T00:00:00.000000Z"}) + "\n" for n in range(10))
    for _ in range(2):  # the same records twice, as a resend after a lost ack delivers them
        sent = subprocess.run([*SHIPPER, "send", "--to", "tcp://127.0.0.1:24224", "--tag", service],
                              input=lines.encode(), capture_output=True, timeout=60)
        assert sent.returncode == 0, sent.stderr
    records = records_of(es, service, 10)
    time.sleep(5)  # give any duplicate the time to arrive too: its absence cannot be awaited
    assert len(records_of(es, service, 20, timeout=0)) == 10 and len(records) == 10


def test_es_tail_prints_the_services_records(es):
    service = f"tail-{uuid.uuid4().hex[:8]}"
    line = json.dumps({"message": "hello from tail", "service": {"name": service}, "log.level": "warning",
                       "@timestamp": "2026-11-28T00:00:00.000000Z", "event.id": f"{service}-1"})
    subprocess.run([*SHIPPER, "send", "--to", "tcp://127.0.0.1:24224"], input=line.encode(), check=True, timeout=60)
    records_of(es, service, 1)
    shown = subprocess.run([*SHIPPER, "es", "tail", "--service", service], capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0 and "WARNING" in shown.stdout and "hello from tail" in shown.stdout


def test_es_setup_can_run_again(stack):
    again = subprocess.run([*SHIPPER, "es", "setup", "--configs", str(ROOT / "configs")], capture_output=True,
                           text=True, timeout=120, cwd=ROOT)
    assert again.returncode == 0, again.stderr
    assert "index template logs-shipper (logs-shipper-*): installed" in again.stdout
