/*
 * decode_impl.h - the CTC decoders, written once for both precisions.
 *
 * A compilation unit defines, then includes this file:
 *   REAL          float or double, the precision of inputs and scores
 *   REAL_EXP_NEG  exp for REAL arguments <= 1 (fast_math.h)
 *   GREEDY_NAME   the greedy entry point (ctcc_greedy_decode_f32 / _f64)
 *   BEAM_NAME     the beam search entry point (ctcc_beam_search_decode_...)
 *
 * Greedy (best path): per valid frame the largest class (the lowest index
 * among equal ones), then repeats merged and blanks dropped. Its score is
 * the sum of the chosen log-softmax values, max_c x[c] - log sum_c
 * exp(x[c]) (for log-probs input max_c x[c]).
 *
 * Prefix beam search, per sample, in double log space. A beam entry is a
 * label prefix with p_blank (log-probability of the alignments of the
 * frames so far that collapse to the prefix and end in a blank) and
 * p_label (those that end in the prefix's last label). Per frame, with
 * lp(c) the frame's log-probability of class c after the blank penalty and
 * the prior:
 *   same prefix     p_blank' = total + lp(blank)
 *                   p_label' = p_label + lp(last)      (the last label
 *                              repeated, merged by CTC)
 *   extension by c  p_label' = (c == last ? p_blank : total) + lp(c),
 *                   c not the blank
 * Identical prefixes are merged (log-added): an extension q' + c is the
 * same prefix as a beam entry q exactly when q's trie node has parent q'
 * and class c, and is added to q's own candidate.
 *
 * Prefixes live in a trie (node = parent + class) in the workspace. A node
 * is created only for a selected extension, at most beam_width per frame,
 * so 1 + T * beam_width nodes suffice. Nodes are unique per prefix: a hash
 * table (parent, class) -> node is consulted before creating one, so a
 * prefix that leaves the beam and re-enters it later gets its old node
 * back (otherwise two nodes could spell one prefix and a merge be missed).
 *
 * Pruning, exact: for a fixed beam entry q', its new-prefix extensions
 * score base + lp(c) with base = total (or the smaller p_blank when c is
 * q''s last label). If c is not among the beam_width + 1 best non-blank
 * classes of the frame, those classes give at least beam_width candidates
 * from q' (one of them may be q''s last label) that each score at least as
 * much: new prefixes, or merged extensions whose merged candidate scores
 * more still. So c cannot enter the beam and only those beam_width + 1
 * classes are tried; the merged extensions (parent(q) -> q for each beam
 * entry q whose parent is in the beam) are always added, whatever their
 * class. Scanning the classes from the best down, the scan of q' also
 * stops as soon as total(q') + lp(c) falls below the beam's worst.
 *
 * Ties: candidates are ordered by score, then by the beam slot they come
 * from (the previous frame's rank), then by class (the same prefix
 * first). Everything is per sample in a fixed order, so the results are
 * bitwise identical for any thread count.
 *
 * Non-finite inputs: a NaN or +inf in a sample's valid frames gives that
 * sample score NaN and empty results. -inf marks an impossible class.
 */
#include "decode.h"
#include "fast_math.h"

#include <math.h>
#include <string.h>

#ifndef CTCC_DECODE_COMMON
#define CTCC_DECODE_COMMON

/* log(exp(a) + exp(b)), exact for -inf arguments. */
static inline double decode_log_add(double a, double b) {
    if (a < b) {
        const double t = a;
        a = b;
        b = t;
    }
    if (b == -INFINITY) {
        return a;
    }
    return a + log1p(exp(b - a));
}

/* a ranks before b. */
static inline int decode_better(const ctcc_beam_entry *a,
                                const ctcc_beam_entry *b) {
    if (a->total != b->total) {
        return a->total > b->total;
    }
    if (a->src != b->src) {
        return a->src < b->src;
    }
    return a->cls < b->cls;
}

/* Inserts *c into the sorted list[0..*count) of capacity cap, if it ranks
 * among the cap best. */
static inline void decode_insert(ctcc_beam_entry *list, int32_t *count,
                                 int32_t cap, const ctcc_beam_entry *c) {
    int32_t pos = *count;
    if (pos == cap) {
        if (!decode_better(c, &list[cap - 1])) {
            return;
        }
        --pos;
    } else {
        ++*count;
    }
    while (pos > 0 && decode_better(c, &list[pos - 1])) {
        list[pos] = list[pos - 1];
        --pos;
    }
    list[pos] = *c;
}

