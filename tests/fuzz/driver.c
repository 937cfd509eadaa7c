/*
 * driver.c - a small coverage-guided mutational fuzzer for toolchains
 * without libFuzzer (GCC). Links with any libFuzzer-style target:
 *
 *   int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
 *
 * Coverage: compile the code under test (not this file) with
 * -fsanitize-coverage=trace-pc; GCC then calls __sanitizer_cov_trace_pc()
 * at every basic block, and this file hashes the caller's address,
 * XORed with the previous location (AFL-style edges), into a 64 KiB
 * bitmap of hit counts. An input that reaches a new edge or a new hit
 * count bucket joins the corpus. Without the instrumentation the driver
 * still runs (random mutation of the seeds) and says so.
 *
 * Usage (libFuzzer's conventions where they apply):
 *   driver [-runs=N] [-max_total_time=S] [-seed=S] [-max_len=N]
 *          [-artifact_prefix=P] [-output_corpus=DIR] [DIR|FILE ...]
 *     Directories are read as seed corpora (never written to). With
 *     -runs=0, or when only files are named, every input is run once and
 *     the driver exits (regression mode). Otherwise it fuzzes until -runs
 *     executions or -max_total_time seconds (default: forever).
 *   On a crash (sanitizer report, abort(), a fatal signal) the input is
 *   written to <artifact_prefix>crash-<hash> before the process dies.
 */
#define _POSIX_C_SOURCE 200809L

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ---------------------------------------------------------------------- */
/* Coverage                                                               */
/* ---------------------------------------------------------------------- */

#define MAP_SIZE 65536

static uint8_t cov_map[MAP_SIZE]; /* hit counts of the current run */
static uint8_t virgin[MAP_SIZE];  /* buckets seen so far, per edge */
/* Thread-local, so that OpenMP workers running instrumented code at the
 * same time do not mix their paths into spurious edges. */
static _Thread_local uintptr_t prev_loc;
static volatile int cov_seen; /* set once the hook has run */

/* Runs before the sanitizers' shadow memory exists (from ifunc resolvers
 * during relocation), so it must not be instrumented itself. */
#if defined(__clang__)
#define NO_SANITIZE __attribute__((no_sanitize("address", "undefined")))
#elif defined(__GNUC__)
#define NO_SANITIZE __attribute__((no_sanitize_address, no_sanitize_undefined))
#else
#define NO_SANITIZE
#endif

void __sanitizer_cov_trace_pc(void);
NO_SANITIZE void __sanitizer_cov_trace_pc(void) {
    uintptr_t loc = (uintptr_t)__builtin_return_address(0);
    loc = (uintptr_t)(((uint64_t)loc * 0x9E3779B97F4A7C15ull) >> 48);
    cov_map[(loc ^ prev_loc) & (MAP_SIZE - 1)]++;
    prev_loc = loc >> 1;
    cov_seen = 1;
}

/* AFL's hit count buckets: 1, 2, 3, 4-7, 8-15, 16-31, 32-127, 128+. */
static uint8_t bucket(uint8_t c) {
    if (c == 0) {
        return 0;
    }
    if (c <= 3) {
        return (uint8_t)(1u << (c - 1));
    }
    if (c <= 7) {
        return 8;
    }
    if (c <= 15) {
        return 16;
    }
    if (c <= 31) {
        return 32;
    }
    if (c <= 127) {
        return 64;
    }
    return 128;
}

static size_t edges; /* edges ever hit */

/* Merges the run's map into virgin; returns 1 if something was new. */
static int merge_coverage(void) {
    int fresh = 0;
    size_t i;
    const uint64_t *w = (const uint64_t *)(const void *)cov_map;
    for (i = 0; i < MAP_SIZE / 8; ++i) {
        size_t j;
        if (w[i] == 0) {
            continue;
        }
        for (j = i * 8; j < i * 8 + 8; ++j) {
            const uint8_t b = bucket(cov_map[j]);
            if (b & ~virgin[j]) {
                if (virgin[j] == 0) {
                    ++edges;
                }
                virgin[j] |= b;
                fresh = 1;
            }
        }
    }
    return fresh;
}

