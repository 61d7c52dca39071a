/* The Bernoulli input as events and the first layer fed them (see kernels.h). */
#include "kernels.h"

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
