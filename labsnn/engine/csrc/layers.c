/* The LIF layers, the hidden layers and the bias gradients (see kernels.h). */
#include "kernels.h"

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
                /* the reset as the torch loop's addcmul: S is 0 or 1 and V_th finite, so
                 * v - S * V_th is v - V_th or v exactly; a conditional subtraction would
                 * vectorise only with masked arithmetic (AVX-512, not AVX2 or SSE) */
                const float v = (Vp[r] * b + It[r]) - Sp[r] * th;
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

/* Columns a row_sums job keeps in its own sums at a time. */
#define SUM_COLUMNS 64

/* out[k, n] = the sum over rows r of x[k, r, n] (x [K, R, N]): PARTS fixed row ranges, each
 * summed in order, the partial sums then added in order. A job adds into sums of its own
 * (written out once), not into the shared partials: neighbouring jobs' partials share cache
 * lines, and writing them at every row would move those lines between the cores. */
int row_sums(const float *restrict x, int64_t K, int64_t R, int64_t N, float *restrict out, int threads) {
    float *partials = malloc(sizeof(float) * (size_t)(K * PARTS * N + 1));
    if (!partials) return 1;
    #pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
    for (int64_t job = 0; job < K * PARTS; job++) {
        const int64_t k = job / PARTS, part = job % PARTS;
        for (int64_t n0 = 0; n0 < N; n0 += SUM_COLUMNS) {
            const int64_t columns = N - n0 < SUM_COLUMNS ? N - n0 : SUM_COLUMNS;
            float sums[SUM_COLUMNS] = {0};
            for (int64_t r = part * R / PARTS; r < (part + 1) * R / PARTS; r++) {
                const float *row = x + (k * R + r) * N + n0;
                for (int64_t n = 0; n < columns; n++) sums[n] += row[n];
            }
            memcpy(partials + job * N + n0, sums, sizeof(float) * (size_t)columns);
        }
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

/* One block of up to WIDTH rows of a product, each vector lane a row (the rows' inputs
 * transposed into xt [I, WIDTH]): sums[o] = the sum over i, in order, of xt[i] * w[i, o], for
 * the `outs` outputs from o0 (a constant where inlined). */
INLINE void rows_tile(const float *restrict xt, int64_t I, const float *restrict w, int64_t O, int64_t o0,
                      const int outs, vec *restrict sums) {
    vec acc[TILE]; /* sized for every case of the switch in rows_product */
    for (int o = 0; o < outs; o++) acc[o] = (vec){0};
    for (int64_t i = 0; i < I; i++) {
        const vec x = *(const vec *)(xt + i * WIDTH);
        for (int o = 0; o < outs; o++) acc[o] += x * w[i * O + o0 + o];
    }
    for (int o = 0; o < outs; o++) sums[o0 + o] = acc[o];
}

/* out[r, o] = (the sum over i, in order, of x[r, i] * w[i, o]) + bias[o] (bias NULL: none), r <
 * rows; x [rows, I], w [I, O], out [rows, O]. WIDTH rows at a time, one per vector lane (a
 * vector over the O outputs of one row would be mostly padding at the lab's O = 10); the
 * last block's missing rows are zeros, not written. Scratch: xt [I * WIDTH], sums [O]. */
static void rows_product(const float *restrict x, int64_t rows, int64_t I, const float *restrict w, int64_t O,
                         const float *restrict bias, float *restrict out, float *restrict xt, vec *restrict sums) {
    const int64_t tiles = tile_count(O, TILE);
    for (int64_t r = 0; r < rows; r += WIDTH) {
        const int64_t lanes = rows - r < WIDTH ? rows - r : WIDTH;
        for (int64_t i = 0; i < I; i++)
            for (int64_t l = 0; l < WIDTH; l++) xt[i * WIDTH + l] = l < lanes ? x[(r + l) * I + i] : 0.0f;
        for (int64_t tile = 0, o = 0, outs; tile < tiles; tile++, o += outs) {
            outs = tile_size(O, o, tile, tiles);
            switch (outs) {  /* the unused sizes (above TILE) are never called */
            case 1: rows_tile(xt, I, w, O, o, 1, sums); break;
            case 2: rows_tile(xt, I, w, O, o, 2, sums); break;
            case 3: rows_tile(xt, I, w, O, o, 3, sums); break;
            case 4: rows_tile(xt, I, w, O, o, 4, sums); break;
            case 5: rows_tile(xt, I, w, O, o, 5, sums); break;
            case 6: rows_tile(xt, I, w, O, o, 6, sums); break;
            case 7: rows_tile(xt, I, w, O, o, 7, sums); break;
            default: rows_tile(xt, I, w, O, o, 8, sums); break;
            }
        }
        for (int64_t l = 0; l < lanes; l++)
            for (int64_t o = 0; o < O; o++) out[(r + l) * O + o] = bias ? sums[o][l] + bias[o] : sums[o][l];
    }
}

/* Rows per job of the products below (jobs go to threads as they come free). */
#define JOB_ROWS 256

/* A hidden layer of K networks fed spikes [K, R, M] (R = T * B rows), weight_t [K, M, N]
 * (the weight transposed): currents[k, r, n] = (sum over m, in order, of spikes[k, r, m] *
 * weight_t[k, m, n]) + bias[k, n]. */
int dense_currents(const float *restrict spikes, const float *restrict weight_t, const float *restrict bias,
                   int64_t K, int64_t R, int64_t M, int64_t N, float *restrict currents, int threads) {
    const int64_t jobs = (R + JOB_ROWS - 1) / JOB_ROWS;
    int failed = 0;
    #pragma omp parallel num_threads(threads) reduction(|: failed)
    {
        float *xt = malloc(sizeof(float) * (size_t)(M * WIDTH + 1));
        vec *sums = malloc(sizeof(vec) * (size_t)(N + 1));
        failed = xt == NULL || sums == NULL;
        #pragma omp for schedule(dynamic, 1)
        for (int64_t job = 0; job < K * jobs; job++) {
            if (failed) continue;
            const int64_t k = job / jobs, r = job % jobs * JOB_ROWS, rows = R - r < JOB_ROWS ? R - r : JOB_ROWS;
            rows_product(spikes + (k * R + r) * M, rows, M, weight_t + k * M * N, N, bias + k * N,
                         currents + (k * R + r) * N, xt, sums);
        }
        free(xt);
        free(sums);
    }
    return failed;
}

/* partial [N, Mp] += for the `ns` outputs n from n0 (a constant where inlined) and one vector of
 * m from m0: the sum over rows r < rows, in order, of g[r, n] * s[r, m] (s [rows, Mp], g [rows, N]). */
INLINE void outer_tile(const float *restrict s, int64_t Mp, const float *restrict g, int64_t N, int64_t rows,
                       int64_t n0, const int ns, int64_t m0, float *restrict partial) {
    vec acc[TILE]; /* sized for every case of the switch in dense_grads */
    for (int n = 0; n < ns; n++) acc[n] = *(const vec *)(partial + (n0 + n) * Mp + m0);
    for (int64_t r = 0; r < rows; r++) {
        const vec sv = *(const vec *)(s + r * Mp + m0);
        for (int n = 0; n < ns; n++) acc[n] += g[r * N + n0 + n] * sv;
    }
    for (int n = 0; n < ns; n++) *(vec *)(partial + (n0 + n) * Mp + m0) = acc[n];
}

/* Rows of spikes copied at a time into a buffer whose rows are padded to Mp (a multiple of
 * WIDTH) with zeros, so that a vector never reads past a row. */
#define CHUNK_ROWS 64

/* Its gradients: grad_spikes[k, r, m] = sum over n, in order, of grad[k, r, n] * weight[k, n, m]
 * (weight [K, N, M] is the transposed product's w); grad_weight[k, n, m] = the sum over rows of
 * grad[k, r, n] * spikes[k, r, m], in PARTS fixed row ranges added in order (as row_sums),
 * one vector over m at a time (partials padded to Mp). */
int dense_grads(const float *restrict grad, const float *restrict spikes, const float *restrict weight, int64_t K,
                int64_t R, int64_t M, int64_t N, float *restrict grad_spikes, float *restrict grad_weight, int threads) {
    const int64_t Mp = (M + WIDTH - 1) / WIDTH * WIDTH, jobs = (R + JOB_ROWS - 1) / JOB_ROWS;
    float *partials = calloc((size_t)(K * PARTS * N * Mp), sizeof(float));
    if (!partials) return 1;
    int failed = 0;
    #pragma omp parallel num_threads(threads) reduction(|: failed)
    {
        float *xt = malloc(sizeof(float) * (size_t)(N * WIDTH + 1));
        vec *sums = malloc(sizeof(vec) * (size_t)(M + 1));
        float *chunk = malloc(sizeof(float) * (size_t)(CHUNK_ROWS * Mp + 1));
        failed = xt == NULL || sums == NULL || chunk == NULL;
        #pragma omp for schedule(dynamic, 1)
        for (int64_t job = 0; job < K * jobs; job++) {
            if (failed) continue;
            const int64_t k = job / jobs, r = job % jobs * JOB_ROWS, rows = R - r < JOB_ROWS ? R - r : JOB_ROWS;
            rows_product(grad + (k * R + r) * N, rows, N, weight + k * N * M, M, NULL, grad_spikes + (k * R + r) * M,
                         xt, sums);
        }
        const int64_t tiles = tile_count(N, TILE);
        #pragma omp for schedule(dynamic, 1)
        for (int64_t job = 0; job < K * PARTS; job++) {
            if (failed) continue;
            const int64_t k = job / PARTS, part = job % PARTS;
            float *partial = partials + job * N * Mp;
            for (int64_t r = part * R / PARTS, end = (part + 1) * R / PARTS; r < end; r += CHUNK_ROWS) {
                const int64_t rows = end - r < CHUNK_ROWS ? end - r : CHUNK_ROWS;
                const float *g = grad + (k * R + r) * N;
                for (int64_t q = 0; q < rows; q++)
                    for (int64_t m = 0; m < Mp; m++) chunk[q * Mp + m] = m < M ? spikes[(k * R + r + q) * M + m] : 0.0f;
                for (int64_t m = 0; m < Mp; m += WIDTH)
                    for (int64_t tile = 0, n = 0, ns; tile < tiles; tile++, n += ns) {
                        ns = tile_size(N, n, tile, tiles);
                        switch (ns) {  /* the unused sizes (above TILE) are never called */
                        case 1: outer_tile(chunk, Mp, g, N, rows, n, 1, m, partial); break;
                        case 2: outer_tile(chunk, Mp, g, N, rows, n, 2, m, partial); break;
                        case 3: outer_tile(chunk, Mp, g, N, rows, n, 3, m, partial); break;
                        case 4: outer_tile(chunk, Mp, g, N, rows, n, 4, m, partial); break;
                        case 5: outer_tile(chunk, Mp, g, N, rows, n, 5, m, partial); break;
                        case 6: outer_tile(chunk, Mp, g, N, rows, n, 6, m, partial); break;
                        case 7: outer_tile(chunk, Mp, g, N, rows, n, 7, m, partial); break;
                        default: outer_tile(chunk, Mp, g, N, rows, n, 8, m, partial); break;
                        }
                    }
            }
        }
        free(xt);
        free(sums);
        free(chunk);
    }
    for (int64_t k = 0; k < K; k++)
        for (int64_t n = 0; n < N; n++)
            for (int64_t m = 0; m < M; m++) {
                float sum = partials[(k * PARTS * N + n) * Mp + m];
                for (int64_t part = 1; part < PARTS; part++) sum += partials[((k * PARTS + part) * N + n) * Mp + m];
                grad_weight[(k * N + n) * M + m] = sum;
            }
    free(partials);
    return failed;
}
