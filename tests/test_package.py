"""The package as people install it: `pip install .` into a fresh venv gives a working `tinycodec`.

Fast checks read pyproject.toml against the source tree (every code package listed, every
third-party import declared). The slow one builds a wheel of the working tree, installs it with
its declared dependencies (resolved by pip from the configured index, nothing borrowed from this
venv) into a fresh venv, and runs the CLI from a directory outside the repo: boards and models
come from the wheel's copies, build/ goes under the current directory.
Set TINYCODEC_SKIP_PACKAGE_TEST=1 to skip the slow one (it needs the package index).
"""
from __future__ import annotations

import ast
import functools
import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest

from toolchain import REPO_ROOT, paths

PYPROJECT = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
CODE_TOPS = ("toolchain", "host_tools")
# Imported by the code but provided by another declared distribution, or installed elsewhere.
PROVIDED_BY = {"keras": "tensorflow-cpu"}   # Keras 3 comes with TensorFlow >= 2.16
NOT_A_DEPENDENCY = {"nncase"}               # separate Python <= 3.10 venv (make setup-nncase)
# Modules whose module-level imports may need an extra (everything else must import with core).
EXTRA_AT_IMPORT = {"host_tools.pytest_plugin": "test"}
OPTIONAL_MODULES = ("tensorflow", "keras", "tflite_micro", "serial", "pyarrow", "kflash", "pytest", "hypothesis")


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _req_name(req: str) -> str:
    return _norm(re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", req).group(1))


def _declared() -> tuple[set[str], dict[str, set[str]]]:
    proj = PYPROJECT["project"]
    core = {_req_name(r) for r in proj["dependencies"]}
    extras = {k: {_req_name(r) for r in v} for k, v in proj.get("optional-dependencies", {}).items()}
    return core, extras


def _code_packages() -> set[str]:
    """Dotted names of every folder under toolchain/ and host_tools/ that holds Python files."""
    found = set()
    for top in CODE_TOPS:
        for d in [REPO_ROOT / top, *(p for p in (REPO_ROOT / top).rglob("*") if p.is_dir())]:
            if "__pycache__" not in d.parts and any(d.glob("*.py")):
                found.add(".".join(d.relative_to(REPO_ROOT).parts))
    return found


def _module_name(path: Path) -> str:
    return ".".join(path.relative_to(REPO_ROOT).with_suffix("").parts).removesuffix(".__init__")


def _third_party_imports(path: Path) -> tuple[set[str], set[str]]:
    """(top-level names imported when the module loads, names imported inside functions)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    eager, lazy = set(), set()

    def visit(node, in_def: bool) -> None:
        for child in ast.iter_child_nodes(node):
            names = []
            if isinstance(child, ast.Import):
                names = [a.name for a in child.names]
            elif isinstance(child, ast.ImportFrom) and child.level == 0 and child.module:
                names = [child.module]
            for n in names:
                top = n.split(".")[0]
                if top not in sys.stdlib_module_names and top not in CODE_TOPS and top != "__future__":
                    (lazy if in_def else eager).add(top)
            visit(child, in_def or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)))

    visit(tree, False)
    return eager, lazy


@functools.lru_cache(maxsize=None)
def _installed() -> dict[str, list[str]]:
    return importlib.metadata.packages_distributions()


def _dists_of(module: str) -> set[str]:
    if module in PROVIDED_BY:
        return {_norm(PROVIDED_BY[module])}
    return {_norm(d) for d in _installed().get(module, [])}


def test_pyproject_lists_every_code_package_and_asset_folder():
    listed = set(PYPROJECT["tool"]["setuptools"]["packages"])
    code = {p for p in listed if not p.startswith("toolchain._assets.")}
    missing, stale = _code_packages() - code, code - _code_packages()
    assert not missing, f"add to [tool.setuptools] packages in pyproject.toml: {sorted(missing)}"
    assert not stale, f"listed in pyproject.toml but not in the tree: {sorted(stale)}"
    mapped = PYPROJECT["tool"]["setuptools"]["package-dir"]
    assert {f"toolchain._assets.{a}": a for a in paths.ASSET_FOLDERS} == mapped
    assert all(p in listed for p in mapped) and all((REPO_ROOT / d).is_dir() for d in mapped.values())
    assert "catalog.json" in PYPROJECT["tool"]["setuptools"]["package-data"]["toolchain.data"]


def test_every_third_party_import_is_declared():
    """Module-level imports need a core dependency; imports inside functions may use an extra."""
    core, extras = _declared()
    anywhere = core.union(*extras.values())
    problems = []
    for top in CODE_TOPS:
        for f in sorted((REPO_ROOT / top).rglob("*.py")):
            mod = _module_name(f)
            eager, lazy = _third_party_imports(f)
            allowed_eager = core | extras.get(EXTRA_AT_IMPORT.get(mod, ""), set())
            for name in sorted((eager | lazy) - NOT_A_DEPENDENCY):
                dists = _dists_of(name)
                if not dists:
                    problems.append(f"{mod}: imports {name}, which no installed distribution provides")
                elif name in eager and not dists & allowed_eager:
                    problems.append(f"{mod}: imports {name} at module level; {sorted(dists)} is not a core dependency")
                elif not dists & anywhere:
                    problems.append(f"{mod}: imports {name}; declare {sorted(dists)} in pyproject.toml")
    assert not problems, "\n".join(problems)


def test_checkout_finds_its_own_folders():
    assert paths.is_checkout()
    for name in paths.ASSET_FOLDERS:
        assert paths.asset_dir(name) == REPO_ROOT / name
    assert paths.host_tool("kflash_pty.py") == REPO_ROOT / "host_tools" / "kflash_pty.py"


def _source_copy(dst: Path) -> Path:
    """The working tree as `pip install .` sees it (tracked + untracked, minus ignored files)."""
    try:
        out = subprocess.run(["git", "ls-files", "-z", "-co", "--exclude-standard"], cwd=REPO_ROOT,
                             capture_output=True, check=True).stdout
        files = [f for f in out.decode().split("\0") if f and (REPO_ROOT / f).is_file()]
    except (OSError, subprocess.CalledProcessError):
        skip = {".git", ".venv", "build", "results", ".pytest_cache", ".hypothesis", "__pycache__"}
        files = [str(p.relative_to(REPO_ROOT)) for p in REPO_ROOT.rglob("*")
                 if p.is_file() and not skip & set(p.relative_to(REPO_ROOT).parts)
                 and not any(s.endswith(".egg-info") for s in p.relative_to(REPO_ROOT).parts)]
    for f in files:
        (dst / f).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO_ROOT / f, dst / f)
    return dst


def _run(cmd, **kw):
    p = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kw)
    assert p.returncode == 0, f"{' '.join(map(str, cmd))} failed ({p.returncode}):\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}"
    return p


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("TINYCODEC_SKIP_PACKAGE_TEST") == "1", reason="TINYCODEC_SKIP_PACKAGE_TEST=1")
def test_wheel_in_a_fresh_venv_runs_tinycodec(tmp_path):
    t0 = time.monotonic()
    src = _source_copy(tmp_path / "src")
    # The build backend is the one pyproject.toml names (setuptools), taken from this venv so
    # that no build requirement is downloaded; the wheel is built from a copy (no build/ in the repo).
    _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
          "-w", tmp_path / "wheels", f"{src}{os.sep}"], timeout=300)
    wheel, = (tmp_path / "wheels").glob("tinycodec-*.whl")
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", venv], timeout=120)
    vpy, tc = venv / "bin" / "python", venv / "bin" / "tinycodec"
    # Core dependencies come only from what pyproject.toml declares (pip resolves them).
    _run([vpy, "-m", "pip", "install", "-q", "--disable-pip-version-check", wheel], timeout=600)
    t_install = time.monotonic() - t0

    env = {k: v for k, v in os.environ.items() if not k.startswith("TINYCODEC_")
           and k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    cwd = tmp_path / "work"
    cwd.mkdir()
    run = dict(cwd=cwd, env=env, timeout=300)

    # Optional parts are really absent, so what follows needs only the core dependencies.
    probe = ("import importlib.util as u, sys; "
             f"print(' '.join(m for m in {OPTIONAL_MODULES!r} if u.find_spec(m)))")
    assert _run([vpy, "-c", probe], **run).stdout.strip() == ""
    # The installed package, not the checkout, and its assets are the wheel's copies.
    where = _run([vpy, "-c", "import toolchain.paths as p; print(p.is_checkout()); print(p.targets_dir()); "
                  "print(p.build_dir()); print(p.host_tool('kflash_pty.py').is_file())"], **run).stdout.split("\n")
    assert where[0] == "False" and "site-packages" in where[1] and where[2] == str(cwd / "build") and where[3] == "True"
    # Every module imports with the core dependencies (module-level imports of extras are listed).
    mods = sorted(_module_name(f) for top in CODE_TOPS for f in (REPO_ROOT / top).rglob("*.py")
                  if _module_name(f) not in EXTRA_AT_IMPORT)
    _run([vpy, "-c", f"import importlib\nfor m in {mods!r}: importlib.import_module(m)"], **run)

    _run([tc, "--help"], **run)
    boards = _run([tc, "boards"], **run).stdout
    listed = {line.split()[0] for line in boards.splitlines() if line.strip()}
    want = {p.parent.name for p in (src / "targets").glob("*/board.toml")}
    assert want and listed == want, boards
    models = _run([tc, "models"], **run).stdout
    specs = tomllib.loads((src / "models" / "specs.toml").read_text())
    names = {line.split()[0] for line in models.splitlines() if line.strip()}
    assert names == set(specs), models
    trained = {m for m in specs if (src / "models" / m / "model.json").is_file()}
    assert {line.split()[0] for line in models.splitlines() if "[trained]" in line} == trained, models

    if shutil.which("gcc"):  # templates and models are shipped: a native build from the wheel
        _run([tc, "build", "--model", "gsb-temporal", "--target", "native"], **run)
        assert (cwd / "build" / "gsb-temporal" / "native" / "bin" / "codec").is_file()
    print(f"wheel + fresh venv install: {t_install:.0f} s, whole test {time.monotonic() - t0:.0f} s")
