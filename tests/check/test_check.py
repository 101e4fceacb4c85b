"""shipper check: the repository's configs pass; a broken copy of each file fails precisely."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from shipper import promtool
from shipper.bundle import HERE as BUNDLE
from shipper.check import Checker, braces_problems, fluentd_problems, report

ROOT = BUNDLE  # configs/ and docker-compose.yml, as shipped in the package
needs = {tool: pytest.mark.skipif(shutil.which(tool) is None, reason=f"{tool} is not installed here")
         for tool in ("fluentd", "logrotate", "docker-compose", "promtool", "node")}


@pytest.fixture
def copy(tmp_path):
    shutil.copytree(ROOT / "configs", tmp_path / "configs")
    shutil.copy(ROOT / "docker-compose.yml", tmp_path)
    return tmp_path


def break_file(root: Path, relative: str, old: str, new: str) -> None:
    path = root / relative
    text = path.read_text()
    assert old in text, f"{old!r} not in {relative}"
    path.write_text(text.replace(old, new, 1))


def failures(root: Path, tools: bool = True) -> list[str]:
    """The FAIL lines; without ``tools``, shipper's own parsers only (the same on every machine)."""
    checker = Checker(root) if tools else Checker(root, which=lambda name: None)
    lines, ok = report(checker.check())
    return [line for line in lines if line.startswith("FAIL")]


def test_every_config_in_the_repository_passes():
    lines, ok = report(Checker(ROOT).check())
    assert ok, "\n".join(lines)
    checked = {line.split()[1] for line in lines}
    assert {"docker-compose.yml", "configs/fluentd/fluent.conf", "configs/kibana/saved-objects.ndjson",
            "configs/logrotate/gunicorn", "configs/logstash/pipeline/shipper.conf",
            "configs/elasticsearch/index-template.json", "configs/circus/circus.ini",
            "configs/prometheus/prometheus.yml", "configs/prometheus/alerts.yml", "configs/prometheus/alerts.test.yml",
            "configs/statsd/config.js", "configs/statsd/storage-schemas.conf", "configs/statsd/storage-aggregation.conf",
            "configs/munin/shipper"} <= checked


@needs["logrotate"]
def test_logrotate_files_are_checked_by_logrotate_itself():
    lines, _ = report(Checker(ROOT).check())
    assert any(line.startswith("ok    configs/logrotate/gunicorn") and "(logrotate -d)" in line for line in lines)


@needs["docker-compose"]
def test_the_compose_file_is_checked_by_docker_compose():
    lines, _ = report(Checker(ROOT).check())
    assert any(line.startswith("ok    docker-compose.yml") and "config)" in line for line in lines)


BROKEN = [
    ("configs/fluentd/elasticsearch.conf", "</buffer>", "", "</match> closes <buffer> opened on line"),
    ("configs/fluentd/fluent.conf", "@include pipeline.conf", "@include pipeline2.conf",
     "@include pipeline2.conf: no such file"),
    # a bad value where every Python's json names the same line (3.13 moved its trailing-comma report)
    ("configs/elasticsearch/ilm-policy.json", '"delete": {}', '"delete": nul', "line 15: invalid JSON"),
    ("configs/elasticsearch/index-template.json", '"priority": 200', '"priority": 100',
     "overlap the built-in logs-*-* template: give it a priority above 100"),
    ("configs/elasticsearch/ilm-policy.json", '"delete": {}', '"freeze": {}', "the ILM policy has no delete phase"),
    ("configs/kibana/saved-objects.ndjson", '"id":"shipper-errors"}]', '"id":"shipper-gone"}]',
     "line 5: reference to search 'shipper-gone', which is not in the file"),
    ("configs/kibana/saved-objects.ndjson", '"visState":"{', '"visState":"{{', "line 3: visState is not valid JSON"),
    ("configs/kibana/kibana.yml", 'server.host: "0.0.0.0"', 'server.host: "0.0.0.0', "invalid YAML"),
    ("configs/logstash/pipeline/shipper.conf", "  mutate {", "  mutate {{", "'{' is never closed"),
    ("configs/circus/circus.ini", "cmd = logwrap", "cmdx = logwrap", "[watcher:web] has no command"),
    ("configs/supervisor/shipper.conf", "[program:web]", "program:web]", "line 2: cannot parse 'program:web]'"),
    ("configs/fluentd/Dockerfile", "FROM fluent", "FRM fluent", "must start with FROM"),
    ("configs/prometheus/prometheus.yml", "  - alerts.yml", "  - alert.yml", "line 9: rule_files: alert.yml matches no file"),
    ("configs/prometheus/alerts.yml", "groups:", "groups", "invalid YAML"),
    ("configs/statsd/storage-schemas.conf", "retentions = 10s:6h,1m:7d", "retentions = 10s:6h,15s:7d",
     "[statsd] retentions '10s:6h,15s:7d,10m:1y': 15s per point is not a multiple of 10s"),
    ("configs/statsd/storage-aggregation.conf", "aggregationMethod = sum", "aggregationMethod = total",
     "[counter_counts] aggregationMethod 'total' is not one of average, sum"),
    ("configs/munin/shipper", "env.url http", "env url=http", "line 7: unknown setting 'env': munin-node takes env.NAME"),
]


