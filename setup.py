"""Build the Cython kernels, with OpenMP when the compiler supports it."""

import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

KERNEL_DIR = Path("skmx") / "_kernels"

OPENMP_PROBE = textwrap.dedent(
    """\
    #include <omp.h>
    #include <stdio.h>
    int main(void) {
        #pragma omp parallel
        printf("%d\\n", omp_get_num_threads());
        return 0;
    }
    """
)

NO_OPENMP_WARNING = """
***********
* WARNING *
***********
It seems that skmx cannot be built with OpenMP ({reason}).
The build will continue with OpenMP-based parallelism disabled: every kernel
runs on one thread. Set SKMX_FAIL_NO_OPENMP=1 to make this an error.
"""


def _openmp_flags(compiler):
    if compiler.compiler_type == "msvc":
        return ["/openmp"], []
    return ["-fopenmp"], ["-fopenmp"]


def _probe_openmp(compiler, compile_flags, link_flags):
    """Compile, link and run a tiny OpenMP program; return the failure reason or None."""
    tmp = tempfile.mkdtemp()
    try:
        src = os.path.join(tmp, "probe.c")
        with open(src, "w") as f:
            f.write(OPENMP_PROBE)
        objects = compiler.compile([src], output_dir=tmp, extra_postargs=compile_flags)
        exe = os.path.join(tmp, "probe")
        compiler.link_executable(objects, exe, extra_postargs=link_flags)
        out = subprocess.run([exe], capture_output=True, text=True, check=True).stdout
        if not out.strip():
            return "the probe program printed nothing"
        return None
    except Exception as exc:  # any compiler, linker or run failure means no OpenMP
        return f"{type(exc).__name__}: {exc}"
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


class BuildExtWithOpenMP(build_ext):
    def build_extensions(self):
        compile_flags, link_flags = _openmp_flags(self.compiler)
        if os.environ.get("SKMX_NO_OPENMP") == "1":
            reason = "SKMX_NO_OPENMP=1"
        else:
            reason = _probe_openmp(self.compiler, compile_flags, link_flags)
        if reason is None:
            for ext in self.extensions:
                ext.extra_compile_args += compile_flags
                ext.extra_link_args += link_flags
        else:
            if os.environ.get("SKMX_FAIL_NO_OPENMP") == "1":
                sys.exit(f"error: OpenMP is required (SKMX_FAIL_NO_OPENMP=1) but failed: {reason}")
            print(NO_OPENMP_WARNING.format(reason=reason), file=sys.stderr)
        for ext in self.extensions:
            ext.extra_compile_args += ["-O3"] if self.compiler.compiler_type != "msvc" else ["/O2"]
        super().build_extensions()


def _extensions():
    debug = os.environ.get("SKMX_CYTHON_DEBUG") == "1"
    directives = {
        "language_level": 3,
        "boundscheck": debug,
        "wraparound": False,
        "initializedcheck": debug,
        "nonecheck": False,
        "cdivision": True,
    }
    # SKMX_ONLY=_dense,_blas builds a subset while working on some kernels.
    only = {name for name in os.environ.get("SKMX_ONLY", "").split(",") if name}
    modules = [
        Extension(
            ".".join(pyx.with_suffix("").parts),
            [str(pyx)],
            define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_22_API_VERSION")],
        )
        for pyx in sorted(KERNEL_DIR.glob("*.pyx"))
        if not only or pyx.stem in only
    ]
    return cythonize(
        modules,
        compiler_directives=directives,
        nthreads=os.cpu_count() or 1,
        annotate=os.environ.get("SKMX_CYTHON_ANNOTATE") == "1",
    )


setup(ext_modules=_extensions(), cmdclass={"build_ext": BuildExtWithOpenMP})
