/* How the process's allocator treats the training step's tensors (see kernels.h).
 *
 * A stack's tensors are a few MB each ([K, T, B, N] floats: 2.2 MB at 17 networks, T = 25,
 * batch 128), a dozen of them made and freed every batch. glibc's malloc returns freed
 * memory at the top of its heap to the system once more than its trim threshold is free,
 * and maps large blocks afresh; either way the next batch faults the same memory back in,
 * page by page, each page zeroed by the kernel. So, when these kernels are loaded, malloc
 * keeps up to TRIM_KEEP of freed memory and serves blocks below MMAP_ABOVE from its heap
 * (the most its own adaptive threshold would reach): the process stays at the size of its
 * largest batch instead of shrinking and regrowing every batch. Numbers are unchanged. */
#include "kernels.h"

#if defined(__GLIBC__)
#include <malloc.h>

#define TRIM_KEEP (256 << 20)
#define MMAP_ABOVE (32 << 20)

__attribute__((constructor)) static void keep_freed_memory(void) {
    mallopt(M_TRIM_THRESHOLD, TRIM_KEEP);
    mallopt(M_MMAP_THRESHOLD, MMAP_ABOVE);
}
#endif
