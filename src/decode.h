/*
 * decode.h - declarations shared by the decoders (decode_impl.h) and their
 * workspace query (decode_workspace.c). Not installed.
 */
#ifndef CTCC_DECODE_H
#define CTCC_DECODE_H

#include "internal.h"

/* One node of the prefix trie: the prefix of its parent followed by class
 * cls. Node 0 is the root (the empty prefix, parent -1, cls -1). slot is
 * the node's index in the current beam, or -1 when it is not in it. */
typedef struct ctcc_trie_node {
    int32_t parent;
    int32_t cls;
    int32_t slot;
} ctcc_trie_node;

/* One beam entry or candidate: a prefix (trie node, or the source beam
 * slot and class of an extension whose node does not exist yet) with the
 * log-probabilities of its blank-ending and label-ending alignments. */
typedef struct ctcc_beam_entry {
    double total; /* log(exp(p_blank) + exp(p_label)) */
    double p_blank;
    double p_label;
    int32_t node; /* trie node, or -1 for a new extension */
    int32_t src;  /* beam slot the candidate comes from */
    int32_t cls;  /* extension class, -1 for the same prefix */
} ctcc_beam_entry;

/* Byte offsets of one sample's arrays from the start of its workspace
 * region, for T = input_length frames and W = beam_width:
 *   nodes     ctcc_trie_node [max_nodes], max_nodes = 1 + T * W
 *   hash      int32 [hash_size], open addressing (parent, class) -> node,
 *             hash_size a power of two >= 2 * max_nodes
 *   top_cls   int32 [W + 1]   the frame's best non-blank classes
 *   top_lp    double [W + 1]  their log-probabilities
 *   beam      ctcc_beam_entry [W]  the current beam
 *   next      ctcc_beam_entry [W]  the beam being selected
 * total is the region's size, a multiple of CTCC_ALIGN. */
typedef struct ctcc_beam_layout {
    size_t nodes, hash, top_cls, top_lp, beam, next, total;
    size_t max_nodes, hash_size;
} ctcc_beam_layout;

/* Fills *layout for one sample; returns 0 when a size overflows (or the
 * node count exceeds INT32_MAX), 1 otherwise. */
int ctcc_beam_layout_compute(int32_t input_length, int32_t beam_width,
                             ctcc_beam_layout *layout);

/* The checks every decoder shares, in the header's order: batch_size,
 * alphabet_size, max_time, input lengths, options (resolved into *opts),
 * size overflow of the inputs array. input_lengths must not be NULL. */
ctcc_status ctcc_decode_check(const int32_t *input_lengths, int32_t max_time,
                              int32_t batch_size, int32_t alphabet_size,
                              const ctcc_options *options,
                              ctcc_resolved_options *opts);

/* ctcc_decode_check, then the beam parameters (beam_width >= 1, 1 <=
 * top_paths <= beam_width, blank_penalty finite, log_prior NULL or C
 * finite values), then the size of the paths array and of the workspace,
 * whose byte count goes to *bytes. */
ctcc_status ctcc_beam_check(const int32_t *input_lengths, int32_t max_time,
                            int32_t batch_size, int32_t alphabet_size,
                            int32_t beam_width, int32_t top_paths,
                            double blank_penalty, const double *log_prior,
                            const ctcc_options *options,
                            ctcc_resolved_options *opts, size_t *bytes);

/* Bytes of the workspace head: one size_t [batch_size] holding each
 * sample's region offset, rounded up to CTCC_ALIGN. The workspace is the
 * head, then each sample's region, plus CTCC_ALIGN bytes of slack. */
size_t ctcc_beam_head_bytes(int32_t batch_size, int *ok);

#endif /* CTCC_DECODE_H */
