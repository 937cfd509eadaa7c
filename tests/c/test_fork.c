/*
 * test_fork.c - fork safety of every entry point (include/ctcc.h, "Threads
 * and fork"): after the parent ran each of them with several OpenMP
 * threads, a forked child (and its own forked child) runs them all again,
 * asking for several threads, and must get bitwise the parent's results
 * instead of waiting forever for the threads of GNU libgomp's pool, which
 * fork() does not copy. Each child arms alarm(), so a hang ends as a
 * SIGALRM death that the parent reports, never as a stuck test.
 * POSIX only. Prints "N passed, M failed".
 */
#define _POSIX_C_SOURCE 200809L

#include <ctc.h>
#include <ctcc.h>

#include "testing.h"
#include <math.h>
#include <signal.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define T 40
#define N 8
#define C 6
#define L 3
#define BEAM 4
#define CHILD_SECONDS 60

static double g_x64[T * N * C];
static float g_x32[T * N * C];
static int32_t g_labels[N * L], g_label_lengths[N], g_input_lengths[N];

/* Every result of one round, compared bytewise between processes. */
typedef struct results {
    float cost32[N], grad32[T * N * C];
    double cost64[N], grad64[T * N * C];
    double post[T * N * C], weights[T * N], mod_cost[N];
    int32_t frames[N * T], spans[N * L * 2];
    double align_scores[N];
    int32_t decoded[N * T], decoded_lengths[N];
    float greedy_scores[N];
    int32_t paths[N * BEAM * T], path_lengths[N * BEAM];
    double beam_scores[N * BEAM];
    float warp_cost[N], warp_grad[T * N * C];
    double warp_cost64[N], warp_grad64[T * N * C];
    int status_sum; /* sum of every status: 0 when all succeed */
} results;

static void *workspace(size_t bytes) { return xmalloc(bytes); }

/* Runs every entry point with `threads` OpenMP threads into *r. */
static void run_all(int threads, results *r) {
    ctcc_options o;
    ctcOptions w;
    size_t bytes = 0;
    void *ws;
    memset(r, 0, sizeof *r);
    ctcc_options_init(&o);
    o.num_threads = threads;

    r->status_sum += ctcc_workspace_size(g_label_lengths, g_input_lengths, T, N,
                                         C, CTCC_FLOAT64, 1, &o, &bytes);
    ws = workspace(bytes);
    r->status_sum +=
        ctcc_loss_f64(g_x64, r->grad64, g_labels, g_label_lengths,
                      g_input_lengths, T, N, C, r->cost64, ws, bytes, &o);
    r->status_sum +=
        ctcc_loss_f32(g_x32, r->grad32, g_labels, g_label_lengths,
                      g_input_lengths, T, N, C, r->cost32, ws, bytes, &o);
    free(ws);

    o.alpha = 0.5;
    o.gamma = 2.0;
    r->status_sum += ctcc_workspace_size(g_label_lengths, g_input_lengths, T, N,
                                         C, CTCC_FLOAT64, 1, &o, &bytes);
    ws = workspace(bytes);
    r->status_sum +=
        ctcc_loss_posteriors_f64(g_x64, NULL, r->post, r->weights, g_labels,
                                 g_label_lengths, g_input_lengths, T, N, C,
                                 r->mod_cost, ws, bytes, &o);
    free(ws);
    o.alpha = CTCC_ALPHA_NONE;
    o.gamma = 0.0;

    r->status_sum += ctcc_align_workspace_size(g_label_lengths, g_input_lengths,
                                               T, N, C, &o, &bytes);
    ws = workspace(bytes);
    r->status_sum +=
        ctcc_align_f64(g_x64, g_labels, g_label_lengths, g_input_lengths, T, N,
                       C, r->frames, r->spans, r->align_scores, ws, bytes, &o);
    free(ws);

    r->status_sum +=
        ctcc_greedy_decode_f32(g_x32, g_input_lengths, T, N, C, r->decoded,
                               r->decoded_lengths, r->greedy_scores, &o);

    r->status_sum += ctcc_beam_workspace_size(g_input_lengths, T, N, C, BEAM,
                                              BEAM, &o, &bytes);
    ws = workspace(bytes);
    r->status_sum +=
        ctcc_beam_search_decode_f64(g_x64, g_input_lengths, T, N, C, BEAM, BEAM,
                                    0.0, NULL, r->paths, r->path_lengths,
                                    r->beam_scores, ws, bytes, &o);
    free(ws);

    memset(&w, 0, sizeof w);
    w.loc = CTC_CPU;
    w.num_threads = (unsigned int)threads;
    r->status_sum +=
        get_workspace_size(g_label_lengths, g_input_lengths, C, N, w, &bytes);
    ws = workspace(bytes);
    r->status_sum +=
        compute_ctc_loss(g_x32, r->warp_grad, g_labels, g_label_lengths,
                         g_input_lengths, C, N, r->warp_cost, ws, w);
    free(ws);
    r->status_sum += get_workspace_size_double(g_label_lengths, g_input_lengths,
                                               C, N, w, &bytes);
    ws = workspace(bytes);
    r->status_sum += compute_ctc_loss_double(g_x64, r->warp_grad64, g_labels,
                                             g_label_lengths, g_input_lengths,
                                             C, N, r->warp_cost64, ws, w);
    free(ws);
}

