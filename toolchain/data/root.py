"""Where the datasets live, and the one exception every loader raises.

The data folder is read-only and shared between checkouts, so it is found through
the TINYCODEC_DATA environment variable (the Makefile exports it) with a default that
matches the usual layout: <repo>/../shared/data.
"""
from __future__ import annotations

import os
from pathlib import Path

from toolchain.paths import default_data_root

ENV_VAR = "TINYCODEC_DATA"


class DataError(Exception):
    """A dataset is missing, malformed or cannot be used as asked.

    Messages name the file (full path) or record and say what is wrong, because the
    person reading them usually has to go and look at that file.
    """


def data_root() -> Path:
    """The folder holding mitdb/, sensorscope_gsb/, ulb_wsn/, intel_lab_pcag/, ..."""
    env = os.environ.get(ENV_VAR)
    root = Path(env).expanduser() if env else default_data_root()
    root = root.resolve()
    if not root.is_dir():
        raise DataError(
            f"data root {root} does not exist (set {ENV_VAR} to the folder holding "
            "mitdb/, sensorscope_gsb/, ulb_wsn/, intel_lab_pcag/, ...)"
        )
    return root


def resolve_root(root: str | os.PathLike[str] | None) -> Path:
    """`root` if given (checked to exist), else data_root(). Loaders take an optional root."""
    if root is None:
        return data_root()
    path = Path(root).expanduser().resolve()
    if not path.is_dir():
        raise DataError(f"data root {path} does not exist (passed as root=...)")
    return path


def require_file(rel: str, root: str | os.PathLike[str] | None = None) -> Path:
    """Absolute path of `rel` under the data root; DataError naming the full path if absent."""
    path = resolve_root(root) / rel
    if not path.is_file():
        raise DataError(f"missing data file {path} (expected under the data root; see its README.md)")
    return path
