# ctcc/__init__.pxd - `cimport ctcc` for downstream Cython code.
#
# Re-exports the C API declarations of ctcc/libctcc.pxd (which mirrors
# include/ctcc.h), so that both of these work:
#
#     cimport ctcc                    # ctcc.ctcc_loss_f32(...)
#     from ctcc cimport libctcc       # libctcc.ctcc_loss_f32(...)
#
# Build with include_dirs=[ctcc.get_include()] and link with
# library_dirs=ctcc.get_library_dirs(), libraries=ctcc.get_libraries()
# (see README, "Downstream Cython").

from ctcc.libctcc cimport *
