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
 * -1 where a value is outside [0, 1] (NaN included), -2 out of memory. */
int64_t pixel_levels(const float *restrict images, const int64_t *restrict rows, int64_t B, int64_t M,
                     int64_t *restrict scratch_columns,
                     int16_t *restrict scratch_limits, int64_t *restrict columns, int16_t *restrict limits,
                     int64_t *restrict starts, int threads) {
    int bad = 0, failed = 0;
    /* each image's levels first (a loop the compiler vectorises: rintf rounds half to even,
     * as torch.round, in the default rounding mode), then its kept pixels into its own slice
     * of the scratch arrays (branch-free: write every pixel, advance past those with q > 0),
     * then packed image after image */
    #pragma omp parallel num_threads(threads) reduction(|: bad, failed)
    {
        int32_t *levels = malloc(sizeof(int32_t) * (size_t)(M + 1));
        failed = levels == NULL;
        #pragma omp for schedule(dynamic, 16)
        for (int64_t b = 0; b < B; b++) {
            if (levels == NULL) continue;
            const float *restrict image = images + rows[b] * M;
            int outside = 0;
            for (int64_t p = 0; p < M; p++) {
                const float x = image[p];
                const int ok = (x >= 0.0f) & (x <= 1.0f);  /* NaN fails too */
                outside |= !ok;
                levels[p] = (int32_t)rintf((ok ? x : 0.0f) * 65536.0f);  /* 0 .. 65536 */
            }
            bad |= outside;
            int64_t kept = b * M;
            for (int64_t p = 0; p < M; p++) {
                const int32_t q = levels[p];
                scratch_columns[kept] = p;
                scratch_limits[kept] = (int16_t)(q - 32769);
                kept += q > 0;
            }
            starts[b + 1] = kept - b * M;
        }
        free(levels);
    }
    if (failed) return -2;
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

/* Event kernels work on blocks of LANES = 16 floats: weight_t and the accumulators have KNp =
 * KN rounded up to a multiple of LANES columns (the padding is 0). A block is PER_BLOCK
 * vectors (kernels.h: one AVX-512 register, two AVX ones, four SSE or NEON ones). The first
 * layer keeps a tile of up to TILE_STEPS steps x one block of sums in registers, its weight
 * gradient one of up to TILE_PIXELS pixels x one block, each sum split in two (even and odd
 * steps): TILE vectors either way. */
#define LANES 16
#define PER_BLOCK (LANES / WIDTH)
#define TILE_STEPS (TILE / PER_BLOCK)
#define TILE_PIXELS (TILE / PER_BLOCK / 2 > 0 ? TILE / PER_BLOCK / 2 : 1)

/* spikes[t * nb + p] = mask[t, j0 + p] as a float (0 or 1), p < nb: the rows of one image's
 * pixels, compact, so that the loops below read them in order, not a byte at a stride of n. */
static void image_spikes(const uint8_t *restrict mask, int64_t n, int64_t T, int64_t j0, int64_t nb,
                         float *restrict spikes) {
    for (int64_t t = 0; t < T; t++)
        for (int64_t p = 0; p < nb; p++) spikes[t * nb + p] = (float)mask[t * n + j0 + p];
}

/* The most pixels an image has (the size of image_spikes' rows). */
static int64_t most_pixels(const int64_t *restrict starts, int64_t B) {
    int64_t most = 0;
    for (int64_t b = 0; b < B; b++) most = starts[b + 1] - starts[b] > most ? starts[b + 1] - starts[b] : most;
    return most;
}

/* sums[t, c .. c+LANES) for steps t0 <= t < t0 + steps (a constant where inlined: the sums
 * stay in registers) = the sum over the image's pixels p (ascending) of spikes[t, p] *
 * weight_t[columns[p], c ..]. */
INLINE void currents_tile(const float *restrict spikes, int64_t nb, int64_t t0, const int steps,
                          const int64_t *restrict columns, const float *restrict weight_t, int64_t KNp, int64_t c,
                          float *restrict sums) {
    vec acc[TILE][PER_BLOCK]; /* sized for every case of the switch below */
    for (int s = 0; s < steps; s++)
        for (int v = 0; v < PER_BLOCK; v++) acc[s][v] = (vec){0};
    for (int64_t p = 0; p < nb; p++) {
        const vec *row = (const vec *)(weight_t + columns[p] * KNp + c);
        vec w[PER_BLOCK];
        for (int v = 0; v < PER_BLOCK; v++) w[v] = row[v];
        for (int s = 0; s < steps; s++) {
            const float spike = spikes[(t0 + s) * nb + p];
            for (int v = 0; v < PER_BLOCK; v++) acc[s][v] += w[v] * spike;
        }
    }
    for (int s = 0; s < steps; s++)
        for (int v = 0; v < PER_BLOCK; v++) *(vec *)(sums + (t0 + s) * KNp + c + v * WIDTH) = acc[s][v];
}

/* sums [T, KNp] of one image: its steps in tiles, each over every block. */
static void image_currents(const float *restrict spikes, int64_t nb, int64_t T, const int64_t *restrict columns,
                           const float *restrict weight_t, int64_t KNp, float *restrict sums) {
    const int64_t tiles = tile_count(T, TILE_STEPS);
    for (int64_t tile = 0, t = 0, steps; tile < tiles; tile++, t += steps) {
        steps = tile_size(T, t, tile, tiles);
        for (int64_t c = 0; c < KNp; c += LANES) {
            switch (steps) {  /* the unused sizes (above TILE_STEPS) are never called */
            case 1: currents_tile(spikes, nb, t, 1, columns, weight_t, KNp, c, sums); break;
            case 2: currents_tile(spikes, nb, t, 2, columns, weight_t, KNp, c, sums); break;
            case 3: currents_tile(spikes, nb, t, 3, columns, weight_t, KNp, c, sums); break;
            case 4: currents_tile(spikes, nb, t, 4, columns, weight_t, KNp, c, sums); break;
            case 5: currents_tile(spikes, nb, t, 5, columns, weight_t, KNp, c, sums); break;
            case 6: currents_tile(spikes, nb, t, 6, columns, weight_t, KNp, c, sums); break;
            case 7: currents_tile(spikes, nb, t, 7, columns, weight_t, KNp, c, sums); break;
            default: currents_tile(spikes, nb, t, 8, columns, weight_t, KNp, c, sums); break;
            }
        }
    }
}

/* currents[k, t, b, i] = sum over j of image b (ascending) of mask[t, j] * weight_t[columns[j], q],
 * plus bias[q], q = k * N + i; weight_t is [M, KNp]. Images are independent: split among threads. */
int event_currents(const uint8_t *restrict mask, int64_t n, int64_t T, const int64_t *restrict starts, int64_t B,
                   const int64_t *restrict columns, const float *restrict weight_t, int64_t KNp,
                   const float *restrict bias, int64_t K, int64_t N, float *restrict currents, int threads) {
    const int64_t most = most_pixels(starts, B);
    int failed = 0;
    #pragma omp parallel num_threads(threads) reduction(|: failed)
    {
        float *sums = aligned_alloc(64, sizeof(float) * (size_t)(T * KNp));
        float *spikes = malloc(sizeof(float) * (size_t)(T * most + 1));
        failed = sums == NULL || spikes == NULL;
        #pragma omp for schedule(dynamic, 8)
        for (int64_t b = 0; b < B; b++) {
            if (failed) continue;
            const int64_t j0 = starts[b], nb = starts[b + 1] - j0;
            image_spikes(mask, n, T, j0, nb, spikes);
            image_currents(spikes, nb, T, columns + j0, weight_t, KNp, sums);
            for (int64_t k = 0; k < K; k++)
                for (int64_t t = 0; t < T; t++)
                    for (int64_t i = 0; i < N; i++)
                        currents[((k * T + t) * B + b) * N + i] = sums[t * KNp + k * N + i] + bias[k * N + i];
        }
        free(sums);
        free(spikes);
    }
    return failed;
}

/* partial[columns[p], c .. c+LANES) += even + odd for pixels p0 <= p < p0 + pixels (a constant
 * where inlined), even and odd the sums over the even and the odd steps t (each ascending)
 * of spikes[t, p] * g[t, c ..]. */
INLINE void grad_tile(const float *restrict spikes, int64_t nb, int64_t T, int64_t p0, const int pixels,
                      const int64_t *restrict columns, const float *restrict g, int64_t KNp, int64_t c,
                      float *restrict partial) {
    vec even[TILE][PER_BLOCK], odd[TILE][PER_BLOCK]; /* sized for every case of the switch below */
    for (int p = 0; p < pixels; p++)
        for (int v = 0; v < PER_BLOCK; v++) even[p][v] = odd[p][v] = (vec){0};
    int64_t t = 0;
    for (; t + 1 < T; t += 2) {
        const vec *g0 = (const vec *)(g + t * KNp + c), *g1 = (const vec *)(g + (t + 1) * KNp + c);
        for (int p = 0; p < pixels; p++) {
            const float spike = spikes[t * nb + p0 + p];
            for (int v = 0; v < PER_BLOCK; v++) even[p][v] += g0[v] * spike;
        }
        for (int p = 0; p < pixels; p++) {
            const float spike = spikes[(t + 1) * nb + p0 + p];
            for (int v = 0; v < PER_BLOCK; v++) odd[p][v] += g1[v] * spike;
        }
    }
    if (t < T) {
        const vec *g0 = (const vec *)(g + t * KNp + c);
        for (int p = 0; p < pixels; p++) {
            const float spike = spikes[t * nb + p0 + p];
            for (int v = 0; v < PER_BLOCK; v++) even[p][v] += g0[v] * spike;
        }
    }
    for (int p = 0; p < pixels; p++) {
        vec *w = (vec *)(partial + columns[p0 + p] * KNp + c);
        for (int v = 0; v < PER_BLOCK; v++) w[v] += even[p][v] + odd[p][v];
    }
}

/* The weight gradient of image b's pixels: partial[columns[j], q] += sum over t of
 * mask[t, j] * grad[k, t, b, i], the sum over t in two halves (even and odd steps). */
static void image_weight_grad(const uint8_t *restrict mask, int64_t n, int64_t T, int64_t j0, int64_t j1, int64_t b,
                              int64_t B, const int64_t *restrict columns, const float *restrict grad, int64_t K,
                              int64_t N, int64_t KNp, float *restrict g, float *restrict spikes,
                              float *restrict partial) {
    const int64_t nb = j1 - j0;
    const int64_t *cols = columns + j0;
    memset(g, 0, sizeof(float) * (size_t)(T * KNp));
    for (int64_t k = 0; k < K; k++)
        for (int64_t t = 0; t < T; t++)
            for (int64_t i = 0; i < N; i++) g[t * KNp + k * N + i] = grad[((k * T + t) * B + b) * N + i];
    image_spikes(mask, n, T, j0, nb, spikes);
    const int64_t tiles = tile_count(nb, TILE_PIXELS);
    for (int64_t tile = 0, p = 0, pixels; tile < tiles; tile++, p += pixels) {
        pixels = tile_size(nb, p, tile, tiles);
        for (int64_t c = 0; c < KNp; c += LANES) {
            switch (pixels) {  /* the unused sizes (above TILE_PIXELS) are never called */
            case 1: grad_tile(spikes, nb, T, p, 1, cols, g, KNp, c, partial); break;
            case 2: grad_tile(spikes, nb, T, p, 2, cols, g, KNp, c, partial); break;
            case 3: grad_tile(spikes, nb, T, p, 3, cols, g, KNp, c, partial); break;
            default: grad_tile(spikes, nb, T, p, 4, cols, g, KNp, c, partial); break;
            }
        }
    }
}

/* grad_weight_t [M, KNp] = the sum of the weight gradients of the batch's images: images in
 * PARTS fixed ranges, each summed into its own partial, the partials then added in order. */
int event_weight_grad(const uint8_t *restrict mask, int64_t n, int64_t T, const int64_t *restrict starts, int64_t B,
                      const int64_t *restrict columns, const float *restrict grad, int64_t K, int64_t N,
                      int64_t KNp, int64_t M, float *restrict grad_weight_t, int threads) {
    const int64_t size = M * KNp, most = most_pixels(starts, B);
    float *partials = aligned_alloc(64, sizeof(float) * (size_t)(PARTS * size));
    if (!partials) return 1;
    memset(partials, 0, sizeof(float) * (size_t)(PARTS * size));
    int failed = 0;
    #pragma omp parallel num_threads(threads) reduction(|: failed)
    {
        float *g = aligned_alloc(64, sizeof(float) * (size_t)(T * KNp));
        float *spikes = malloc(sizeof(float) * (size_t)(T * most + 1));
        failed = g == NULL || spikes == NULL;
        #pragma omp for schedule(dynamic, 1)
        for (int64_t part = 0; part < PARTS; part++) {
            if (failed) continue;
            for (int64_t b = part * B / PARTS; b < (part + 1) * B / PARTS; b++)
                image_weight_grad(mask, n, T, starts[b], starts[b + 1], b, B, columns, grad, K, N, KNp, g, spikes,
                                  partials + part * size);
        }
        free(g);
        free(spikes);
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
