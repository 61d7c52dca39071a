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

/* Vectors of the target's own width (GCC/Clang vector extensions): 16 floats with AVX-512, 8
 * with AVX, else 4 (SSE, NEON). A vector type wider than the target's registers would not be
 * kept in registers: the compiler moves it through the stack piece by piece. Only the speed
 * depends on the width: each lane is one element's arithmetic, as written. */
#if defined(__AVX512F__)
#define WIDTH 16
#elif defined(__AVX__)
#define WIDTH 8
#else
#define WIDTH 4
#endif
typedef float vec __attribute__((vector_size(WIDTH * sizeof(float)), aligned(sizeof(float))));

/* The vector loops keep a tile of at most TILE vectors of sums in registers: 16 registers
 * (SSE, AVX2) hold 8 sums, the vectors they are fed and a broadcast value; AVX-512 has 32.
 * A tile's size is a constant where its loop is inlined (a switch over the sizes), so that
 * its sums are registers; the sums of one element run in the same order whatever the tile. */
#define TILE 8
#define INLINE static inline __attribute__((always_inline))

/* `count` things in tiles of near-equal size, at most `most` each: a short last tile would
 * leave few independent sums to overlap (25 in tiles of 4 is 3 3 3 4 4 4 4, not 4 x 6 + 1).
 * tile_count: how many tiles; tile_size: the size of tile `tile` when `done` are taken. */
static inline int64_t tile_count(int64_t count, int64_t most) { return (count + most - 1) / most; }
static inline int64_t tile_size(int64_t count, int64_t done, int64_t tile, int64_t tiles) {
    return (count - done) / (tiles - tile);
}

#endif
