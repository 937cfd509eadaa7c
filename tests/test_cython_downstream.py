"""Downstream Cython: `cimport ctcc`, ctcc.get_include() and the shared
library shipped in the package.

Builds a small extension in a temporary directory exactly as a downstream
project would (Cython + setuptools, include_dirs=[ctcc.get_include()],
linked to libctcc from ctcc.get_library_dirs() with an rpath), imports it in
a fresh interpreter and compares its losses and gradients, computed by
calling the C API directly, with ctcc.ctc_loss.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import textwrap

import numpy as np
import pytest

import ctcc


def test_get_include_holds_the_header_of_this_version():
    header = os.path.join(ctcc.get_include(), "ctcc.h")
    assert os.path.isfile(header)
    with open(header) as f:
        text = f.read()
    match = re.search(r'#define CTCC_VERSION_STRING "([^"]+)"', text)
    assert match is not None
    assert match.group(1) == ctcc.__version__


def test_pxd_files_are_in_the_package():
    package = os.path.dirname(ctcc.__file__)
    for name in ("__init__.pxd", "libctcc.pxd"):
        assert os.path.isfile(os.path.join(package, name)), name


def test_library_helpers():
    if not sys.platform.startswith("linux"):
        assert ctcc.get_libraries() == ["ctcc"]
        pytest.skip("the shared library is built on Linux only")
    # The library is stored once, under its SONAME (a wheel cannot hold the
    # libctcc.so link), and linked by that file name.
    (lib_dir,) = ctcc.get_library_dirs()
    assert os.listdir(lib_dir) == ["libctcc.so.0"]
    assert ctcc.get_libraries() == [":libctcc.so.0"]


def _dynamic_section(path):
    readelf = shutil.which("readelf")
    if readelf is None:
        pytest.skip("readelf is not installed")
    return subprocess.run([readelf, "-d", "-S", "-W", path], capture_output=True, text=True).stdout


def test_shared_objects_are_portable():
    """The extension and libctcc carry no run-time search path of the build
    machine (only $ORIGIN-relative ones, as auditwheel sets) and are
    stripped unless the build was asked to keep the symbols."""
    if not sys.platform.startswith("linux"):
        pytest.skip("ELF shared objects on Linux only")
    objects = [ctcc._core.__file__] + [
        os.path.join(d, "libctcc.so.0") for d in ctcc.get_library_dirs()
    ]
    for path in objects:
        text = _dynamic_section(path)
        for match in re.finditer(r"\((?:RUNPATH|RPATH)\)\s+Library r\w*path: \[(.*)\]", text):
            for entry in match.group(1).split(":"):
                assert entry.startswith("$ORIGIN"), f"{path}: run-time search path {entry}"
        if os.environ.get("CTCC_NO_STRIP") != "1":
            assert ".symtab" not in text, f"{path} is not stripped"


PYX = textwrap.dedent(
    """
    # cython: language_level=3
    import numpy as np
    cimport ctcc
    from ctcc cimport libctcc
    from libc.stdint cimport int32_t
    from libc.stdlib cimport malloc, free

    def version():
        return libctcc.ctcc_version_string().decode()

    def loss(float[:, :, ::1] logits, int32_t[::1] labels,
             int32_t[::1] label_lengths, int32_t[::1] input_lengths):
        cdef int T = logits.shape[0], N = logits.shape[1], C = logits.shape[2]
        cdef ctcc.ctcc_options opts
        cdef size_t nbytes = 0
        cdef ctcc.ctcc_status status
        ctcc.ctcc_options_init(&opts)
        status = ctcc.ctcc_workspace_size(&label_lengths[0], &input_lengths[0],
                                          T, N, C, ctcc.CTCC_FLOAT32, 1, &opts,
                                          &nbytes)
        if status != ctcc.CTCC_STATUS_SUCCESS:
            raise RuntimeError(ctcc.ctcc_status_string(status).decode())
        costs = np.empty(N, np.float32)
        grads = np.empty((T, N, C), np.float32)
        cdef float[::1] c = costs
        cdef float[:, :, ::1] g = grads
        cdef void *ws = malloc(nbytes)
        with nogil:
            status = libctcc.ctcc_loss_f32(&logits[0, 0, 0], &g[0, 0, 0],
                                           &labels[0], &label_lengths[0],
                                           &input_lengths[0], T, N, C, &c[0],
                                           ws, nbytes, &opts)
        free(ws)
        if status != ctcc.CTCC_STATUS_SUCCESS:
            raise RuntimeError(ctcc.ctcc_status_string(status).decode())
        return costs, grads
    """
)

SETUP = textwrap.dedent(
    """
    import os, numpy, ctcc
    from Cython.Build import cythonize
    from setuptools import Extension, setup

    # The directory that holds the ctcc package, for Cython to find its
    # .pxd files (needed with editable installs, harmless otherwise).
    site = os.path.dirname(os.path.dirname(ctcc.__file__))
    ext = Extension(
        "downstream",
        ["downstream.pyx"],
        include_dirs=[ctcc.get_include(), numpy.get_include()],
        library_dirs=ctcc.get_library_dirs(),
        libraries=ctcc.get_libraries(),
        runtime_library_dirs=ctcc.get_library_dirs(),
    )
    setup(name="downstream", ext_modules=cythonize([ext], include_path=[site]))
    """
)

RUN = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import downstream
    d = np.load("inputs.npz")
    costs, grads = downstream.loss(d["logits"], d["labels"], d["label_lengths"],
                                   d["input_lengths"])
    np.save("costs.npy", costs)
    np.save("grads.npy", grads)
    print(json.dumps({"version": downstream.version(), "file": downstream.__file__}))
    """
)


