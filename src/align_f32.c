/*
 * align_f32.c - the float-precision forced alignment, ctcc_align_f32 and
 * ctcc_align_star_f32.
 */
#define REAL float
#define ALIGN_NAME ctcc_align_f32
#define ALIGN_STAR_NAME ctcc_align_star_f32
#include "align_impl.h"