/* ---------------------------------------------------------------------- */
/* Crash capture                                                          */
/* ---------------------------------------------------------------------- */

static const uint8_t *cur_data;
static size_t cur_size;
static int save_crashes;
static char artifact_prefix[512] = "";

static uint64_t fnv1a(const uint8_t *p, size_t n) {
    uint64_t h = 0xcbf29ce484222325ull;
    size_t i;
    for (i = 0; i < n; ++i) {
        h = (h ^ p[i]) * 0x100000001b3ull;
    }
    return h;
}

/* Async-signal-safe: writes the current input to <prefix>crash-<hash>. */
static void write_crash(void) {
    static volatile sig_atomic_t done;
    char name[600];
    size_t k = 0, i;
    uint64_t h;
    int fd;
    if (!save_crashes || done || cur_data == NULL) {
        return;
    }
    done = 1;
    h = fnv1a(cur_data, cur_size);
    for (i = 0; artifact_prefix[i] != '\0' && k < 520; ++i) {
        name[k++] = artifact_prefix[i];
    }
    memcpy(name + k, "crash-", 6);
    k += 6;
    for (i = 0; i < 16; ++i) {
        name[k++] = "0123456789abcdef"[(h >> (60 - 4 * i)) & 15];
    }
    name[k] = '\0';
    fd = open(name, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
        size_t off = 0;
        while (off < cur_size) {
            const ssize_t w = write(fd, cur_data + off, cur_size - off);
            if (w <= 0) {
                break;
            }
            off += (size_t)w;
        }
        close(fd);
        {
            static const char msg[] = "\n==driver== crashing input saved "
                                      "to ";
            (void)!write(2, msg, sizeof msg - 1);
            (void)!write(2, name, k);
            (void)!write(2, "\n", 1);
        }
    }
}

static void on_signal(int sig) {
    write_crash();
    signal(sig, SIG_DFL);
    raise(sig);
}

/* Sanitizers call this before they exit on an error. */
extern void __sanitizer_set_death_callback(void (*callback)(void))
    __attribute__((weak));

static void install_handlers(void) {
    static const int sigs[] = {SIGABRT, SIGFPE, SIGILL, SIGBUS, SIGSEGV};
    size_t i;
    const int have_san = __sanitizer_set_death_callback != NULL;
    if (have_san) {
        __sanitizer_set_death_callback(write_crash);
    }
    for (i = 0; i < sizeof sigs / sizeof sigs[0]; ++i) {
        /* AddressSanitizer reports SIGSEGV/SIGBUS/SIGFPE itself (and
         * then calls the death callback); keep its handlers. */
        if (have_san && sigs[i] != SIGABRT && sigs[i] != SIGILL) {
            continue;
        }
        signal(sigs[i], on_signal);
    }
}

/* ---------------------------------------------------------------------- */
/* Corpus                                                                 */
/* ---------------------------------------------------------------------- */

typedef struct {
    uint8_t *data;
    size_t size;
} input;

static input *corpus;
static size_t corpus_n, corpus_cap;
static char output_corpus[512] = "";

static void corpus_add(const uint8_t *d, size_t n) {
    if (corpus_n == corpus_cap) {
        corpus_cap = corpus_cap ? 2 * corpus_cap : 64;
        corpus = (input *)realloc(corpus, corpus_cap * sizeof *corpus);
        if (corpus == NULL) {
            fprintf(stderr, "driver: out of memory\n");
            exit(1);
        }
    }
    corpus[corpus_n].data = (uint8_t *)malloc(n ? n : 1);
    if (corpus[corpus_n].data == NULL) {
        fprintf(stderr, "driver: out of memory\n");
        exit(1);
    }
    memcpy(corpus[corpus_n].data, d, n);
    corpus[corpus_n].size = n;
    ++corpus_n;
    if (output_corpus[0] != '\0') {
        char path[700];
        FILE *f;
        snprintf(path, sizeof path, "%s/%016llx", output_corpus,
                 (unsigned long long)fnv1a(d, n));
        f = fopen(path, "wb");
        if (f != NULL) {
            fwrite(d, 1, n, f);
            fclose(f);
        }
    }
}

