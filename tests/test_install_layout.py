"""Where ctcc is imported from: a source checkout beside an installed ctcc.

Two folders can hide the installed package, because Python puts the current
directory first on ``sys.path``:

- the root of a checkout, whose folder ``ctcc/`` is the package's source
  without its compiled extension (unless built in place, as
  ``pip install -e .`` does): importing it must fail with an ImportError
  that says so and what to do, not with a "circular import";
- the directory holding a checkout named ``ctcc`` (``git clone``'s default
  name): a folder without ``__init__.py``, which Python takes for a
  namespace package when the installed ctcc is found through an import
  hook (editable installs) rather than through a ``sys.path`` entry.
  ``python -m ctcc`` must then run the installed package or say what is
  wrong, not fail with an AttributeError.

Each test makes a fresh copy of the checkout's tracked files (what a clone
holds: no build outputs) in a temporary directory and runs Python there in
a subprocess, with the ctcc this interpreter has installed.
"""

import os
import shutil
import site
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# A quick run of the demonstration (its own checks decide the exit status).
DEMO = ["-m", "ctcc", "--repeats", "1", "--shape", "20", "2", "5", "3"]

# What a fresh clone does not hold (used when git is not available, as in
# an unpacked sdist).
_BUILD_OUTPUTS = shutil.ignore_patterns(
    ".git",
    ".venv",
    "build*",
    "dist",
    "*.egg-info",
    "__pycache__",
    "*.so",
    "*.so.*",
    "_core.c",
)


def _fresh_checkout(dest):
    """Copies the source tree into `dest` as a clone would hold it."""
    files = None
    if os.path.isdir(os.path.join(ROOT, ".git")) and shutil.which("git"):
        proc = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=ROOT,
            capture_output=True,
        )
        if proc.returncode == 0:
            files = [f for f in proc.stdout.decode().split("\0") if f]
    if files is None:
        shutil.copytree(ROOT, dest, ignore=_BUILD_OUTPUTS)
        return
    for name in files:
        src = os.path.join(ROOT, name)
        if not os.path.isfile(src):  # deleted in the working tree
            continue
        os.makedirs(os.path.join(dest, os.path.dirname(name)), exist_ok=True)
        shutil.copy2(src, os.path.join(dest, name))
    assert os.path.isfile(os.path.join(dest, "ctcc", "__init__.py"))


def _python(args, cwd, site_dir=None, timeout=120):
    """Runs the interpreter in `cwd` as a user's shell would. With
    `site_dir`, the only ctcc installed is the one in that folder (a
    regular install): ``-S`` leaves the import hooks of editable installs
    out, and the environment's site-packages are searched after it for
    ctcc's dependencies."""
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    env.pop("PYTHONSAFEPATH", None)
    if site_dir is not None:
        args = ["-S", *args]
        sites = site.getsitepackages()
        if site.ENABLE_USER_SITE and os.path.isdir(site.getusersitepackages()):
            sites.append(site.getusersitepackages())
        env["PYTHONPATH"] = os.pathsep.join([str(site_dir), *sites])
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """How the environment's ctcc is found, seen from a neutral directory:
    ("path", file) for a package on sys.path (a regular install), ("hook",
    file) when only an import hook finds it (setuptools' editable installs)."""
    here = tmp_path_factory.mktemp("neutral")
    proc = _python(
        [
            "-c",
            "import importlib.machinery as m, ctcc; "
            "spec = m.PathFinder.find_spec('ctcc'); "
            "print('path' if spec is not None and spec.origin else 'hook'); print(ctcc.__file__)",
        ],
        here,
    )
    if proc.returncode != 0:
        pytest.skip(f"ctcc is not importable outside the source tree: {proc.stderr[-500:]}")
    kind, location = proc.stdout.split()
    return kind, location


