/*
 * decode_f32.c - the single-precision decoders, ctcc_greedy_decode_f32 and
 * ctcc_beam_search_decode_f32.
 */
#define REAL float
#define REAL_EXP_NEG ctcc_expf_neg
#define GREEDY_NAME ctcc_greedy_decode_f32
#define BEAM_NAME ctcc_beam_search_decode_f32
#include "decode_impl.h"
