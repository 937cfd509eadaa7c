/*
 * log_split_impl.h - the log-space kernel in the scaled kernel's four
 * tasks. Included by loss_impl.h after linear_impl.h, with the same REAL /
 * DP definitions.
 *
 * A sample that the scaled kernel sends back, and every sample under
 * CTCC_KERNEL_LOG_SPACE (but with the alpha modification, which reads the
 * log posteriors that compute_sample keeps), is computed in log space
 * (the arithmetic of compute_sample: log_sum_exp3 per state, each row
 * shifted by its maximum), but split as the scaled kernel splits it: alpha
 * over frames [0, m) and beta over [m - 1, T) as two independent tasks
 * (phase 1), log P where they meet at frame m - 1, then the posteriors of
 * frames [0, m) from the stored alpha rows and a beta that continues down,
 * and those of [m, T) from the stored beta rows and an alpha that
 * continues up (phase 2). So one long sample still runs on two threads
 * when the batch is smaller than the thread count; the arithmetic is the
 * same for any thread count, so are the results. The rows are those
 * compute_sample computes, and it forms the cost from them at the same
 * frame (meet_log_p), so every path through the log-space kernel gives
 * the same results to the bit.
 *
 * The tasks use the scaled kernel's workspace view (lin_sample): its
 * table, rows, emissions and scratch, and its skip factors (1 or 0), read
 * as the logarithms 0 and -inf. Anything out of the ordinary (a NaN or
 * +inf input, a frame of -inf only, a zero probability) makes phase 1
 * give up, and compute_sample redoes the sample with its handling of
 * those cases.
 */

/* v[s] where state s may be entered from s - 2 (k[s] = 1), else -inf:
 * the skip term of either direction. */
CTCC_ALWAYS_INLINE DP log_skip_term(const DP *v, const DP *k, size_t s) {
    return k[s] > 0 ? v[s] : NEG_INF;
}

/* The frame's normaliser (and the softmax or zeros in the gradient row,
 * zeros in the posterior row), as compute_sample's forward pass forms
 * them; stored for phase 2 when q->with_grad. Returns 0 when the frame
 * holds NaN or +inf or only -inf. */
CTCC_ALWAYS_INLINE int log_frame_normaliser(const lin_sample *q, size_t t,
                                            DP *shift, DP *norm) {
    const REAL *x = q->input + t * q->stride;
    REAL *g = q->grad != NULL ? q->grad + t * q->stride : NULL;
    *shift = 0;
    *norm = 0;
    if (!q->log_probs) {
        *norm = log_normaliser(x, q->C, g, shift, NULL, NULL, q->stage);
        if (!(*norm > NEG_INF)) {
            return 0;
        }
    } else {
        if (has_bad_value(x, q->C)) {
            return 0;
        }
        if (g != NULL) {
            memset(g, 0, q->C * sizeof(REAL));
        }
    }
    if (q->post != NULL) {
        memset(q->post + t * q->stride, 0, q->C * sizeof(REAL));
    }
    if (q->with_grad) {
        q->shift[t] = *shift;
        q->norm[t] = *norm;
    }
    return 1;
}

/* row[lo, hi) = emit + log(prev[s] + prev[s-1] + k[s] prev[s-2]), -inf on
 * the padding and the two states above the band, then shifted by its
 * maximum, which is returned. t0: the first frame (row = emit). */
CTCC_ALWAYS_INLINE DP log_alpha_row(DP *row, const DP *prev, const DP *emit,
                                    const DP *k, size_t lo, size_t hi, int t0) {
    size_t s;
    row[-2] = row[-1] = NEG_INF;
    row[hi] = row[hi + 1] = NEG_INF;
    if (t0) {
        for (s = lo; s < hi; ++s) {
            row[s] = emit[s];
        }
    } else {
#pragma omp simd
        for (s = lo; s < hi; ++s) {
            row[s] = emit[s] + log_sum_exp3(prev[s], prev[s - 1],
                                            log_skip_term(prev - 2, k, s));
        }
    }
    return rescale_band(row, lo, hi);
}

/* next[plo, phi) = beta of frame t - 1 from cur (beta of frame t, on
 * [lo, hi)) and frame t's log-softmax, shifted by its maximum, which is
 * returned. e is a padded scratch row. */
CTCC_ALWAYS_INLINE DP log_beta_row(const lin_sample *q, size_t t, DP shift,
                                   DP norm, DP *next, const DP *cur, DP *e,
                                   size_t lo, size_t hi, size_t plo,
                                   size_t phi) {
    const REAL *x = q->input + t * q->stride;
    const DP *k = q->kmask;
    size_t s;
    for (s = lo; s < hi; ++s) {
        e[s] = ((DP)x[q->ext[s]] - shift) - norm + cur[s];
    }
    e[(ptrdiff_t)lo - 2] = e[(ptrdiff_t)lo - 1] = NEG_INF;
    e[hi] = e[hi + 1] = NEG_INF;
#pragma omp simd
    for (s = plo; s < phi; ++s) {
        next[s] = log_sum_exp3(e[s], e[s + 1], log_skip_term(e, k, s + 2));
    }
    return rescale_band(next, plo, phi);
}

/* Frame t's posteriors from its alpha row a and beta row b (log space,
 * any shifts), into the gradient and posterior rows. gam is scratch. */
CTCC_ALWAYS_INLINE void log_posterior_frame(const lin_sample *q, size_t t,
                                            const DP *a, const DP *b, DP *gam,
                                            size_t lo, size_t hi) {
    DP top;
    const double total = frame_products(a, b, gam, lo, hi, &top);
    frame_scatter(gam, (DP)(1.0 / total), lo, hi, q->ext, q->blank,
                  q->grad != NULL ? q->grad + t * q->stride : NULL,
                  q->post != NULL ? q->post + t * q->stride : NULL);
}