static int read_file(const char *path, uint8_t **data, size_t *size,
                     size_t max_len) {
    FILE *f = fopen(path, "rb");
    uint8_t *buf;
    size_t n;
    if (f == NULL) {
        return 0;
    }
    buf = (uint8_t *)malloc(max_len ? max_len : 1);
    if (buf == NULL) {
        fclose(f);
        return 0;
    }
    n = fread(buf, 1, max_len, f);
    fclose(f);
    *data = buf;
    *size = n;
    return 1;
}

static int is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The regular files of a directory, sorted by name. */
static char **list_dir(const char *dir, size_t *count) {
    DIR *d = opendir(dir);
    struct dirent *e;
    char **names = NULL;
    size_t n = 0, cap = 0;
    *count = 0;
    if (d == NULL) {
        return NULL;
    }
    while ((e = readdir(d)) != NULL) {
        char path[4096];
        struct stat st;
        if (e->d_name[0] == '.') {
            continue;
        }
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
            continue;
        }
        if (n == cap) {
            cap = cap ? 2 * cap : 32;
            names = (char **)realloc(names, cap * sizeof *names);
            if (names == NULL) {
                exit(1);
            }
        }
        names[n] = (char *)malloc(strlen(path) + 1);
        if (names[n] == NULL) {
            exit(1);
        }
        strcpy(names[n], path);
        ++n;
    }
    closedir(d);
    if (n > 1) {
        qsort(names, n, sizeof *names, cmp_str);
    }
    *count = n;
    return names;
}

/* ---------------------------------------------------------------------- */
/* Running one input                                                      */
/* ---------------------------------------------------------------------- */

static int run_one(const uint8_t *data, size_t size) {
    /* A private copy, so the target cannot read past the input unnoticed
     * (AddressSanitizer) or keep a pointer into the corpus. */
    uint8_t *copy = (uint8_t *)malloc(size ? size : 1);
    int fresh;
    if (copy == NULL) {
        fprintf(stderr, "driver: out of memory\n");
        exit(1);
    }
    memcpy(copy, data, size);
    memset(cov_map, 0, sizeof cov_map);
    prev_loc = 0;
    cur_data = copy;
    cur_size = size;
    (void)LLVMFuzzerTestOneInput(copy, size);
    cur_data = NULL;
    free(copy);
    fresh = merge_coverage();
    return fresh;
}

/* ---------------------------------------------------------------------- */
/* Mutation                                                               */
/* ---------------------------------------------------------------------- */

static uint64_t rng_state = 1;

static uint64_t rnd(void) {
    /* xorshift64* */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1Dull;
}

static size_t rbelow(size_t n) { return n ? (size_t)(rnd() % n) : 0; }

static const int32_t interesting[] = {
    0,      1,    -1,        2,          16,
    32,     64,   100,       127,        -128,
    128,    255,  256,       512,        1000,
    1024,   4096, 32767,     -32768,     65535,
    65536,  -129, 100663045, 2147483647, (int32_t)0x80000000u,
    0x7FFF, 40,   41,        12,         13,
    6,      7};

