"""The ready-made configs and the local stack, shipped inside the package.

``configs/`` and ``docker-compose.yml`` beside this file are what ``shipper init`` copies into a
project, and what ``shipper check``, ``shipper stack`` and ``shipper es setup`` use when no
``--root`` is given and the current directory has none. Docker builds the Fluentd image from
``configs/fluentd`` where it lies, so the stack runs from the installed package as it is.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from ..errors import ConfigError, OutputError

HERE = Path(__file__).resolve().parent
COMPOSE_FILE = "docker-compose.yml"


def project_root(root: str | None, needs: str) -> Path:
    """``root`` when given; else the current directory if it holds ``needs``; else the bundle."""
    if root is not None:
        return Path(root)
    here = Path.cwd()
    return here if (here / needs).exists() else HERE


def bundled_files() -> list[Path]:
    """Every file ``shipper init`` copies, relative to the bundle."""
    configs = sorted(path for path in (HERE / "configs").rglob("*")
                     if path.is_file() and "__pycache__" not in path.parts)
    return [path.relative_to(HERE) for path in [*configs, HERE / COMPOSE_FILE]]


def init(destination: Path, force: bool = False) -> list[Path]:
    """Copy the bundle into ``destination``; returns the files written.

    Nothing is written when any of them exists already, unless ``force``.
    """
    files = bundled_files()
    blocking = sorted({str(folder) for name in files for folder in (destination / name).parents
                       if folder.exists() and not folder.is_dir()})
    if blocking:
        raise ConfigError(f"{', '.join(blocking)} should be a folder but is a file; nothing was written. "
                          "Move it away and run shipper init again")
    existing = [destination / name for name in files if (destination / name).exists()]
    if existing and not force:
        shown = ", ".join(str(path) for path in existing[:3]) + (", ..." if len(existing) > 3 else "")
        raise ConfigError(f"{len(existing)} of the files exist already ({shown}); nothing was written. "
                          "Pass --force to overwrite them")
    for written, name in enumerate(files):
        try:
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(HERE / name, destination / name)
        except OSError as exc:
            raise OutputError(f"cannot write {destination / name}: {exc.strerror or exc} ({written} of "
                              f"{len(files)} files written); fix that and run shipper init --force") from exc
    return [destination / name for name in files]


def demo_source() -> Path:
    """The source tree the compose file's demo service installs shipper from.

    ``SHIPPER_SOURCE`` when set; else the checkout this package runs from. An installed wheel
    has no source tree, so the demo profile needs the variable there.
    """
    source = os.environ.get("SHIPPER_SOURCE")
    checkout = HERE.parents[1]
    if source:
        return Path(source)
    if (checkout / "pyproject.toml").exists():
        return checkout
    raise ConfigError("the demo profile builds shipper from its source: set SHIPPER_SOURCE to a "
                      "checkout of shipper (or an unpacked sdist)")
