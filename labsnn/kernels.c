/* Compiled CPU loops of labsnn's training step (built and loaded by labsnn/kernels.py).
 *
 * Compiled without floating-point contraction or reassociation, so every float operation
 * rounds as written: the LIF loops compute the same numbers as labsnn.neuron's torch loops,
 * bit for bit, and vectorisation does not change any result.
 *
 * Threads (OpenMP, `threads` of them: the caller passes torch's count) split work into parts
 * fixed by the data, never by the thread count, and each sum keeps its order: the results
 * are the same with 1 thread or many. Parts go to threads as they come free (dynamic
 * schedules), so a core taken by another process slows a kernel less.
 *
 * Layouts (all contiguous, row-major):
 *   LIF:     currents, spikes, membrane, gradients [K, T, R] (network, step, neuron)
 *   events:  mask [T, n] (1 where drawn pixel j spikes at step t), limits [n],
 *            starts [B + 1] (image b owns pixels starts[b] <= j < starts[b + 1]),
 *            columns [n] (pixel index of j), weight_t [M, KN] (q = k * N + i),
 *            currents and their gradients [K, T, B, N].
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

#define GAMMA 0x9E3779B97F4A7C15ULL

/* Output w of SplitMix64 (Steele, Lea, Flood 2014) from state `seed`. */
static inline uint64_t splitmix64(uint64_t seed, uint64_t w) {
    uint64_t z = seed + (w + 1) * GAMMA;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* Outputs start .. start+count-1 into `out` (count 8-byte words; memcpy, so that the buffer
 * may be read as any type: its 16-bit lanes are the draws). */
void splitmix64_fill(uint64_t seed, int64_t start, int64_t count, void *out) {
    unsigned char *bytes = out;
    for (int64_t w = 0; w < count; w++) {
        const uint64_t value = splitmix64(seed, (uint64_t)(start + w));
        memcpy(bytes + 8 * w, &value, 8);
    }
}

/* The pixels of images[rows[b]], b < B (images [*, M]), with level q = round(65536 x) > 0,
 * image by image: columns[j],
 * limits[j] = q - 32769, starts[b] (image b owns starts[b] <= j < starts[b + 1]). Returns n,
 * or -1 where a value is outside [0, 1] (NaN included). */
int64_t pixel_levels(const float *restrict images, const int64_t *restrict rows, int64_t B, int64_t M,
                     int64_t *restrict scratch_columns,
                     int16_t *restrict scratch_limits, int64_t *restrict columns, int16_t *restrict limits,
                     int64_t *restrict starts, int threads) {
    int bad = 0;
    /* each image's kept pixels into its own slice of the scratch arrays (branch-free: write
     * every pixel, advance past those with q > 0), then packed image after image */
    #pragma omp parallel for num_threads(threads) schedule(dynamic, 16) reduction(|: bad)
    for (int64_t b = 0; b < B; b++) {
        int64_t kept = b * M;
        for (int64_t p = 0; p < M; p++) {
            const float x = images[rows[b] * M + p];
            const int ok = x >= 0.0f && x <= 1.0f;  /* NaN fails too */
            bad |= !ok;
            const int32_t q = (int32_t)nearbyintf((ok ? x : 0.0f) * 65536.0f);  /* 0 .. 65536 */
            scratch_columns[kept] = p;
            scratch_limits[kept] = (int16_t)(q > 0 ? q - 32769 : 0);
            kept += q > 0;
        }
        starts[b + 1] = kept - b * M;
    }
    if (bad) return -1;
    starts[0] = 0;
    for (int64_t b = 0; b < B; b++) starts[b + 1] += starts[b];
    #pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t b = 0; b < B; b++) {
        memcpy(columns + starts[b], scratch_columns + b * M, sizeof(int64_t) * (size_t)(starts[b + 1] - starts[b]));
        memcpy(limits + starts[b], scratch_limits + b * M, sizeof(int16_t) * (size_t)(starts[b + 1] - starts[b]));
    }
    return starts[B];
}

