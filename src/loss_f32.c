/*
 * loss_f32.c - the single-precision entry points, ctcc_loss_f32 and
 * ctcc_loss_posteriors_f32.
 */
#include <math.h>

#define REAL float
#define REAL_EXP_NEG ctcc_expf_neg
#define DP double
#define DP_EXP_NEG ctcc_exp_neg_lite
#define DP_EXP_NEG8 ctcc_exp_neg8_lite
#define DP_LOG1P ctcc_log1p_small_lite
#define DP_SIZE CTCC_DP_SIZE
#define LOSS_NAME ctcc_loss_f32
#define POSTERIORS_NAME ctcc_loss_posteriors_f32
#include "loss_impl.h"