/* Mutates buf (size *n, capacity cap) in place. */
static void mutate(uint8_t *buf, size_t *n, size_t cap) {
    const int stack = 1 + (int)rbelow(6);
    int k;
    for (k = 0; k < stack; ++k) {
        size_t len = *n;
        switch (rbelow(len == 0 ? 2 : 11)) {
        case 0: /* insert random bytes */
        case 1: {
            const size_t add = 1 + rbelow(len < 8 ? 8 : 16);
            const size_t at = rbelow(len + 1);
            size_t i;
            if (len + add > cap) {
                break;
            }
            memmove(buf + at + add, buf + at, len - at);
            for (i = 0; i < add; ++i) {
                buf[at + i] = (uint8_t)rnd();
            }
            *n = len + add;
            break;
        }
        case 2: /* bit flip */
            buf[rbelow(len)] ^= (uint8_t)(1u << rbelow(8));
            break;
        case 3: /* random byte */
            buf[rbelow(len)] = (uint8_t)rnd();
            break;
        case 4: /* small add/sub */
            buf[rbelow(len)] += (uint8_t)(rbelow(33) - 16);
            break;
        case 5: { /* interesting value, 1, 2 or 4 bytes, either endian */
            const int32_t v =
                interesting[rbelow(sizeof interesting / sizeof interesting[0])];
            const size_t w = (size_t)1 << rbelow(3);
            const int big = (int)(rnd() & 1);
            size_t at, i;
            if (len < w) {
                break;
            }
            at = rbelow(len - w + 1);
            for (i = 0; i < w; ++i) {
                const size_t sh = 8 * (big ? w - 1 - i : i);
                buf[at + i] = (uint8_t)((uint32_t)v >> sh);
            }
            break;
        }
        case 6: { /* delete a chunk */
            const size_t del = 1 + rbelow(len < 16 ? len : 16);
            const size_t at = rbelow(len - del + 1);
            memmove(buf + at, buf + at + del, len - at - del);
            *n = len - del;
            break;
        }
        case 7: { /* duplicate a chunk (insert a copy) */
            const size_t cl = 1 + rbelow(len < 32 ? len : 32);
            const size_t from = rbelow(len - cl + 1);
            const size_t at = rbelow(len + 1);
            uint8_t tmp[32];
            if (len + cl > cap) {
                break;
            }
            memcpy(tmp, buf + from, cl);
            memmove(buf + at + cl, buf + at, len - at);
            memcpy(buf + at, tmp, cl);
            *n = len + cl;
            break;
        }
        case 8: { /* overwrite with a chunk of itself */
            const size_t cl = 1 + rbelow(len < 32 ? len : 32);
            const size_t from = rbelow(len - cl + 1);
            const size_t to = rbelow(len - cl + 1);
            memmove(buf + to, buf + from, cl);
            break;
        }
        case 9: { /* splice: a prefix of this, a suffix of another entry */
            const input *o = &corpus[rbelow(corpus_n)];
            const size_t cut = rbelow(len + 1);
            const size_t ocut = rbelow(o->size + 1);
            size_t take = o->size - ocut;
            if (cut + take > cap) {
                take = cap - cut;
            }
            memcpy(buf + cut, o->data + ocut, take);
            *n = cut + take;
            break;
        }
        default: { /* overwrite a chunk with another entry's bytes */
            const input *o = &corpus[rbelow(corpus_n)];
            size_t cl, to, from;
            if (o->size == 0) {
                break;
            }
            cl = 1 + rbelow(o->size < len ? o->size : len);
            from = rbelow(o->size - cl + 1);
            to = rbelow(len - cl + 1);
            memcpy(buf + to, o->data + from, cl);
            break;
        }
        }
    }
}

/* ---------------------------------------------------------------------- */
/* Main                                                                   */
/* ---------------------------------------------------------------------- */

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int flag(const char *arg, const char *name, const char **value) {
    const size_t n = strlen(name);
    if (arg[0] == '-' && strncmp(arg + 1, name, n) == 0 && arg[1 + n] == '=') {
        *value = arg + 2 + n;
        return 1;
    }
    return 0;
}

