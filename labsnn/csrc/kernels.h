#ifndef LABSNN_KERNELS_H
#define LABSNN_KERNELS_H
/* Compiled CPU loops of labsnn's training step (built and loaded by labsnn/kernels.py):
 * input.c (the Bernoulli input as events and the first layer fed them), layers.c (the LIF
 * layers, the hidden layers, the bias gradients).
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

/* Sums over a batch run in PARTS fixed ranges of rows, each summed in order, the partial
 * sums then added in order. */
#define PARTS 4

#endif
