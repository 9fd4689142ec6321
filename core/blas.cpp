// blas.cpp — gemm over CBLAS (OpenBLAS), threaded by focalgrad rather than by OpenBLAS.
//
// Why: OpenBLAS's own threading changes the result bits with the thread count (on this
// machine a 64x784x256 product differs in 20 % of its outputs between 1 and 2 threads),
// and its worker threads spin-wait for the cores that the loops' worker threads need,
// which made a 2-thread training step several times slower than a 1-thread one.
// So OpenBLAS always runs single-threaded, and gemm() cuts C into blocks whose number
// and boundaries depend only on the matrix sizes; the blocks run on core/parallel.h's
// threads.
// Each output element is then computed by the same single-threaded kernel call however
// many threads there are: the same bits on 1 thread and on 16.
#include <cblas.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>

#include <focalgrad/core/blas.h>
#include <focalgrad/core/error.h>
#include <focalgrad/core/parallel.h>

namespace focalgrad {

namespace {

thread_local std::vector<GemmCall>* t_trace = nullptr;

constexpr double kSerialFlops = 2e6;  // below this, one call: threads would cost more
constexpr int64_t kAlign = 16;        // block boundaries on multiples of this

// The number of blocks, a function of the sizes only. Every extra block repacks the
// shared operand (about 2-5 % per block on one thread, measured on 128x784x256), so
// blocks stay few: enough for 2-4 cores on the products of small networks.
int blocks_for(double flops) {
    if (flops < kSerialFlops) return 1;
    if (flops < 64 * kSerialFlops) return 2;
    if (flops < 512 * kSerialFlops) return 4;
    return 8;
}

// [begin, end) of block b of n rows cut into `blocks` pieces on kAlign boundaries.
void block_range(int64_t n, int blocks, int b, int64_t& begin, int64_t& end) {
    auto cut = [&](int k) {
        if (k >= blocks) return n;
        return std::min(n, (n * k / blocks + kAlign / 2) / kAlign * kAlign);
    };
    begin = cut(b);
    end = cut(b + 1);
}

// Does this CPU have AVX-512 (OpenBLAS's support_avx512() can only be true if so)?
bool cpu_has_avx512() {
#if defined(__x86_64__) || defined(__i386__)
    static const bool has = __builtin_cpu_supports("avx512f");
    return has;
#else
    return true;  // elsewhere: assume the worst, i.e. keep beta = 0 for OpenBLAS
#endif
}

// OpenBLAS computes a beta = 0 product in two passes: its beta kernel writes zeros over C
// (sgemm_beta, a slow loop: 4.5 % of a one-thread CNN run on an AVX2 AMD EPYC), then the
// product is added into C. Zeroing C with memset and asking for beta = 1 skips the beta
// kernel and adds the same sums to the same zeros: the same bits, for less time (the first
// convolution's 16 x 784 x 9 product: 8.8 -> 5.0 us). Not on AVX-512 CPUs: there OpenBLAS
// sends small row-major untransposed products with alpha = 1, beta = 0 to another kernel
// (sgemm_direct), whose sums are its own, and beta = 1 would change those bits.
bool zero_c_ourselves(float beta) { return beta == 0.0f && !cpu_has_avx512(); }

void sgemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
           const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
    if (M == 0 || N == 0) return;
    if (zero_c_ourselves(beta)) {
        for (int64_t i = 0; i < M; ++i) std::memset(C + i * ldc, 0, size_t(N) * sizeof(float));
        beta = 1.0f;
    }
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, int(M), int(N),
                int(K), alpha, A, int(std::max<int64_t>(lda, 1)), B, int(std::max<int64_t>(ldb, 1)), beta, C,
                int(std::max<int64_t>(ldc, 1)));
}

// OpenBLAS's dispatch, exported by its DYNAMIC_ARCH builds (Debian's) but not declared in
// cblas.h: dynamic_quit forgets the chosen kernels, dynamic_init chooses again, reading
// OPENBLAS_CORETYPE first. Weak, so that a build without them still links (both null).
extern "C" void gotoblas_dynamic_init(void) __attribute__((weak));
extern "C" void gotoblas_dynamic_quit(void) __attribute__((weak));

// Is there AVX-512 (F, CD, BW, DQ, VL) and AVX2 + FMA? __builtin_cpu_supports also checks
// that the OS saves the wide registers (XGETBV).
detail::CpuVectorUnits cpu_vector_units() {
    detail::CpuVectorUnits cpu;
#if defined(__x86_64__)
    cpu.avx2_fma = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    cpu.avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512cd") &&
                 __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
                 __builtin_cpu_supports("avx512vl");
#endif
    return cpu;
}

std::string g_openblas_fallback;  // the kernels OpenBLAS had chosen, if they were replaced

}  // namespace

// OpenBLAS picks its kernels from the CPU's family and model when it is loaded, and a model
// it does not know gets "Prescott", kernels for a 2004 CPU (SSE3): Debian 12's OpenBLAS
// 0.3.21 does so on the Intel Xeon of family 6 model 207 (an Emerald Rapids) this was
// measured on, where a 512 x 512 x 512 sgemm ran at 24.7 GFLOP/s on one thread, against
// 120.6 with its SkylakeX (AVX-512) kernels and 64.4 with its Haswell (AVX2) ones. Later
// OpenBLAS releases choose an unknown CPU's kernels from its features, as here. Never when
// OPENBLAS_CORETYPE is set: the user's choice stands.
const char* detail::openblas_replacement(const char* coretype_env, const char* corename, CpuVectorUnits cpu) {
    if (coretype_env || std::strcmp(corename, "Prescott") != 0) return nullptr;
    if (cpu.avx512 && cpu.avx2_fma) return "SkylakeX";
    if (cpu.avx2_fma) return "Haswell";
    return nullptr;
}

