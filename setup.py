"""Build script for the ctcc extension module.

The C core (src/) is compiled into the extension itself, so the Python
package has no run-time dependency on an installed libctcc. OpenMP is used
when the compiler accepts it; set CTCC_NO_OPENMP=1 to build without it.
No -march=native: the build must run on any machine of the target
architecture.
"""

import os
import shutil
import sys
import tempfile

from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

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


class BuildExt(build_ext):
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
        for ext in self.extensions:
            ext.extra_compile_args = compile_flags + ext.extra_compile_args
            ext.extra_link_args = link_flags + ext.extra_link_args
        super().build_extensions()


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
