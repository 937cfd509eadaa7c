/*
 * align_f64.c - the double-precision forced alignment, ctcc_align_f64 and
 * ctcc_align_star_f64.
 */
#define REAL double
#define ALIGN_NAME ctcc_align_f64
#define ALIGN_STAR_NAME ctcc_align_star_f64
#include "align_impl.h"