int main(int argc, char **argv) {
    long long runs = -1;
    double max_time = 0.0, start, last_print;
    unsigned long long seed = 0;
    size_t max_len = 4096, i, nfiles = 0, ndirs = 0;
    long long execs = 0;
    uint8_t *buf;
    int a;

    for (a = 1; a < argc; ++a) {
        const char *v;
        if (flag(argv[a], "runs", &v)) {
            runs = atoll(v);
        } else if (flag(argv[a], "max_total_time", &v)) {
            max_time = atof(v);
        } else if (flag(argv[a], "seed", &v)) {
            seed = strtoull(v, NULL, 10);
        } else if (flag(argv[a], "max_len", &v)) {
            max_len = (size_t)atoll(v);
        } else if (flag(argv[a], "artifact_prefix", &v)) {
            snprintf(artifact_prefix, sizeof artifact_prefix, "%s", v);
        } else if (flag(argv[a], "output_corpus", &v)) {
            snprintf(output_corpus, sizeof output_corpus, "%s", v);
        } else if (argv[a][0] == '-') {
            fprintf(stderr, "driver: ignoring unknown flag %s\n", argv[a]);
        } else if (is_dir(argv[a])) {
            ++ndirs;
        } else {
            ++nfiles;
        }
    }
    if (max_len < 16) {
        max_len = 16;
    }
    if (seed == 0) {
        seed = (unsigned long long)time(NULL) ^
               ((unsigned long long)getpid() << 32);
    }
    rng_state = seed * 0x9E3779B97F4A7C15ull | 1;
    save_crashes = 1;
    install_handlers();

    /* Regression mode: run every named input once. */
    if (runs == 0 || (nfiles > 0 && ndirs == 0)) {
        size_t ran = 0;
        for (a = 1; a < argc; ++a) {
            char **names;
            size_t count, j;
            if (argv[a][0] == '-') {
                continue;
            }
            if (is_dir(argv[a])) {
                names = list_dir(argv[a], &count);
            } else {
                names = (char **)malloc(sizeof *names);
                names[0] = argv[a];
                count = 1;
            }
            for (j = 0; j < count; ++j) {
                uint8_t *d;
                size_t n;
                if (!read_file(names[j], &d, &n, 1u << 20)) {
                    fprintf(stderr, "driver: cannot read %s\n", names[j]);
                    return 1;
                }
                fprintf(stderr, "Running: %s (%zu bytes)\n", names[j], n);
                run_one(d, n);
                free(d);
                ++ran;
                if (is_dir(argv[a])) {
                    free(names[j]);
                }
            }
            free(names);
        }
        printf("Executed %zu inputs without a failure\n", ran);
        return 0;
    }

    /* Seeds. */
    for (a = 1; a < argc; ++a) {
        char **names;
        size_t count, j;
        if (argv[a][0] == '-' || !is_dir(argv[a])) {
            continue;
        }
        names = list_dir(argv[a], &count);
        for (j = 0; j < count; ++j) {
            uint8_t *d;
            size_t n;
            if (read_file(names[j], &d, &n, max_len)) {
                run_one(d, n);
                ++execs;
                corpus_add(d, n);
                free(d);
            }
            free(names[j]);
        }
        free(names);
    }
    if (corpus_n == 0) {
        static const uint8_t empty[1] = {0};
        run_one(empty, 0);
        ++execs;
        corpus_add(empty, 0);
    }
    printf("INFO: seed %llu, %zu seed inputs, max_len %zu\n", seed, corpus_n,
           max_len);
    if (getenv("OMP_WAIT_POLICY") == NULL) {
        printf("INFO: OMP_WAIT_POLICY=passive in the environment makes an "
               "OpenMP build much faster on busy cores\n");
    }
    if (!cov_seen) {
        printf("INFO: no coverage feedback (the target was built without "
               "-fsanitize-coverage=trace-pc): mutating the seeds blindly\n");
    }
    fflush(stdout);

    buf = (uint8_t *)malloc(max_len);
    if (buf == NULL) {
        return 1;
    }
    start = now();
    last_print = start;
    for (;;) {
        const input *in = &corpus[rbelow(corpus_n)];
        size_t n = in->size < max_len ? in->size : max_len;
        double t;
        memcpy(buf, in->data, n);
        mutate(buf, &n, max_len);
        if (run_one(buf, n)) {
            corpus_add(buf, n);
        }
        ++execs;
        if ((execs & 255) == 0 || (runs >= 0 && execs >= runs)) {
            t = now();
            if (t - last_print >= 10.0) {
                printf("#%lld\texecs/s: %.0f\tcorpus: %zu\tedges: %zu\t"
                       "time: %.0fs\n",
                       execs, (double)execs / (t - start), corpus_n, edges,
                       t - start);
                fflush(stdout);
                last_print = t;
            }
            if ((runs >= 0 && execs >= runs) ||
                (max_time > 0 && t - start >= max_time)) {
                break;
            }
        }
    }
    {
        const double t = now() - start;
        printf("Done: %lld executions in %.1fs (%.0f execs/s), corpus %zu, "
               "edges %zu, crashes 0\n",
               execs, t, t > 0 ? (double)execs / t : 0.0, corpus_n, edges);
    }
    free(buf);
    for (i = 0; i < corpus_n; ++i) {
        free(corpus[i].data);
    }
    free(corpus);
    return 0;
}