@pytest.mark.parametrize(("relative", "old", "new", "expected"), BROKEN, ids=[case[0] + ":" + case[3][:30] for case in BROKEN])
def test_a_broken_copy_fails_with_the_file_and_what_is_wrong(copy, relative, old, new, expected):
    break_file(copy, relative, old, new)
    (failure,) = failures(copy, tools=False)
    assert failure.startswith(f"FAIL  {relative}: ") and expected in failure


@needs["logrotate"]
def test_a_logrotate_typo_is_reported_by_logrotate_with_its_line(copy):
    break_file(copy, "configs/logrotate/gunicorn", "    rotate 14", "    rotat 14")
    (failure,) = failures(copy)
    assert failure.startswith("FAIL  configs/logrotate/gunicorn: line 7: unknown option 'rotat'")


@needs["docker-compose"]
def test_a_compose_mistake_is_reported_by_docker_compose(copy):
    break_file(copy, "docker-compose.yml", "    healthcheck:", "    healthchek:")
    (failure,) = failures(copy)
    assert failure.startswith("FAIL  docker-compose.yml: ") and "healthchek" in failure


@needs["fluentd"]
def test_a_fluentd_mistake_is_reported_by_fluentd_dry_run(copy):
    break_file(copy, "configs/fluentd/elasticsearch.conf", "@type elasticsearch\n", "@type elasticsearchx\n")
    failed = failures(copy)
    assert failed and all("elasticsearchx" in line and "(fluentd --dry-run)" in line for line in failed)


def test_fluentd_sections_must_close_in_order():
    assert [str(p) for p in fluentd_problems("<match **>\n  <buffer>\n</match>\n")] == [
        "line 3: </match> closes <buffer> opened on line 2"]


def test_braces_inside_strings_regexes_and_comments_do_not_count():
    assert braces_problems('if [a] =~ /^\\{/ {\n  x => "}{" # {\n}\n') == []


def test_the_command_exits_65_and_names_the_file(copy):
    break_file(copy, "configs/logstash/pipeline/shipper.conf", "  mutate {", "  mutate {{")
    result = subprocess.run([sys.executable, "-m", "shipper", "check", "--root", str(copy)], capture_output=True, text=True)
    assert result.returncode == 65 and "FAIL  configs/logstash/pipeline/shipper.conf" in result.stdout
    assert result.stderr.strip() == "shipper check: some files have problems (above)"


def test_a_directory_without_configs_is_a_clear_error(tmp_path):
    result = subprocess.run([sys.executable, "-m", "shipper", "check", "--root", str(tmp_path)], capture_output=True, text=True)
    assert result.returncode == 64 and "no configs/ directory under" in result.stderr and "Traceback" not in result.stderr


def fluentd_lacking_the_elasticsearch_plugin(command, cwd):
    if command[-1] == "aggregator.conf":
        return 1, "[error]: config error error=\"Unknown output plugin 'elasticsearch'. Run 'gem search'\""
    return 0, ""


def test_a_plugin_the_dockerfile_installs_but_the_local_fluentd_lacks_is_not_a_failure(copy):
    checker = Checker(copy, which=lambda name: f"/usr/bin/{name}" if name == "fluentd" else None,
                      run=fluentd_lacking_the_elasticsearch_plugin)
    (finding,) = [f for f in checker.check() if f.path == "configs/fluentd/aggregator.conf"]
    assert finding.ok and "needs fluent-plugin-elasticsearch, which the Dockerfile installs" in finding.how


