/* Arena memory: everything of one model (IR, strings, tensor data) is carved from one arena and
 * freed at once. Large blocks get their own allocation so that big tensors cost no copy. */
#ifndef TQT_ARENA_H
#define TQT_ARENA_H

#include <stddef.h>

struct tqt_arena;

struct tqt_arena *tqt_arena_create(void);
void tqt_arena_destroy(struct tqt_arena *a);

/* Zeroed, 16-byte aligned memory; NULL when out of memory or when n * size overflows. */
void *tqt_arena_calloc(struct tqt_arena *a, size_t n, size_t size);
/* Copy of [p, p + len) with a NUL after it (so byte strings can be printed too). */
char *tqt_arena_memdup(struct tqt_arena *a, const void *p, size_t len);
char *tqt_arena_strdup(struct tqt_arena *a, const char *s);
char *tqt_arena_printf(struct tqt_arena *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Hands a malloc'd block to the arena, which frees it with the rest. Returns 0, or -1 (and frees
 * the block) when out of memory. */
int tqt_arena_adopt(struct tqt_arena *a, void *block);
/* Grows an array carved from the arena so it holds at least `need` elements: capacities double,
 * the old block stays in the arena until it is destroyed. Returns 0 or -1 when out of memory. */
int tqt_arena_reserve(struct tqt_arena *a, void **array, size_t *capacity, size_t need,
                      size_t elem_size);
/* Calls fn(ctx) when the arena is destroyed, before its memory is freed (hooks run newest
 * first): for what the arena's memory points at but does not own, such as file mappings.
 * Returns 0, or -1 when out of memory (fn is then not registered). */
int tqt_arena_on_destroy(struct tqt_arena *a, void (*fn)(void *ctx), void *ctx);
/* Bytes the arena holds (for benchmarks and reports). */
size_t tqt_arena_bytes(const struct tqt_arena *a);

#endif