/* Draw c of a batch is the 16-bit lane c % 4 (low lane first) of word c / 4, as int16;
 * mask[t, j] = draw(t * n + j) <= limits[j]; counts[t] = the step's spikes. */
int bernoulli_mask(uint64_t seed, const int16_t *restrict limits, int64_t n, int64_t T,
                   uint8_t *restrict mask, int64_t *restrict counts, int threads) {
    int failed = 0;
    #pragma omp parallel num_threads(threads) reduction(|: failed)
    {
        int16_t *words = malloc(sizeof(uint64_t) * (size_t)(n / 4 + 2));
        failed = words == NULL;
        #pragma omp for schedule(dynamic, 1)
        for (int64_t t = 0; t < T; t++) {
            if (failed) continue;
            const int64_t first = t * n, w0 = first >> 2, w1 = (first + n + 3) >> 2;
            splitmix64_fill(seed, w0, w1 - w0, words);
            const int16_t *draws = words + (first & 3);
            uint8_t *row = mask + t * n;
            int64_t count = 0;
            for (int64_t j = 0; j < n; j++) {
                row[j] = draws[j] <= limits[j];
                count += row[j];
            }
            counts[t] = count;
        }
        free(words);
    }
    return failed;
}

/* The LIF layer of K networks over steps = T - delay currents: V[1] = I[0],
 * V[t+1] = beta*V[t] + I[t] - S*V_th with S = 1[V[t] > V_th]; writes membrane[k, t + delay] =
 * V[t+1] and spikes[k, t + delay] = 1[V[t+1] > V_th], and 0 at the first `delay` steps
 * (delay 1: spikes one step later, the last current unused). */
void lif_forward(const float *restrict currents, const float *restrict beta, const float *restrict v_th,
                 int64_t K, int64_t T, int64_t R, int64_t delay, float *restrict spikes, float *restrict membrane) {
    const int64_t steps = T - delay;
    for (int64_t k = 0; k < K; k++) {
        const float b = beta[k], th = v_th[k];
        const float *I = currents + k * T * R;
        float *S = spikes + k * T * R, *V = membrane + k * T * R;
        memset(S, 0, sizeof(float) * (size_t)(delay * R));
        memset(V, 0, sizeof(float) * (size_t)(delay * R));
        S += delay * R;
        V += delay * R;
        if (steps <= 0) continue;
        for (int64_t r = 0; r < R; r++) {
            V[r] = I[r];
            S[r] = V[r] > th ? 1.0f : 0.0f;
        }
        for (int64_t t = 1; t < steps; t++) {
            const float *Vp = V + (t - 1) * R, *Sp = S + (t - 1) * R, *It = I + t * R;
            float *Vt = V + t * R, *St = S + t * R;
            for (int64_t r = 0; r < R; r++) {
                float v = Vp[r] * b + It[r];
                v = Sp[r] != 0.0f ? v - th : v;
                Vt[r] = v;
                St[r] = v > th ? 1.0f : 0.0f;
            }
        }
    }
}

/* g[t] = grad_spikes[t + delay] * sg(V[t+1] - V_th), sg(x) = 1/(1 + z|x|)^2, times gain when
 * `scaled`; dI[steps-1] = g[steps-1], dI[t] = dI[t+1]*beta + g[t]; dI = 0 past `steps`. */