static inline size_t decode_hash(int32_t parent, int32_t cls, size_t mask) {
    const uint64_t key = ((uint64_t)(uint32_t)parent << 32) | (uint32_t)cls;
    return (size_t)((key * UINT64_C(0x9E3779B97F4A7C15)) >> 32) & mask;
}

/* The node spelling parent's prefix + cls, or -1. */
static inline int32_t decode_find(const int32_t *table, size_t mask,
                                  const ctcc_trie_node *nodes, int32_t parent,
                                  int32_t cls) {
    size_t h = decode_hash(parent, cls, mask);
    while (table[h] >= 0) {
        const ctcc_trie_node *n = &nodes[table[h]];
        if (n->parent == parent && n->cls == cls) {
            return table[h];
        }
        h = (h + 1) & mask;
    }
    return -1;
}

/* Adds node index id (whose parent and class are set) to the table. */
static inline void decode_add(int32_t *table, size_t mask, int32_t parent,
                              int32_t cls, int32_t id) {
    size_t h = decode_hash(parent, cls, mask);
    while (table[h] >= 0) {
        h = (h + 1) & mask;
    }
    table[h] = id;
}

#endif /* CTCC_DECODE_COMMON */

/* Per-precision helpers get the entry point's name as a prefix. */
#define DECODE_CAT2(a, b) a##_##b
#define DECODE_CAT(a, b) DECODE_CAT2(a, b)
#define DFN(name) DECODE_CAT(GREEDY_NAME, name)

/* Scans frame x[0..C): its maximum, and whether it holds NaN or +inf. */
static inline REAL DFN(frame_max)(const REAL *x, size_t C, int *bad) {
    REAL m = (REAL)(-INFINITY);
    int b = 0;
    size_t c;
#pragma omp simd reduction(max : m) reduction(| : b)
    for (c = 0; c < C; ++c) {
        m = x[c] > m ? x[c] : m;
        b |= !(x[c] < (REAL)INFINITY);
    }
    *bad = b;
    return m;
}

/* log sum_c exp(x[c] - m) given the frame's finite maximum m, in double:
 * log softmax(x)[c] = (x[c] - m) - this. (Adding m back first would round
 * this away for |m| beyond about 1e15.) */
static inline double DFN(log_norm)(const REAL *x, size_t C, REAL m) {
    double sum = 0.0;
    size_t c;
#pragma omp simd reduction(+ : sum)
    for (c = 0; c < C; ++c) {
        sum += (double)REAL_EXP_NEG(x[c] - m);
    }
    return log(sum);
}

/* ------------------------------------------------------------------------ */
/* Greedy                                                                   */
/* ------------------------------------------------------------------------ */

#ifndef GREEDY_BLOCK
#define GREEDY_BLOCK 64
#endif

CTCC_DISPATCH
static void DFN(greedy_sample)(const REAL *input, size_t stride, size_t C,
                               size_t T, size_t max_time, int blank,
                               int log_probs, int32_t *out, int32_t *out_len,
                               REAL *score) {
    double sum = 0.0;
    int bad = 0;
    int32_t len = 0, prev = -1;
    size_t t;
    for (t = 0; t < T; ++t) {
        const REAL *x = input + t * stride;
        REAL m = (REAL)(-INFINITY);
        size_t from = 0, c0, c;
        int32_t arg;
        int frame_bad = 0;
        /* The maximum of each block of classes (vectorised), then the first
         * class of the first block that holds the overall maximum. */
        for (c0 = 0; c0 < C; c0 += GREEDY_BLOCK) {
            const size_t end = c0 + GREEDY_BLOCK < C ? c0 + GREEDY_BLOCK : C;
            REAL bm = (REAL)(-INFINITY);
#pragma omp simd reduction(max : bm) reduction(| : frame_bad)
            for (c = c0; c < end; ++c) {
                bm = x[c] > bm ? x[c] : bm;
                frame_bad |= !(x[c] < (REAL)INFINITY);
            }
            if (bm > m) {
                m = bm;
                from = c0;
            }
        }
        if (frame_bad) {
            bad = 1;
            break;
        }
        for (c = from; c < C && x[c] != m; ++c) {
        }
        arg = c < C ? (int32_t)c : 0; /* 0 when every class is -inf */
        if (score == NULL) {
            /* no score wanted: skip the normaliser */
        } else if (m == (REAL)(-INFINITY)) {
            sum = -INFINITY;
        } else if (log_probs) {
            sum += (double)m;
        } else {
            sum -= DFN(log_norm)(x, C, m); /* (m - m) - log sum */
        }
        if (arg != blank && arg != prev) {
            out[len++] = arg;
        }
        prev = arg;
    }
    if (bad) {
        len = 0;
        sum = NAN;
    }
    for (t = (size_t)len; t < max_time; ++t) {
        out[t] = -1;
    }
    *out_len = len;
    if (score != NULL) {
        *score = (REAL)sum;
    }
}

