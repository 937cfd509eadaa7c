/*
 * loss_f64.c - the double-precision entry points, ctcc_loss_f64 and
 * ctcc_loss_posteriors_f64.
 */
#include <math.h>

#define REAL double
#define REAL_EXP_NEG ctcc_exp_neg
#define DP double
#define DP_EXP_NEG ctcc_exp_neg
#define DP_EXP_NEG8 ctcc_exp_neg8
#define DP_LOG1P ctcc_log1p_small
#define DP_SIZE CTCC_DP_SIZE
#define LOSS_NAME ctcc_loss_f64
#define POSTERIORS_NAME ctcc_loss_posteriors_f64
#include "loss_impl.h"