def _have_c_compiler():
    cc = sysconfig.get_config_var("CC")
    return bool(cc) and shutil.which(cc.split()[0]) is not None


def test_cimport_ctcc_and_link_the_shipped_library(tmp_path):
    pytest.importorskip("Cython")
    if not _have_c_compiler():
        pytest.skip("no C compiler to build the downstream extension")
    if not sys.platform.startswith("linux"):
        pytest.skip("the shared library is built on Linux only")
    (tmp_path / "downstream.pyx").write_text(PYX)
    (tmp_path / "setup.py").write_text(SETUP)
    (tmp_path / "run.py").write_text(RUN)

    rng = np.random.default_rng(7)
    T, N, C = 40, 3, 12
    logits = rng.standard_normal((T, N, C)).astype(np.float32)
    label_lists = [[1, 2, 2, 5], [3], [4, 11, 7, 7, 9, 1]]
    labels = np.concatenate(label_lists).astype(np.int32)
    label_lengths = np.array([len(x) for x in label_lists], np.int32)
    input_lengths = np.array([40, 17, 33], np.int32)
    np.savez(
        tmp_path / "inputs.npz",
        logits=logits,
        labels=labels,
        label_lengths=label_lengths,
        input_lengths=input_lengths,
    )

    env = dict(os.environ)
    # Keep the child's view of ctcc the same as ours.
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path)] + sys.path)
    build = subprocess.run(
        [sys.executable, "setup.py", "build_ext", "--inplace"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    run = subprocess.run(
        [sys.executable, "run.py"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    info = json.loads(run.stdout.strip().splitlines()[-1])
    assert info["version"] == ctcc.__version__

    # The module links libctcc.so.0 (it does not carry the C core itself).
    readelf = shutil.which("readelf")
    if readelf:
        dyn = subprocess.run([readelf, "-d", info["file"]], capture_output=True, text=True).stdout
        assert "libctcc.so.0" in dyn

    costs = np.load(tmp_path / "costs.npy")
    grads = np.load(tmp_path / "grads.npy")
    want_loss, want_grad = ctcc.ctc_loss(logits, label_lists, logit_lengths=input_lengths)
    np.testing.assert_array_equal(costs, want_loss)
    np.testing.assert_array_equal(grads, want_grad)