/* Phase 1, forward: alpha over frames [0, m), in the rows the scaled
 * kernel uses (lin_forward); dir[0].log_scale receives the sum of the
 * shifts. */
CTCC_DISPATCH
static void log_forward(const lin_sample *q) {
    const size_t S = q->S, SP = q->SP, T = q->T;
    lin_dir *d = &q->dir[0];
    DP *e = q->emit_f + CTCC_ROW_PAD;
    double scale = 0.0;
    size_t t;
    d->bad = 1;
    for (t = 0; t < q->m; ++t) {
        DP *row = lin_row(q->with_grad ? q->table : q->rows_f, SP,
                          q->with_grad ? t : (t & 1));
        const DP *prev = t == 0
                             ? row
                             : lin_row(q->with_grad ? q->table : q->rows_f, SP,
                                       q->with_grad ? t - 1 : ((t - 1) & 1));
        const size_t lo = ctcc_band_lo(S, T, t), hi = ctcc_band_hi(S, t);
        DP shift, norm;
        if (!log_frame_normaliser(q, t, &shift, &norm)) {
            return;
        }
        gather_emissions(e, q->input + t * q->stride, q->ext, shift, norm, lo,
                         hi);
        scale += (double)log_alpha_row(row, prev, e, q->kmask, lo, hi, t == 0);
    }
    d->log_scale = scale;
    d->bad = 0;
}

/* Phase 1, backward: beta over frames [m - 1, T), in the rows the scaled
 * kernel uses (lin_backward); dir[1].log_scale receives the sum of the
 * shifts. */
CTCC_DISPATCH
static void log_backward(const lin_sample *q) {
    const size_t S = q->S, T = q->T;
    lin_dir *d = &q->dir[1];
    DP *cur = lin_beta_row_at(q, T - 1), *e = q->emit_b + CTCC_ROW_PAD;
    double scale = 0.0;
    size_t t;
    d->bad = 1;
    fill_dp(cur - CTCC_ROW_PAD, q->SP, NEG_INF);
    cur[S - 1] = 0;
    if (S > 1) {
        cur[S - 2] = 0;
    }
    for (t = T - 1; t >= q->m; --t) {
        const size_t lo = ctcc_band_lo(S, T, t), hi = ctcc_band_hi(S, t);
        DP *next = lin_beta_row_at(q, t - 1);
        DP shift, norm;
        if (!log_frame_normaliser(q, t, &shift, &norm)) {
            return;
        }
        scale += (double)log_beta_row(q, t, shift, norm, next, cur, e, lo, hi,
                                      ctcc_band_lo(S, T, t - 1),
                                      ctcc_band_hi(S, t - 1));
        cur = next;
    }
    d->log_scale = scale;
    d->bad = 0;
}

/* After phase 1: log P from the meeting frame, or NaN when compute_sample
 * must redo the sample (a bad frame, or no alignment of nonzero
 * probability). */
static double log_join(const lin_sample *q) {
    const size_t S = q->S, T = q->T, t = q->m - 1;
    if (q->dir[0].bad || q->dir[1].bad) {
        return (double)NAN;
    }
    return meet_log_p(lin_row(q->with_grad ? q->table : q->rows_f, q->SP,
                              q->with_grad ? t : (t & 1)),
                      lin_beta_row_at(q, t), ctcc_band_lo(S, T, t),
                      ctcc_band_hi(S, t), q->dir[0].log_scale,
                      q->dir[1].log_scale);
}

/* Phase 2, frames [0, m): beta continues down from frame m - 1 and meets
 * the stored alpha rows. */
CTCC_DISPATCH
static void log_lower_half(const lin_sample *q) {
    const size_t S = q->S, T = q->T;
    const DP *cur = q->mid_beta + CTCC_ROW_PAD;
    size_t t;
    for (t = q->m; t-- > 0;) {
        const size_t lo = ctcc_band_lo(S, T, t), hi = ctcc_band_hi(S, t);
        DP *next;
        log_posterior_frame(q, t, lin_row(q->table, q->SP, t), cur,
                            q->scratch_f, lo, hi);
        if (t == 0) {
            break;
        }
        next = lin_row(q->rows_f, q->SP, t & 1);
        (void)log_beta_row(q, t, q->shift[t], q->norm[t], next, cur,
                           q->emit_f + CTCC_ROW_PAD, lo, hi,
                           ctcc_band_lo(S, T, t - 1), ctcc_band_hi(S, t - 1));
        cur = next;
    }
}

/* Phase 2, frames [m, T): alpha continues up from frame m - 1 and meets
 * the stored beta rows. */
CTCC_DISPATCH
static void log_upper_half(const lin_sample *q) {
    const size_t S = q->S, T = q->T;
    const DP *prev = lin_row(q->table, q->SP, q->m - 1);
    DP *e = q->emit_b + CTCC_ROW_PAD;
    size_t t;
    for (t = q->m; t < T; ++t) {
        const size_t lo = ctcc_band_lo(S, T, t), hi = ctcc_band_hi(S, t);
        DP *row = lin_row(q->rows_b, q->SP, t & 1);
        gather_emissions(e, q->input + t * q->stride, q->ext, q->shift[t],
                         q->norm[t], lo, hi);
        (void)log_alpha_row(row, prev, e, q->kmask, lo, hi, 0);
        log_posterior_frame(q, t, row, lin_row(q->table, q->SP, t),
                            q->scratch_b, lo, hi);
        prev = row;
    }
}