/* In a child: runs everything with 4 threads, compares with the parent's
 * results and, when depth allows, checks a child of its own the same way.
 * Returns nonzero on success. */
static int child_ok(const results *want, int depth) {
    results *got = (results *)xmalloc(sizeof *got);
    int ok;
    alarm(CHILD_SECONDS);
    run_all(4, got);
    ok = got->status_sum == 0 && memcmp(got, want, sizeof *got) == 0 &&
         ctcc_default_num_threads() == 1;
    free(got);
    if (ok && depth < 2) {
        int status = 0;
        const pid_t pid = fork();
        if (pid == 0) {
            _exit(child_ok(want, depth + 1) ? 0 : 1);
        }
        ok = pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
             WEXITSTATUS(status) == 0;
    }
    return ok;
}

/* Forks a child that checks everything; reports how it ended. */
static void check_child(const results *want, const char *what) {
    int status = 0;
    const pid_t pid = fork();
    if (pid == 0) {
        _exit(child_ok(want, 1) ? 0 : 1);
    }
    if (!check(pid > 0, "%s: fork", what)) {
        return;
    }
    if (waitpid(pid, &status, 0) != pid) {
        status = -1;
    }
    check(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
          "%s: the forked child (and its child) returned the parent's "
          "results (%s %d)",
          what, WIFSIGNALED(status) ? "killed by signal" : "exit status",
          WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
}

int main(void) {
    results *before = (results *)xmalloc(sizeof *before);
    results *again = (results *)xmalloc(sizeof *again);
    int i, n;
    for (i = 0; i < T * N * C; ++i) {
        g_x64[i] = rng_value(-3.0, 3.0);
        g_x32[i] = (float)g_x64[i];
    }
    for (n = 0; n < N; ++n) {
        g_label_lengths[n] = L;
        g_input_lengths[n] = T - (n % 3) * 5;
        for (i = 0; i < L; ++i) {
            g_labels[n * L + i] = 1 + (n + i) % (C - 1);
        }
    }
    if (!ctcc_openmp_enabled()) {
        printf("SKIP: built without OpenMP, nothing runs in threads\n");
    }

    run_all(4, before);
    check(before->status_sum == 0, "parent: every call succeeds");
    run_all(1, again);
    check(memcmp(before, again, sizeof *before) == 0,
          "parent: 1 and 4 threads agree bitwise");
    check_child(before, "fork after multi-threaded calls");
    /* The parent still runs with its threads. */
    run_all(4, again);
    check(memcmp(before, again, sizeof *before) == 0 &&
              ctcc_default_num_threads() >= 1,
          "parent after fork: same results");
    free(before);
    free(again);
    printf("%d passed, %d failed\n", g_passed, g_failed);
    return g_failed == 0 ? 0 : 1;
}
