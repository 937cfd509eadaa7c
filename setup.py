"""Build script for the ctcc extension module.

The C core (src/) is compiled into the extension itself, so the Python
package has no run-time dependency on an installed libctcc. OpenMP is used
when the compiler accepts it; set CTCC_NO_OPENMP=1 to build without it.
No -march=native: the build must run on any machine of the target
architecture.

For downstream C and Cython code, the build also puts into the package
(wheel, regular or editable install, and ``build_ext --inplace`` alike):
- ``ctcc/include/ctcc.h``, a copy of include/ctcc.h (``ctcc.get_include()``);
- on Linux, ``ctcc/lib/libctcc.so.0`` (SONAME libctcc.so.0, only the
  ``ctcc_`` API exported), built from the same sources with the same flags
  as the extension. It is stored once: wheels cannot hold symbolic links,
  so there is no ``libctcc.so`` beside it, and downstream code links it by
  its file name (``ctcc.get_libraries()`` is ``[":libctcc.so.0"]``, which
  GNU ld, gold, lld and mold accept as ``-l:libctcc.so.0``).
Both are build outputs (git-ignored): include/ctcc.h stays the only header.

The shared objects are portable: on Linux they are stripped (set
CTCC_NO_STRIP=1 to keep the symbols, e.g. for a debugger), and they carry
no run-time search path from the build machine's Python configuration
(a Python built into a home directory adds ``-Wl,-rpath,<its lib>`` to
every link); search paths given in the LDFLAGS environment variable are
kept.
"""

import os
import shlex
import shutil
import sys
import tempfile

from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HEADER = "include/ctcc.h"
SONAME = "libctcc.so.0"

C_SOURCES = [
    "src/info.c",
    "src/validate.c",
    "src/loss_f32.c",
    "src/loss_f64.c",
    "src/align_workspace.c",
    "src/align_f32.c",
    "src/align_f64.c",
    "src/decode_workspace.c",
    "src/decode_f32.c",
    "src/decode_f64.c",
]


def _compiler_accepts(compiler, flags):
    """True if `compiler` compiles and links an OpenMP program with `flags`."""
    tmp = tempfile.mkdtemp()
    try:
        src = os.path.join(tmp, "omp_check.c")
        with open(src, "w") as f:
            f.write("#include <omp.h>\nint main(void){return omp_get_max_threads()<1;}\n")
        objs = compiler.compile([src], output_dir=tmp, extra_postargs=flags)
        compiler.link_executable(objs, "omp_check", output_dir=tmp, extra_postargs=flags)
        return True
    except Exception:
        return False
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _rpath_options(args):
    """Positions of the run-time search path options in the linker command
    `args`, as (index, directories) pairs: ``-Wl,-rpath,DIR``,
    ``-Wl,-rpath=DIR``, ``-Wl,--rpath,DIR`` and ``-Wl,-R,DIR``."""
    found = []
    for i, arg in enumerate(args):
        if not arg.startswith("-Wl,"):
            continue
        parts = arg.split(",")[1:]
        dirs = []
        j = 0
        while j < len(parts):
            part = parts[j]
            if part in ("-rpath", "--rpath", "-R") and j + 1 < len(parts):
                dirs.append(parts[j + 1])
                j += 2
                continue
            for prefix in ("-rpath=", "--rpath="):
                if part.startswith(prefix):
                    dirs.append(part[len(prefix) :])
            j += 1
        if dirs:
            found.append((i, dirs))
    return found


def _without_foreign_rpaths(args):
    """The linker command `args` without the ``-Wl,...`` options that set a
    run-time search path, except those the user's LDFLAGS asks for."""
    wanted = set()
    for _, dirs in _rpath_options(shlex.split(os.environ.get("LDFLAGS", ""))):
        wanted.update(dirs)
    drop = {i for i, dirs in _rpath_options(args) if not set(dirs) <= wanted}
    return [arg for i, arg in enumerate(args) if i not in drop]