ctcc_status GREEDY_NAME(const REAL *inputs, const int32_t *input_lengths,
                        int32_t max_time, int32_t batch_size,
                        int32_t alphabet_size, int32_t *decoded,
                        int32_t *decoded_lengths, REAL *scores,
                        const ctcc_options *options) {
    ctcc_resolved_options opts;
    ctcc_status status;
    int threads, n;
    if (inputs == NULL || input_lengths == NULL || decoded == NULL ||
        decoded_lengths == NULL) {
        return CTCC_STATUS_NULL_POINTER;
    }
    status = ctcc_decode_check(input_lengths, max_time, batch_size,
                               alphabet_size, options, &opts);
    if (status != CTCC_STATUS_SUCCESS) {
        return status;
    }
    threads = ctcc_thread_count(opts.num_threads, batch_size);
    (void)threads;
#ifdef _OPENMP
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
#endif
    for (n = 0; n < batch_size; ++n) {
        const size_t N = (size_t)batch_size, C = (size_t)alphabet_size;
        const size_t T = (size_t)max_time, nn = (size_t)n;
        const int tm = opts.layout == CTCC_LAYOUT_TIME_MAJOR;
        DFN(greedy_sample)(inputs + (tm ? nn * C : nn * T * C), tm ? N * C : C,
                           C, (size_t)input_lengths[n], T, opts.blank,
                           opts.input_kind == CTCC_INPUT_LOG_PROBS,
                           decoded + nn * T, decoded_lengths + nn,
                           scores != NULL ? scores + nn : NULL);
    }
    return CTCC_STATUS_SUCCESS;
}

/* ------------------------------------------------------------------------ */
/* Prefix beam search                                                       */
/* ------------------------------------------------------------------------ */

typedef struct DFN(beam_args) {
    const REAL *input; /* frame 0 of the sample */
    size_t stride;     /* elements between consecutive frames */
    size_t C, T, max_time;
    int blank, log_probs;
    int32_t width, top_paths;
    double blank_penalty;
    const double *log_prior; /* NULL or [C] */
    int32_t *paths;          /* [top_paths, max_time] */
    int32_t *lengths;        /* [top_paths] */
    REAL *scores;            /* [top_paths] */
    unsigned char *workspace;
} DFN(beam_args);

