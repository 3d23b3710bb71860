import os

import pytest

# The HIL bench's --dut options and `dut` fixture (tests/hil). pytest takes pytest_plugins only
# from the top-level conftest, so it is registered here rather than in tests/hil/conftest.py.
pytest_plugins = ["host_tools.pytest_plugin"]


@pytest.fixture(scope="session", autouse=True)
def _isolated_build_dir(tmp_path_factory):
    """Stage files of a test session go to a temporary build/ (never the user's)."""
    old = os.environ.get("TINYCODEC_BUILD")
    os.environ["TINYCODEC_BUILD"] = str(tmp_path_factory.mktemp("build"))
    yield
    if old is None:
        os.environ.pop("TINYCODEC_BUILD", None)
    else:
        os.environ["TINYCODEC_BUILD"] = old