@pytest.fixture(scope="module")
def regular_install(tmp_path_factory, installed):
    """A folder holding a copy of the installed package, compiled core
    included: what ``pip install .`` puts into site-packages."""
    site_dir = tmp_path_factory.mktemp("site")
    package_dir = os.path.dirname(installed[1])
    if not any(n.startswith("_core.") for n in os.listdir(package_dir)):
        pytest.skip(f"no compiled extension in {package_dir}")
    shutil.copytree(
        package_dir, site_dir / "ctcc", ignore=shutil.ignore_patterns("__pycache__", "*.c")
    )
    # A wheel repaired by auditwheel keeps the libraries it vendors beside
    # the package.
    vendored = os.path.join(os.path.dirname(package_dir), "ctcc.libs")
    if os.path.isdir(vendored):
        shutil.copytree(vendored, site_dir / "ctcc.libs")
    proc = _python(["-c", "import ctcc; print(ctcc.__file__)"], site_dir.parent, site_dir)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(site_dir / "ctcc" / "__init__.py")
    return site_dir


def test_checkout_root_without_a_build_explains_itself(tmp_path, regular_install):
    """``pip install .`` in a fresh clone, then Python in its root."""
    checkout = tmp_path / "checkout"
    _fresh_checkout(checkout)
    package = os.path.join(str(checkout), "ctcc")

    for args in (["-c", "import ctcc"], DEMO):
        proc = _python(args, checkout, regular_install)
        message = " ".join(proc.stderr.split())
        assert proc.returncode != 0, proc.stdout + proc.stderr
        assert "circular import" not in message, message
        assert "ImportError: ctcc is being imported from its source tree" in message, message
        assert package in message, message
        assert "Run Python from another directory" in message, message
        assert "pip install -e ." in message, message

    # The advice holds: from another directory the installed ctcc runs.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    proc = _python(DEMO, elsewhere, regular_install)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "agrees" in proc.stdout


def test_parent_of_a_checkout_named_ctcc_regular_install(tmp_path, regular_install):
    """``pip install .`` in a clone named ctcc, then Python in its parent:
    the installed package, later on sys.path, wins over the folder."""
    parent = tmp_path / "parent"
    _fresh_checkout(parent / "ctcc")
    proc = _python(DEMO, parent, regular_install)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "agrees" in proc.stdout


def test_parent_of_a_checkout_named_ctcc_environment(tmp_path, installed):
    """The same with the environment's own install: an editable one (found
    by an import hook, which comes after the folder) cannot win, and
    ``python -m ctcc`` says why instead of failing with an AttributeError."""
    parent = tmp_path / "parent"
    _fresh_checkout(parent / "ctcc")

    proc = _python(DEMO, parent)
    if installed[0] == "path":
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "agrees" in proc.stdout
    else:
        message = " ".join(proc.stderr.split())
        assert proc.returncode == 1, proc.stdout + proc.stderr
        assert "Traceback" not in proc.stderr, proc.stderr
        assert f"'ctcc' is the folder {parent / 'ctcc'} here, not the ctcc package" in message
        assert "Run from another directory" in message


def test_checkout_root_with_a_build_in_place_runs(tmp_path, regular_install):
    """What ``pip install -e .`` leaves in a checkout (the extension built
    into ctcc/) makes Python in its root use the checkout itself. The
    installed package's compiled files stand in for that build."""
    checkout = tmp_path / "checkout"
    _fresh_checkout(checkout)
    installed_package = regular_install / "ctcc"
    for name in os.listdir(installed_package):
        if name.startswith("_core.") and not name.endswith(".c"):
            shutil.copy2(installed_package / name, checkout / "ctcc" / name)
    if (regular_install / "ctcc.libs").is_dir():  # what auditwheel vendored
        shutil.copytree(regular_install / "ctcc.libs", checkout / "ctcc.libs")

    code = (
        "import ctcc, numpy; print(ctcc._core.__file__); "
        "print(ctcc.ctc_loss(numpy.zeros((3, 1, 2)), [[1]])[0])"
    )
    proc = _python(["-c", code], checkout, regular_install)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.startswith(str(checkout / "ctcc" / "_core."))
    proc = _python(DEMO, checkout, regular_install)
    assert proc.returncode == 0, proc.stdout + proc.stderr
