/* The LM head's log-sum-exp and softmax over a block of logits, for the fast engine (training/kernels.py).
 * Built on first use with the system's C compiler (-O3 -march=native); GCC vector extensions give
 * AVX2 or AVX-512 code as the CPU has. exp is Cephes' single-precision expf (range reduction by ln 2,
 * a degree-5 polynomial, relative error ~2e-7), 5-10x cheaper than a libm call per element. */
#include <math.h>
#include <string.h>
#include <stdint.h>
#if defined(__AVX512F__)
#define W 16
#else
#define W 8
#endif
typedef float vf __attribute__((vector_size(W * 4)));
typedef int32_t vi __attribute__((vector_size(W * 4)));

static inline vf splat(float x) { vf v; for (int i = 0; i < W; i++) v[i] = x; return v; }
static inline vf vmax(vf a, vf b) {
    vi m = a > b, ai, bi;
    memcpy(&ai, &a, sizeof a); memcpy(&bi, &b, sizeof b);
    vi o = (ai & m) | (bi & ~m);
    vf out; memcpy(&out, &o, sizeof out); return out;
}

/* exp(x) for x <= 0 (and >= -87.3 after clamping): Cephes-style range reduction and a degree-5 polynomial. */
static inline vf vexp(vf x) {
    x = vmax(x, splat(-87.3f));
    vf t = x * splat(1.44269504088896341f);
    vf n = (t + splat(12582912.0f)) - splat(12582912.0f);
    vf r = x - n * splat(0.693359375f) + n * splat(2.12194440e-4f);
    vf p = splat(1.9875691500e-4f);
    p = p * r + splat(1.3981999507e-3f);
    p = p * r + splat(8.3334519073e-3f);
    p = p * r + splat(4.1665795894e-2f);
    p = p * r + splat(1.6666665459e-1f);
    p = p * r + splat(5.0000001201e-1f);
    p = p * r * r + r + splat(1.0f);
    vi e = (__builtin_convertvector(n, vi) + 127) << 23;
    vf scale; memcpy(&scale, &e, sizeof scale);
    return p * scale;
}

static inline vf load(const float *p, long n, float fill) {
    vf v = splat(fill);
    if (n >= W) { memcpy(&v, p, sizeof v); } else { for (long i = 0; i < n; i++) v[i] = p[i]; }
    return v;
}

/* For each row of a [rows, cols] block (row stride ld): fold log-sum-exp of the block into (run_max, run_sum). */
void lse_fold(const float *x, long rows, long cols, long ld, float *run_max, double *run_sum) {
    for (long r = 0; r < rows; r++) {
        const float *row = x + r * ld;
        vf m = splat(-INFINITY);
        for (long c = 0; c < cols; c += W) { vf v = load(row + c, cols - c, -INFINITY); m = vmax(v, m); }
        float mx = m[0];
        for (int i = 1; i < W; i++) mx = m[i] > mx ? m[i] : mx;
        vf s = splat(0.0f), vm = splat(mx);
        long c = 0;
        for (; c + W <= cols; c += W) { vf v; memcpy(&v, row + c, sizeof v); s += vexp(v - vm); }
        if (c < cols) {
            vf e = vexp(load(row + c, cols - c, mx) - vm);
            for (long i = 0; i < cols - c; i++) s[i] += e[i];
        }
        double total = 0; for (int i = 0; i < W; i++) total += s[i];
        float old = run_max[r];
        if (mx > old) { run_sum[r] = run_sum[r] * exp((double)old - mx) + total; run_max[r] = mx; }
        else { run_sum[r] += total * exp((double)mx - old); }
    }
}

/* In place: x[r, :] = exp(x[r, :] - lse[r]) * scale[r]. */
void softmax_scaled(float *x, long rows, long cols, long ld, const float *lse, const float *scale) {
    for (long r = 0; r < rows; r++) {
        float *row = x + r * ld;
        vf l = splat(lse[r]), k = splat(scale[r]);
        long c = 0;
        for (; c + W <= cols; c += W) { vf v; memcpy(&v, row + c, sizeof v); v = vexp(v - l) * k; memcpy(row + c, &v, sizeof v); }
        if (c < cols) { vf v = vexp(load(row + c, cols - c, lse[r]) - l) * k; for (long i = 0; i < cols - c; i++) row[c + i] = v[i]; }
    }
}