class BuildExt(build_ext):
    def run(self):
        # setuptools clears `inplace` while it builds (then copies the
        # extensions into the source tree): note it first.
        self._into_source = bool(self.inplace or getattr(self, "editable_mode", False))
        super().run()

    def build_extensions(self):
        unix = self.compiler.compiler_type == "unix"
        # See CMakeLists.txt: these let the kernel's loops vectorise.
        compile_flags = (
            ["-O3", "-fno-math-errno", "-fno-trapping-math", "-fopenmp-simd"] if unix else ["/O2"]
        )
        link_flags = []
        if os.environ.get("CTCC_NO_OPENMP") != "1":
            omp = ["-fopenmp"] if unix else ["/openmp"]
            if _compiler_accepts(self.compiler, omp):
                compile_flags += omp
                link_flags += omp
            else:
                print("ctcc: compiler has no OpenMP; building single-threaded", file=sys.stderr)
        linux = sys.platform.startswith("linux") and unix
        if linux:
            self.compiler.linker_so = _without_foreign_rpaths(self.compiler.linker_so)
            if os.environ.get("CTCC_NO_STRIP") != "1":
                link_flags = link_flags + ["-s"]
        for ext in self.extensions:
            ext.extra_compile_args = compile_flags + ext.extra_compile_args
            ext.extra_link_args = link_flags + ext.extra_link_args
        super().build_extensions()
        for package_dir in self._package_dirs():
            _copy_if_changed(HEADER, os.path.join(package_dir, "include", "ctcc.h"))
        if linux:
            self._build_shared_library(compile_flags, link_flags)
        else:
            print("ctcc: no shared library for downstream code on this platform", file=sys.stderr)

    def _package_dirs(self):
        """Where the package's built files go: the build tree for a wheel,
        and also the source tree for --inplace and editable installs."""
        dirs = [os.path.dirname(self.get_ext_fullpath("ctcc._core"))]
        if getattr(self, "_into_source", False):
            source = os.path.abspath(self.get_finalized_command("build_py").get_package_dir("ctcc"))
            if os.path.abspath(dirs[0]) != source:
                dirs.append(source)
        return dirs

    def _build_shared_library(self, compile_flags, link_flags):
        """libctcc.so.0 from C_SOURCES, as CMakeLists.txt builds it: hidden
        visibility, only ctcc_* exported, SONAME libctcc.so.0."""
        objects = self.compiler.compile(
            C_SOURCES,
            output_dir=os.path.join(self.build_temp, "libctcc"),
            macros=[("CTCC_BUILDING", "1")],
            include_dirs=["include", "src"],
            extra_postargs=compile_flags + ["-fvisibility=hidden"],
            depends=[HEADER],
        )
        built = os.path.join(self.build_temp, "libctcc", SONAME)
        self.compiler.link_shared_object(
            objects,
            built,
            libraries=["m"],
            extra_postargs=link_flags
            + [f"-Wl,-soname,{SONAME}", "-Wl,--version-script=cmake/ctcc.map"],
        )
        for package_dir in self._package_dirs():
            lib_dir = os.path.join(package_dir, "lib")
            _copy_if_changed(built, os.path.join(lib_dir, SONAME))
            # Earlier builds put a second copy (or a link) here as
            # libctcc.so; the library is linked by its file name now.
            stale = os.path.join(lib_dir, "libctcc.so")
            if os.path.lexists(stale):
                os.remove(stale)


def _copy_if_changed(src, dst):
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    with open(src, "rb") as f:
        data = f.read()
    if os.path.exists(dst):
        with open(dst, "rb") as f:
            if f.read() == data:
                return
        os.remove(dst)  # may be read-only or a link
    with open(dst, "wb") as f:
        f.write(data)


extensions = [
    Extension(
        "ctcc._core",
        sources=["ctcc/_core.pyx"] + C_SOURCES,
        include_dirs=["include", "src"],
        define_macros=[("CTCC_BUILDING", "1")],
    )
]

setup(
    ext_modules=cythonize(extensions, compiler_directives={"language_level": "3"}),
    cmdclass={"build_ext": BuildExt},
)