CTCC_DISPATCH
static void DFN(beam_sample)(const DFN(beam_args) * a) {
    const size_t C = a->C;
    const int32_t W = a->width;
    const int blank = a->blank;
    const double *prior = a->log_prior;
    ctcc_beam_layout lay;
    ctcc_trie_node *nodes;
    int32_t *table, *top_cls;
    double *top_lp;
    ctcc_beam_entry *beam, *next;
    size_t mask, t;
    int32_t count = 1, node_count = 1, j;
    int bad = 0;

    ctcc_beam_layout_compute((int32_t)a->T, W, &lay);
    nodes = (ctcc_trie_node *)(a->workspace + lay.nodes);
    table = (int32_t *)(a->workspace + lay.hash);
    top_cls = (int32_t *)(a->workspace + lay.top_cls);
    top_lp = (double *)(a->workspace + lay.top_lp);
    beam = (ctcc_beam_entry *)(a->workspace + lay.beam);
    next = (ctcc_beam_entry *)(a->workspace + lay.next);
    mask = lay.hash_size - 1;
    memset(table, 0xff, lay.hash_size * sizeof(int32_t)); /* all -1 */

    nodes[0].parent = -1;
    nodes[0].cls = -1;
    nodes[0].slot = -1;
    beam[0].total = 0.0;
    beam[0].p_blank = 0.0;
    beam[0].p_label = -INFINITY;
    beam[0].node = 0;
    beam[0].src = 0;
    beam[0].cls = -1;

    for (t = 0; t < a->T; ++t) {
        const REAL *x = a->input + t * a->stride;
        double norm = 0.0, shift = 0.0, lp_blank;
        int32_t k = 0, i, next_count = 0;
        int frame_bad;
        const REAL m = DFN(frame_max)(x, C, &frame_bad);
        if (frame_bad) {
            bad = 1;
            break;
        }
        if (count == 0) {
            continue; /* no prefix left; later frames are still checked */
        }
        if (!a->log_probs) {
            if (m == (REAL)(-INFINITY)) {
                count = 0; /* no class possible at this frame */
                continue;
            }
            norm = DFN(log_norm)(x, C, m);
            shift = (double)m;
        }

        /* lp(c) = (x[c] - shift) - norm - prior[c] (- blank_penalty for
         * the blank). */
#define LP(c) (((double)x[c] - shift) - norm - (prior != NULL ? prior[c] : 0.0))
        lp_blank = LP(blank) - a->blank_penalty;

        /* The W + 1 best non-blank classes, best first (ties: lowest
         * class first). */
        {
            const int32_t cap = W + 1;
            size_t c;
            for (c = 0; c < C; ++c) {
                double v;
                int32_t pos;
                if ((int)c == blank) {
                    continue;
                }
                v = LP(c);
                if (v == -INFINITY || (k == cap && !(v > top_lp[cap - 1]))) {
                    continue;
                }
                pos = k < cap ? k++ : cap - 1;
                while (pos > 0 && top_lp[pos - 1] < v) {
                    top_lp[pos] = top_lp[pos - 1];
                    top_cls[pos] = top_cls[pos - 1];
                    --pos;
                }
                top_lp[pos] = v;
                top_cls[pos] = (int32_t)c;
            }
        }

        for (i = 0; i < count; ++i) {
            nodes[beam[i].node].slot = i;
        }

        /* Same prefixes, each with the extension from its parent merged
         * in when the parent is in the beam. */
        for (i = 0; i < count; ++i) {
            const ctcc_beam_entry *e = &beam[i];
            const ctcc_trie_node *nd = &nodes[e->node];
            ctcc_beam_entry cand;
            cand.p_blank = e->total + lp_blank;
            cand.p_label = -INFINITY;
            if (e->node != 0) {
                const double lc = LP(nd->cls);
                cand.p_label = e->p_label + lc;
                if (nodes[nd->parent].slot >= 0) {
                    const ctcc_beam_entry *src = &beam[nodes[nd->parent].slot];
                    const double base = nodes[src->node].cls == nd->cls
                                            ? src->p_blank
                                            : src->total;
                    cand.p_label = decode_log_add(cand.p_label, base + lc);
                }
            }
            cand.total = decode_log_add(cand.p_blank, cand.p_label);
            if (cand.total == -INFINITY) {
                continue;
            }
            cand.node = e->node;
            cand.src = i;
            cand.cls = -1;
            decode_insert(next, &next_count, W, &cand);
        }

        /* New prefixes: each entry extended by the best classes. */
        for (i = 0; i < count; ++i) {
            const ctcc_beam_entry *e = &beam[i];
            const int32_t last = nodes[e->node].cls;
            int32_t r;
            for (r = 0; r < k; ++r) {
                const int32_t c = top_cls[r];
                const double bound = e->total + top_lp[r];
                ctcc_beam_entry cand;
                int32_t child;
                if (next_count == W && bound < next[W - 1].total) {
                    break; /* the rest of this entry's extensions score less */
                }
                cand.total = c == last ? e->p_blank + top_lp[r] : bound;
                if (cand.total == -INFINITY) {
                    continue;
                }
                child = decode_find(table, mask, nodes, e->node, c);
                if (child >= 0 && nodes[child].slot >= 0) {
                    continue; /* in the beam: merged above */
                }
                cand.p_blank = -INFINITY;
                cand.p_label = cand.total;
                cand.node = child;
                cand.src = i;
                cand.cls = c;
                decode_insert(next, &next_count, W, &cand);
            }
        }
#undef LP

        for (i = 0; i < count; ++i) {
            nodes[beam[i].node].slot = -1;
        }
        /* Trie nodes for the selected new prefixes. */
        for (i = 0; i < next_count; ++i) {
            ctcc_beam_entry *e = &next[i];
            if (e->cls >= 0 && e->node < 0) {
                const int32_t parent = beam[e->src].node;
                ctcc_trie_node *nd = &nodes[node_count];
                nd->parent = parent;
                nd->cls = e->cls;
                nd->slot = -1;
                decode_add(table, mask, parent, e->cls, node_count);
                e->node = node_count++;
            }
        }
        {
            ctcc_beam_entry *tmp = beam;
            beam = next;
            next = tmp;
        }
        count = next_count;
    }

    for (j = 0; j < a->top_paths; ++j) {
        int32_t *row = a->paths + (size_t)j * a->max_time;
        int32_t len = 0;
        size_t s;
        if (!bad && j < count) {
            int32_t id;
            for (id = beam[j].node; id != 0; id = nodes[id].parent) {
                ++len;
            }
            s = (size_t)len;
            for (id = beam[j].node; id != 0; id = nodes[id].parent) {
                row[--s] = nodes[id].cls;
            }
            a->scores[j] = (REAL)beam[j].total;
        } else {
            a->scores[j] = bad ? (REAL)NAN : (REAL)(-INFINITY);
        }
        for (s = (size_t)len; s < a->max_time; ++s) {
            row[s] = -1;
        }
        a->lengths[j] = len;
    }
}

