// Header check: the warp-ctc compatibility header <ctc.h> must compile as
// C++ (C++11 and later) with -Wall -Wextra -Wpedantic -Werror, give the
// functions C linkage, keep warp-ctc's enumeration values, and accept the
// ways warp-ctc programs fill their options.
#include <ctc.h>
#include <ctc.h> // the include guard must make this harmless

#ifdef CTCC_H
#error "ctc.h must not pull in ctcc.h"
#endif

#include <cstdio>
#include <cstring>
#include <type_traits>

static_assert(CTC_STATUS_SUCCESS == 0, "warp-ctc status value");
static_assert(CTC_STATUS_MEMOPS_FAILED == 1, "warp-ctc status value");
static_assert(CTC_STATUS_INVALID_VALUE == 2, "warp-ctc status value");
static_assert(CTC_STATUS_EXECUTION_FAILED == 3, "warp-ctc status value");
static_assert(CTC_STATUS_UNKNOWN_ERROR == 4, "warp-ctc status value");
static_assert(CTC_CPU == 0 && CTC_GPU == 1, "warp-ctc location values");
static_assert(std::is_standard_layout<ctcOptions>::value &&
                  std::is_trivially_copyable<ctcOptions>::value,
              "ctcOptions is a plain C struct");
static_assert(std::is_same<ctcOptions, struct ctcOptions>::value,
              "both spellings name the same type");
static_assert(std::is_same<ctcComputeInfo, struct ctcComputeInfo>::value,
              "both spellings name the same type");
static_assert(std::is_same<CUstream, struct CUstream_st *>::value,
              "CUstream is CUDA's stream handle type");
static_assert(std::is_same<GPUstream, struct CUstream_st *>::value,
              "GPUstream is CUDA's stream handle type without HIP");

// The same typedef as CUDA's headers: repeating it must be accepted.
typedef struct CUstream_st *CUstream;
typedef struct CUstream_st *cudaStream_t;

// Function pointer types with C linkage must match the declarations.
extern "C" {
typedef ctcStatus_t (*workspace_fn)(const int *const, const int *const, int,
                                    int, ctcOptions, size_t *);
typedef ctcStatus_t (*loss_fn)(const float *const, float *, const int *const,
                               const int *const, const int *const, int, int,
                               float *, void *, ctcOptions);
typedef ctcStatus_t (*loss_double_fn)(const double *const, double *,
                                      const int *const, const int *const,
                                      const int *const, int, int, double *,
                                      void *, ctcOptions);
}

int main() {
    workspace_fn ws = &get_workspace_size;
    loss_fn loss = &compute_ctc_loss;
    workspace_fn ws_double = &get_workspace_size_double;
    loss_double_fn loss_double = &compute_ctc_loss_double;
    ctcOptions options{};
    options.loc = CTC_CPU;
    options.num_threads = 1;
    options.blank_label = 0;
    options.stream = nullptr;
    cudaStream_t stream = nullptr;
    options.stream = stream;
    GPUstream gpu_stream = stream;
    options.stream = gpu_stream;
    ctcOptions old_style;
    std::memset(&old_style, 0, sizeof(old_style));
    old_style.loc = CTC_CPU;
    ctcOptions positional = {CTC_CPU, 4, 3, nullptr};
    ctcComputeInfo info{};
    info.loc = CTC_CPU;
    info.stream = nullptr;

    std::printf("warp-ctc API version %d (C++ %ld): %s\n",
                get_warpctc_version(), static_cast<long>(__cplusplus),
                ctcGetStatusString(CTC_STATUS_SUCCESS));
    if (ws == nullptr || loss == nullptr || ws_double == nullptr ||
        loss_double == nullptr)
        return 1;
    if (positional.num_threads != 4 || positional.blank_label != 3 ||
        positional.stream != nullptr)
        return 1;
    if (options.num_threads != 1 || options.stream != nullptr ||
        old_style.num_threads != 0 || info.num_threads != 0)
        return 1;
    return get_warpctc_version() == CTCC_WARPCTC_VERSION ? 0 : 1;
}
