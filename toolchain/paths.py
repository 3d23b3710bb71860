"""Where tinycodec finds what it ships (boards, firmware templates, models) and where it writes.

Two layouts:

* a source checkout (the repo, and the editable install `make setup` makes): the assets are
  the top-level folders next to the package, <repo>/targets, <repo>/firmware_templates,
  <repo>/models, and outputs go to <repo>/build and <repo>/results, as always;
* an installed wheel (`pip install .`): pyproject.toml maps those folders into the package as
  toolchain/_assets/<folder>, read from there; outputs go under the current directory
  (./build, ./results), since site-packages is no place to write.

Environment overrides (all optional): TINYCODEC_TARGETS (board folders, read in boards.py),
TINYCODEC_BUILD (stage files), TINYCODEC_RESULTS (bench tables), TINYCODEC_DATA (data root,
toolchain/data/root.py).
"""
from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
SOURCE_ROOT = PACKAGE_DIR.parent          # == toolchain.REPO_ROOT
ASSETS_DIR = PACKAGE_DIR / "_assets"      # the wheel's copies of the top-level folders
ASSET_FOLDERS = ("targets", "firmware_templates", "models")


def is_checkout() -> bool:
    """True when the package runs from its source tree (repo or editable install)."""
    return (SOURCE_ROOT / "pyproject.toml").is_file() and (SOURCE_ROOT / "targets").is_dir()


def asset_dir(name: str) -> Path:
    """The shipped folder `name` (one of ASSET_FOLDERS): the checkout's, else the installed copy."""
    if name not in ASSET_FOLDERS:
        raise ValueError(f"unknown asset folder {name!r} (one of {', '.join(ASSET_FOLDERS)})")
    src = SOURCE_ROOT / name
    if is_checkout() and src.is_dir():
        return src
    installed = ASSETS_DIR / name
    return installed if installed.is_dir() else src


def targets_dir() -> Path:
    return asset_dir("targets")


def templates_dir() -> Path:
    return asset_dir("firmware_templates")


def models_dir() -> Path:
    return asset_dir("models")


def zoo_dir() -> Path:
    return models_dir() / "zoo"


def host_tool(name: str) -> Path:
    """A script of the host_tools package (e.g. kflash_pty.py), wherever that package is."""
    from importlib.util import find_spec
    spec = find_spec("host_tools")  # locates the package without importing it
    base = Path(spec.origin).parent if spec and spec.origin else SOURCE_ROOT / "host_tools"
    return base.resolve() / name


def output_root() -> Path:
    """Base of the writable folders: the checkout, or the current directory when installed."""
    return SOURCE_ROOT if is_checkout() else Path.cwd()


def build_dir() -> Path:
    return Path(os.environ.get("TINYCODEC_BUILD") or output_root() / "build")


def results_dir() -> Path:
    return Path(os.environ.get("TINYCODEC_RESULTS") or output_root() / "results")


def default_data_root() -> Path:
    """Data root when TINYCODEC_DATA is unset: <repo>/../shared/data, or ./data when installed."""
    return SOURCE_ROOT.parent / "shared" / "data" if is_checkout() else Path.cwd() / "data"