void lif_backward(const float *restrict grad_spikes, const float *restrict membrane, const float *restrict beta,
                  const float *restrict v_th, const float *restrict z, const float *restrict gain, int scaled,
                  int64_t K, int64_t T, int64_t R, int64_t delay, float *restrict grad_currents) {
    const int64_t steps = T - delay;
    for (int64_t k = 0; k < K; k++) {
        const float b = beta[k], th = v_th[k], zk = z[k], gk = gain[k];
        memset(grad_currents + (k * T + (steps > 0 ? steps : 0)) * R, 0,
               sizeof(float) * (size_t)((T - (steps > 0 ? steps : 0)) * R));
        for (int64_t t = steps - 1; t >= 0; t--) {
            const float *G = grad_spikes + (k * T + t + delay) * R, *V = membrane + (k * T + t + delay) * R;
            float *D = grad_currents + (k * T + t) * R;
            const float *Dn = D + R;
            for (int64_t r = 0; r < R; r++) {
                float d = 1.0f / (1.0f + zk * fabsf(V[r] - th));
                float g = d * d;
                if (scaled) g = g * gk;
                g = G[r] * g;
                D[r] = t < steps - 1 ? Dn[r] * b + g : g;
            }
        }
    }
}

/* Event kernels work on vectors of LANES floats (GCC/Clang vector extensions; one AVX-512
 * register, two AVX2 ones): weight_t and the accumulators have KNp = KN rounded up to a
 * multiple of LANES columns (the padding is 0). */
#define LANES 16
typedef float vec __attribute__((vector_size(LANES * sizeof(float)), aligned(sizeof(float))));

/* currents[k, t, b, i] = sum over j of image b (ascending) of mask[t, j] * weight_t[columns[j], q],
 * plus bias[q], q = k * N + i; weight_t is [M, KNp]. Images are independent: split among threads. */
int event_currents(const uint8_t *restrict mask, int64_t n, int64_t T, const int64_t *restrict starts, int64_t B,
                   const int64_t *restrict columns, const float *restrict weight_t, int64_t KNp,
                   const float *restrict bias, int64_t K, int64_t N, float *restrict currents, int threads) {
    const int64_t V = KNp / LANES;
    int failed = 0;
    #pragma omp parallel num_threads(threads) reduction(|: failed)
    {
        vec *acc = aligned_alloc(64, sizeof(vec) * (size_t)(T * V));
        failed = acc == NULL;
        #pragma omp for schedule(dynamic, 8)
        for (int64_t b = 0; b < B; b++) {
            if (failed) continue;
            memset(acc, 0, sizeof(vec) * (size_t)(T * V));
            for (int64_t j = starts[b]; j < starts[b + 1]; j++) {
                const vec *w = (const vec *)(weight_t + columns[j] * KNp);
                const uint8_t *spikes = mask + j;
                if (V == 1) {  /* one vector per step (up to LANES columns): w stays in a register */
                    const vec w0 = w[0];
                    for (int64_t t = 0; t < T; t++) acc[t] += w0 * (float)spikes[t * n];
                } else {
                    for (int64_t t = 0; t < T; t++) {
                        const float s = (float)spikes[t * n];
                        vec *a = acc + t * V;
                        for (int64_t v = 0; v < V; v++) a[v] += w[v] * s;
                    }
                }
            }
            const float *sums = (const float *)acc;
            for (int64_t k = 0; k < K; k++)
                for (int64_t t = 0; t < T; t++)
                    for (int64_t i = 0; i < N; i++)
                        currents[((k * T + t) * B + b) * N + i] = sums[t * KNp + k * N + i] + bias[k * N + i];
        }
        free(acc);
    }
    return failed;
}

/* The weight gradient of image b's pixels: partial[columns[j], q] += sum over t of
 * mask[t, j] * grad[k, t, b, i], the sum over t in two halves (even and odd steps). */
