/*
 * decode_f64.c - the double-precision decoders, ctcc_greedy_decode_f64 and
 * ctcc_beam_search_decode_f64.
 */
#define REAL double
#define REAL_EXP_NEG ctcc_exp_neg
#define GREEDY_NAME ctcc_greedy_decode_f64
#define BEAM_NAME ctcc_beam_search_decode_f64
#include "decode_impl.h"
