"""The configs and the compose stack ship inside the package: shipper init, and the bundled defaults."""

import subprocess
import sys

from shipper.bundle import HERE, bundled_files, demo_source

from ..processes import SHIPPER


def shipper(*args: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([*SHIPPER, *args], capture_output=True, text=True, timeout=120, cwd=cwd)


def test_init_writes_every_config_and_the_compose_file_and_names_the_next_command(tmp_path):
    done = shipper("init", "proj", cwd=tmp_path)
    written = sorted(path.relative_to(tmp_path / "proj") for path in (tmp_path / "proj").rglob("*") if path.is_file())
    assert done.returncode == 0 and written == sorted(bundled_files())
    assert "wrote proj/configs/fluentd/fluent.conf" in done.stdout
    assert done.stdout.splitlines()[-1] == "next: edit them, then `shipper check --root proj`"
    assert (tmp_path / "proj/docker-compose.yml").read_bytes() == (HERE / "docker-compose.yml").read_bytes()


def test_init_never_overwrites_without_force(tmp_path):
    (tmp_path / "configs/fluentd").mkdir(parents=True)
    (tmp_path / "configs/fluentd/fluent.conf").write_text("# mine\n")
    done = shipper("init", cwd=tmp_path)
    assert done.returncode == 64 and "1 of the files exist already (configs/fluentd/fluent.conf)" in done.stderr
    assert "--force" in done.stderr and not (tmp_path / "docker-compose.yml").exists()  # nothing was written
    assert (tmp_path / "configs/fluentd/fluent.conf").read_text() == "# mine\n"


def test_init_with_force_overwrites(tmp_path):
    (tmp_path / "configs/fluentd").mkdir(parents=True)
    (tmp_path / "configs/fluentd/fluent.conf").write_text("# mine\n")
    assert shipper("init", "--force", cwd=tmp_path).returncode == 0
    assert (tmp_path / "configs/fluentd/fluent.conf").read_text() == (HERE / "configs/fluentd/fluent.conf").read_text()


def test_a_file_where_init_needs_a_folder_is_refused_before_anything_is_written(tmp_path):
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs/fluentd").write_text("not a folder\n")
    done = shipper("init", "--force", cwd=tmp_path)
    assert done.returncode == 64 and "configs/fluentd should be a folder but is a file" in done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "docker-compose.yml").exists()


def test_a_folder_that_cannot_be_written_is_one_line_naming_it(tmp_path):
    done = shipper("init", "/proc/no-such-folder", cwd=tmp_path)
    assert done.returncode == 74 and done.stderr.startswith("shipper init: cannot write /proc/no-such-folder/")
    assert "Traceback" not in done.stderr and "shipper init --force" in done.stderr


def test_check_validates_the_users_copies_made_by_init(tmp_path):
    shipper("init", "proj", cwd=tmp_path)
    (tmp_path / "proj/configs/elasticsearch/ilm-policy.json").write_text("{")
    done = shipper("check", "--root", "proj", cwd=tmp_path)
    assert done.returncode == 65 and "FAIL  configs/elasticsearch/ilm-policy.json" in done.stdout


def test_check_uses_the_bundled_configs_where_the_directory_has_none(tmp_path):
    done = shipper("check", cwd=tmp_path)
    assert done.returncode == 0 and "ok    configs/fluentd/fluent.conf" in done.stdout
    assert done.stderr.startswith(f"using the bundled configs in {HERE}")


def test_the_demo_profile_installs_this_checkout_or_shipper_source(monkeypatch, tmp_path):
    monkeypatch.delenv("SHIPPER_SOURCE", raising=False)
    assert demo_source() == HERE.parents[1] and (demo_source() / "pyproject.toml").exists()
    monkeypatch.setenv("SHIPPER_SOURCE", str(tmp_path))
    assert demo_source() == tmp_path


def test_both_commands_report_the_package_version():
    from importlib.metadata import version

    for command in (SHIPPER, [sys.executable, "-m", "shipper.logwrap"]):
        done = subprocess.run([*command, "--version"], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0 and done.stdout.strip().endswith(f"version {version('shipper')}")