static void image_weight_grad(const uint8_t *restrict mask, int64_t n, int64_t T, int64_t j0, int64_t j1, int64_t b,
                              int64_t B, const int64_t *restrict columns, const float *restrict grad, int64_t K,
                              int64_t N, int64_t V, vec *restrict g, vec *restrict even, vec *restrict odd,
                              float *restrict partial) {
    const int64_t KNp = V * LANES;
    float *rows = (float *)g;
    memset(g, 0, sizeof(vec) * (size_t)(T * V));
    for (int64_t k = 0; k < K; k++)
        for (int64_t t = 0; t < T; t++)
            for (int64_t i = 0; i < N; i++) rows[t * KNp + k * N + i] = grad[((k * T + t) * B + b) * N + i];
    for (int64_t j = j0; j < j1; j++) {
        const uint8_t *spikes = mask + j;
        vec *w = (vec *)(partial + columns[j] * KNp);
        if (V == 1) {  /* one vector per step: both partial sums stay in registers */
            vec e = {0}, o = {0};
            int64_t t = 0;
            for (; t + 1 < T; t += 2) {
                e += g[t] * (float)spikes[t * n];
                o += g[t + 1] * (float)spikes[(t + 1) * n];
            }
            if (t < T) e += g[t] * (float)spikes[t * n];
            w[0] += e + o;
            continue;
        }
        memset(even, 0, sizeof(vec) * (size_t)(2 * V));
        for (int64_t t = 0; t < T; t++) {
            const float s = (float)spikes[t * n];
            const vec *gt = g + t * V;
            vec *a = (t & 1) ? odd : even;
            for (int64_t v = 0; v < V; v++) a[v] += gt[v] * s;
        }
        for (int64_t v = 0; v < V; v++) w[v] += even[v] + odd[v];
    }
}

/* grad_weight_t [M, KNp] = the sum of the weight gradients of the batch's images: images in
 * PARTS fixed ranges, each summed into its own partial, the partials then added in order. */
#define PARTS 4
int event_weight_grad(const uint8_t *restrict mask, int64_t n, int64_t T, const int64_t *restrict starts, int64_t B,
                      const int64_t *restrict columns, const float *restrict grad, int64_t K, int64_t N,
                      int64_t KNp, int64_t M, float *restrict grad_weight_t, int threads) {
    const int64_t V = KNp / LANES, size = M * KNp;
    float *partials = aligned_alloc(64, sizeof(float) * (size_t)(PARTS * size));
    if (!partials) return 1;
    memset(partials, 0, sizeof(float) * (size_t)(PARTS * size));
    int failed = 0;
    #pragma omp parallel num_threads(threads) reduction(|: failed)
    {
        vec *g = aligned_alloc(64, sizeof(vec) * (size_t)(T * V + 2 * V));
        failed = g == NULL;
        #pragma omp for schedule(dynamic, 1)
        for (int64_t part = 0; part < PARTS; part++) {
            if (failed) continue;
            for (int64_t b = part * B / PARTS; b < (part + 1) * B / PARTS; b++)
                image_weight_grad(mask, n, T, starts[b], starts[b + 1], b, B, columns, grad, K, N, V, g,
                                  g + T * V, g + T * V + V, partials + part * size);
        }
        free(g);
        #pragma omp for schedule(static)
        for (int64_t x = 0; x < size; x++) {
            float sum = partials[x];
            for (int64_t part = 1; part < PARTS; part++) sum += partials[part * size + x];
            grad_weight_t[x] = sum;
        }
    }
    free(partials);
    return failed;
}

/* out[k, n] = the sum over rows r of x[k, r, n] (x [K, R, N]): PARTS fixed row ranges, each
 * summed in order, the partial sums then added in order. */
int row_sums(const float *restrict x, int64_t K, int64_t R, int64_t N, float *restrict out, int threads) {
    float *partials = calloc((size_t)(K * PARTS * N), sizeof(float));
    if (!partials) return 1;
    #pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
    for (int64_t job = 0; job < K * PARTS; job++) {
        const int64_t k = job / PARTS, part = job % PARTS;
        float *sum = partials + job * N;
        for (int64_t r = part * R / PARTS; r < (part + 1) * R / PARTS; r++)
            for (int64_t n = 0; n < N; n++) sum[n] += x[(k * R + r) * N + n];
    }
    for (int64_t k = 0; k < K; k++)
        for (int64_t n = 0; n < N; n++) {
            float sum = partials[k * PARTS * N + n];
            for (int64_t part = 1; part < PARTS; part++) sum += partials[(k * PARTS + part) * N + n];
            out[k * N + n] = sum;
        }
    free(partials);
    return 0;
}