void detail::configure_openblas() {
    static std::once_flag once;
    std::call_once(once, [] {
        openblas_set_num_threads(1);
        if (!gotoblas_dynamic_init || !gotoblas_dynamic_quit) return;
        const char* kernels = openblas_replacement(std::getenv("OPENBLAS_CORETYPE"), openblas_get_corename(),
                                                   cpu_vector_units());
        if (!kernels) return;
        // OpenBLAS's own way to choose: OPENBLAS_CORETYPE, read by dynamic_init, set only
        // for that call, which runs before any product (gemm and the thread pool call this
        // first), while OpenBLAS is single-threaded.
        g_openblas_fallback = openblas_get_corename();
        setenv("OPENBLAS_CORETYPE", kernels, 1);
        gotoblas_dynamic_quit();
        gotoblas_dynamic_init();
        unsetenv("OPENBLAS_CORETYPE");
    });
}

bool detail::openblas_avx512_kernels(const char* corename) {
    return std::strcmp(corename, "SkylakeX") == 0 || std::strcmp(corename, "Cooperlake") == 0 ||
           std::strcmp(corename, "SapphireRapids") == 0;
}

bool detail::openblas_avx512() {
    static const bool avx512 = [] {
        configure_openblas();
        return openblas_avx512_kernels(openblas_get_corename());
    }();
    return avx512;
}

std::string blas_kernels() {
    detail::configure_openblas();
    std::string s = openblas_get_corename();
    if (!g_openblas_fallback.empty())
        s += " (OpenBLAS chose " + g_openblas_fallback + " for this CPU; focalgrad replaced it)";
    // The user's choice, which focalgrad keeps: said, since a machine-wide setting is easy to
    // miss (one AMD EPYC here had OPENBLAS_CORETYPE=Haswell in every shell: 245 GFLOP/s on a
    // 512 sgemm where its own choice, Cooperlake, gave 440).
    if (const char* env = std::getenv("OPENBLAS_CORETYPE")) {
        s += std::string(" (set by OPENBLAS_CORETYPE=") + env;
        if (cpu_vector_units().avx512 && !detail::openblas_avx512_kernels(openblas_get_corename()))
            s += "; this CPU has AVX-512, which these kernels leave unused";
        s += ")";
    }
    return s;
}

void set_gemm_trace(std::vector<GemmCall>* trace) { t_trace = trace; }
void detail::trace_gemm(const GemmCall& call) {
    if (t_trace) t_trace->push_back(call);
}

void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
          int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
    gemm(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, GemmBlockHooks{});
}

void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
          int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc,
          const GemmBlockHooks& hooks) {
    detail::configure_openblas();  // also when gemm runs before any loop
    FG_CHECK(M >= 0 && N >= 0 && K >= 0 && M <= INT32_MAX && N <= INT32_MAX && K <= INT32_MAX,
             "gemm: sizes M=", M, " N=", N, " K=", K, " must be in [0, 2^31)");
    if (t_trace) t_trace->push_back({trans_a, trans_b, M, N, K, beta});
    if (M == 0 || N == 0) return;
    // One block: hooks, then the product of rows [r0, r1) x columns [c0, c1) of C.
    auto block = [&](int64_t r0, int64_t r1, int64_t c0, int64_t c1) {
        if (hooks.before) hooks.before(hooks.ctx, r0, r1, c0, c1);
        float* Cb = C + r0 * ldc + c0;
        if (K == 0) {  // an empty sum: C = beta * C (BLAS would reject lda = 0)
            for (int64_t i = 0; i < r1 - r0; ++i)
                for (int64_t j = 0; j < c1 - c0; ++j)
                    Cb[i * ldc + j] = beta == 0 ? 0.0f : beta * Cb[i * ldc + j];
        } else {
            // Rows of C need rows of op(A): A's rows, or A's columns if transposed; columns
            // of C need columns of op(B).
            const float* Ab = trans_a ? A + r0 : A + r0 * lda;
            const float* Bb = trans_b ? B + c0 * ldb : B + c0;
            sgemm(trans_a, trans_b, r1 - r0, c1 - c0, K, alpha, Ab, lda, Bb, ldb, beta, Cb, ldc);
        }
        if (hooks.after) hooks.after(hooks.ctx, r0, r1, c0, c1);
    };
    int blocks = K == 0 ? 1 : blocks_for(2.0 * double(M) * double(N) * double(K));
    // Cut the longer side of C. Cutting rows makes every block pack all of B, cutting
    // columns makes every block pack all of A; the longer side duplicates less.
    bool by_rows = M >= N;
    int64_t span = by_rows ? M : N;
    blocks = int(std::min<int64_t>(blocks, std::max<int64_t>(1, span / kAlign)));
    if (blocks == 1) {
        block(0, M, 0, N);
        return;
    }
    // Which thread runs a block does not change its bits; parallel_for hands blocks to
    // whichever thread is free.
    parallel_for(blocks, 1, [&](int64_t b0, int64_t b1) {
        for (int64_t b = b0; b < b1; ++b) {
            int64_t begin, end;
            block_range(span, blocks, int(b), begin, end);
            if (by_rows)
                block(begin, end, 0, N);
            else
                block(0, M, begin, end);
        }
    });
}

}  // namespace focalgrad