def test_a_plugin_nobody_installs_is_a_failure(copy):
    break_file(copy, "configs/fluentd/Dockerfile", "gem install fluent-plugin-elasticsearch", "gem install fluent-plugin-other")
    checker = Checker(copy, which=lambda name: f"/usr/bin/{name}" if name == "fluentd" else None,
                      run=fluentd_lacking_the_elasticsearch_plugin)
    (finding,) = [f for f in checker.check() if f.path == "configs/fluentd/aggregator.conf"]
    assert not finding.ok and "Unknown output plugin 'elasticsearch'" in str(finding.problems[0])


@needs["promtool"]
def test_the_prometheus_files_are_checked_by_promtool_each_with_its_command():
    lines, _ = report(Checker(ROOT).check())
    assert {"ok    configs/prometheus/prometheus.yml  (promtool check config)",
            "ok    configs/prometheus/alerts.yml  (promtool check rules)",
            "ok    configs/prometheus/alerts.test.yml  (promtool test rules)"} <= set(lines)


def test_without_promtool_the_prometheus_files_are_read_as_yaml():
    lines, _ = report(Checker(ROOT, which=lambda name: None).check())
    assert "ok    configs/prometheus/alerts.yml  (YAML parser; promtool not installed)" in lines


@needs["promtool"]
def test_a_bad_promql_expression_is_reported_by_promtool_with_its_line(copy):
    break_file(copy, "configs/prometheus/alerts.yml", "_total[5m])", "_total[5m)")
    failed = failures(copy)
    assert ('FAIL  configs/prometheus/alerts.yml: line 8: group "shipper", rule 1, "LogwrapDroppingRecords": '
            'could not parse expression: 1:42: parse error: unexpected ")" in subquery or range, expected ":" or "]"'
            "  (promtool check rules)") in failed


@needs["promtool"]
def test_a_rule_that_fires_where_its_unit_test_says_it_must_not_fails_the_test_file(copy):
    break_file(copy, "configs/prometheus/alerts.yml", "> 0.8", "> 0.79")
    failed = failures(copy)
    assert failed[0] == ('FAIL  configs/prometheus/alerts.test.yml: line 86: LogwrapBufferNearlyFull at 5m: fired for '
                         '{instance="web2:9880", job="logwrap", severity="warning"}, which the test does not expect'
                         "  (promtool test rules)")


@needs["promtool"]
def test_a_scrape_config_mistake_is_reported_by_promtool(copy):
    break_file(copy, "configs/prometheus/prometheus.yml", "scrape_interval: 15s", "scrape_interval: 15x")
    (failure,) = failures(copy)
    assert failure == 'FAIL  configs/prometheus/prometheus.yml: not a valid duration string: "15x"  (promtool check config)'


def test_a_promtool_test_whose_alerts_differ_only_in_annotations_says_so():
    output = """Unit Testing:  alerts.test.yml
  FAILED:
    name: drops,
    alertname: LogwrapDroppingRecords, time: 4m,
        exp:[
            0:
              Labels:{alertname="LogwrapDroppingRecords", instance="web1:9880"}
              Annotations:{summary="dropping"}
            ],
        got:[
            0:
              Labels:{alertname="LogwrapDroppingRecords", instance="web1:9880"}
              Annotations:{summary="dropped"}
            ]
"""
    tests = "tests:\n  - name: drops\n    alert_rule_test:\n      - eval_time: 4m\n"
    assert promtool.problems(output, "alerts.test.yml", tests) == [
        (4, "LogwrapDroppingRecords at 4m: the annotations differ from exp_annotations")]


@needs["node"]
def test_the_statsd_config_is_checked_by_node_as_statsd_reads_it():
    lines, _ = report(Checker(ROOT).check())
    assert "ok    configs/statsd/config.js  (node --check)" in lines


@needs["node"]
def test_a_statsd_config_syntax_error_is_reported_by_node_with_its_line(copy):
    break_file(copy, "configs/statsd/config.js", "port: 8125,", "port: 8125")
    (failure,) = failures(copy)
    assert failure == "FAIL  configs/statsd/config.js: line 9: SyntaxError: Unexpected identifier 'address'  (node --check)"


def test_without_node_the_statsd_config_is_reported_as_not_checked():
    lines, _ = report(Checker(ROOT, which=lambda name: None).check())
    assert "ok    configs/statsd/config.js  (not checked: node not installed)" in lines