/* A hidden layer of K networks fed spikes [K, R, M] (R = T * B rows), weight_t [K, M, N]
 * (the weight transposed): currents[k, r, n] = (sum over m, in order, of spikes[k, r, m] *
 * weight_t[k, m, n]) + bias[k, n]; the N outputs of a row are summed side by side. */
int dense_currents(const float *restrict spikes, const float *restrict weight_t, const float *restrict bias,
                   int64_t K, int64_t R, int64_t M, int64_t N, float *restrict currents, int threads) {
    int failed = 0;
    #pragma omp parallel num_threads(threads) reduction(|: failed)
    {
        float *sum = malloc(sizeof(float) * (size_t)N);
        failed = sum == NULL;
        #pragma omp for schedule(dynamic, 256)
        for (int64_t row = 0; row < K * R; row++) {
            if (failed) continue;
            const int64_t k = row / R;
            const float *s = spikes + row * M;
            memset(sum, 0, sizeof(float) * (size_t)N);
            for (int64_t m = 0; m < M; m++) {
                const float *w = weight_t + (k * M + m) * N;
                for (int64_t n = 0; n < N; n++) sum[n] += s[m] * w[n];
            }
            for (int64_t n = 0; n < N; n++) currents[row * N + n] = sum[n] + bias[k * N + n];
        }
        free(sum);
    }
    return failed;
}

/* Its gradients: grad_spikes[k, r, m] = sum over n, in order, of grad[k, r, n] * weight[k, n, m]
 * (the M inputs side by side); grad_weight[k, n, m] = the sum over rows of grad[k, r, n] *
 * spikes[k, r, m], in PARTS fixed row ranges added in order (as row_sums). */
int dense_grads(const float *restrict grad, const float *restrict spikes, const float *restrict weight, int64_t K,
                int64_t R, int64_t M, int64_t N, float *restrict grad_spikes, float *restrict grad_weight, int threads) {
    float *partials = calloc((size_t)(K * PARTS * N * M), sizeof(float));
    if (!partials) return 1;
    #pragma omp parallel num_threads(threads)
    {
        #pragma omp for schedule(dynamic, 256)
        for (int64_t row = 0; row < K * R; row++) {
            const int64_t k = row / R;
            float *out = grad_spikes + row * M;
            memset(out, 0, sizeof(float) * (size_t)M);
            for (int64_t n = 0; n < N; n++) {
                const float g = grad[row * N + n];
                const float *w = weight + (k * N + n) * M;
                for (int64_t m = 0; m < M; m++) out[m] += g * w[m];
            }
        }
        #pragma omp for schedule(dynamic, 1)
        for (int64_t job = 0; job < K * PARTS; job++) {
            const int64_t k = job / PARTS, part = job % PARTS;
            float *sum = partials + job * N * M;
            for (int64_t r = part * R / PARTS; r < (part + 1) * R / PARTS; r++)
                for (int64_t n = 0; n < N; n++) {
                    const float g = grad[(k * R + r) * N + n];
                    const float *s = spikes + (k * R + r) * M;
                    for (int64_t m = 0; m < M; m++) sum[n * M + m] += g * s[m];
                }
        }
    }
    for (int64_t k = 0; k < K; k++)
        for (int64_t x = 0; x < N * M; x++) {
            float sum = partials[k * PARTS * N * M + x];
            for (int64_t part = 1; part < PARTS; part++) sum += partials[(k * PARTS + part) * N * M + x];
            grad_weight[k * N * M + x] = sum;
        }
    free(partials);
    return 0;
}
