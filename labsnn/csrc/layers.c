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