ctcc_status BEAM_NAME(const REAL *inputs, const int32_t *input_lengths,
                      int32_t max_time, int32_t batch_size,
                      int32_t alphabet_size, int32_t beam_width,
                      int32_t top_paths, double blank_penalty,
                      const double *log_prior, int32_t *paths,
                      int32_t *path_lengths, REAL *scores, void *workspace,
                      size_t workspace_bytes, const ctcc_options *options) {
    ctcc_resolved_options opts;
    ctcc_status status;
    size_t needed = 0, *offsets;
    unsigned char *base;
    int ok = 1, threads, n;
    if (inputs == NULL || input_lengths == NULL || paths == NULL ||
        path_lengths == NULL || scores == NULL || workspace == NULL) {
        return CTCC_STATUS_NULL_POINTER;
    }
    status = ctcc_beam_check(input_lengths, max_time, batch_size, alphabet_size,
                             beam_width, top_paths, blank_penalty, log_prior,
                             options, &opts, &needed);
    if (status != CTCC_STATUS_SUCCESS) {
        return status;
    }
    if (workspace_bytes < needed) {
        return CTCC_STATUS_WORKSPACE_TOO_SMALL;
    }

    base = ctcc_align_ptr(workspace);
    offsets = (size_t *)base;
    {
        size_t pos = ctcc_beam_head_bytes(batch_size, &ok);
        for (n = 0; n < batch_size; ++n) {
            ctcc_beam_layout lay;
            ctcc_beam_layout_compute(input_lengths[n], beam_width, &lay);
            offsets[n] = pos;
            pos += lay.total;
        }
    }

    threads = ctcc_thread_count(opts.num_threads, batch_size);
    (void)threads;
#ifdef _OPENMP
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
#endif
    for (n = 0; n < batch_size; ++n) {
        DFN(beam_args) a;
        const size_t N = (size_t)batch_size, C = (size_t)alphabet_size;
        const size_t T = (size_t)max_time, nn = (size_t)n;
        const size_t K = (size_t)top_paths;
        const int tm = opts.layout == CTCC_LAYOUT_TIME_MAJOR;
        a.input = inputs + (tm ? nn * C : nn * T * C);
        a.stride = tm ? N * C : C;
        a.C = C;
        a.T = (size_t)input_lengths[n];
        a.max_time = T;
        a.blank = opts.blank;
        a.log_probs = opts.input_kind == CTCC_INPUT_LOG_PROBS;
        a.width = beam_width;
        a.top_paths = top_paths;
        a.blank_penalty = blank_penalty;
        a.log_prior = log_prior;
        a.paths = paths + nn * K * T;
        a.lengths = path_lengths + nn * K;
        a.scores = scores + nn * K;
        a.workspace = base + offsets[n];
        DFN(beam_sample)(&a);
    }
    return CTCC_STATUS_SUCCESS;
}

#undef DFN
#undef DECODE_CAT
#undef DECODE_CAT2
