#include "arena.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Small allocations are carved from chunks; a request larger than a quarter chunk gets a chunk of
 * its own, so big tensors waste nothing. Adopted blocks hang in a list of their own. */
enum { ARENA_CHUNK = 64 * 1024, ARENA_ALIGN = 16 };

struct arena_chunk {
  struct arena_chunk *next;
  size_t size, used;
  _Alignas(16) unsigned char mem[];
};

struct arena_adopted {
  struct arena_adopted *next;
  void *block;
};

struct arena_hook {
  struct arena_hook *next;
  void (*fn)(void *ctx);
  void *ctx;
};

struct tqt_arena {
  struct arena_chunk *chunks; /* head is the one being filled */
  struct arena_adopted *adopted;
  struct arena_hook *hooks; /* newest first */
  size_t bytes;
};

struct tqt_arena *tqt_arena_create(void) { return calloc(1, sizeof(struct tqt_arena)); }

void tqt_arena_destroy(struct tqt_arena *a) {
  if (!a) return;
  for (struct arena_hook *h = a->hooks, *next; h; h = next) {
    next = h->next;
    h->fn(h->ctx);
    free(h);
  }
  for (struct arena_chunk *c = a->chunks, *next; c; c = next) {
    next = c->next;
    free(c);
  }
  for (struct arena_adopted *b = a->adopted, *next; b; b = next) {
    next = b->next;
    free(b->block);
    free(b);
  }
  free(a);
}

static struct arena_chunk *arena_chunk_new(size_t size) {
  struct arena_chunk *c = malloc(sizeof *c + size);
  if (!c) return NULL;
  c->next = NULL;
  c->size = size;
  c->used = 0;
  return c;
}

void *tqt_arena_calloc(struct tqt_arena *a, size_t n, size_t size) {
  if (size && n > SIZE_MAX / size) return NULL;
  size_t want = n * size;
  if (want > SIZE_MAX - ARENA_ALIGN) return NULL;
  want = (want + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
  if (want == 0) want = ARENA_ALIGN;
  struct arena_chunk *c = a->chunks;
  if (want > ARENA_CHUNK / 4) {
    struct arena_chunk *big = arena_chunk_new(want);
    if (!big) return NULL;
    big->used = want;
    /* Behind the current chunk, so the current one keeps filling. */
    if (c) {
      big->next = c->next;
      c->next = big;
    } else {
      a->chunks = big;
    }
    a->bytes += want;
    memset(big->mem, 0, want);
    return big->mem;
  }
  if (!c || c->size - c->used < want) {
    c = arena_chunk_new(ARENA_CHUNK);
    if (!c) return NULL;
    c->next = a->chunks;
    a->chunks = c;
    a->bytes += ARENA_CHUNK;
  }
  void *p = c->mem + c->used;
  c->used += want;
  memset(p, 0, want);
  return p;
}

char *tqt_arena_memdup(struct tqt_arena *a, const void *p, size_t len) {
  if (len == SIZE_MAX) return NULL;
  char *s = tqt_arena_calloc(a, 1, len + 1);
  if (s && len) memcpy(s, p, len);
  return s;
}

char *tqt_arena_strdup(struct tqt_arena *a, const char *s) {
  return tqt_arena_memdup(a, s ? s : "", s ? strlen(s) : 0);
}

char *tqt_arena_printf(struct tqt_arena *a, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int len = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (len < 0) return NULL;
  char *s = tqt_arena_calloc(a, 1, (size_t)len + 1);
  if (!s) return NULL;
  va_start(ap, fmt);
  vsnprintf(s, (size_t)len + 1, fmt, ap);
  va_end(ap);
  return s;
}

int tqt_arena_adopt(struct tqt_arena *a, void *block) {
  struct arena_adopted *b = malloc(sizeof *b);
  if (!b) {
    free(block);
    return -1;
  }
  b->block = block;
  b->next = a->adopted;
  a->adopted = b;
  return 0;
}

int tqt_arena_reserve(struct tqt_arena *a, void **array, size_t *capacity, size_t need,
                      size_t elem_size) {
  if (need <= *capacity) return 0;
  size_t cap = *capacity ? *capacity : 4;
  while (cap < need) {
    if (cap > SIZE_MAX / 2) return -1;
    cap *= 2;
  }
  void *grown = tqt_arena_calloc(a, cap, elem_size);
  if (!grown) return -1;
  if (*capacity) memcpy(grown, *array, *capacity * elem_size);
  *array = grown;
  *capacity = cap;
  return 0;
}

int tqt_arena_on_destroy(struct tqt_arena *a, void (*fn)(void *ctx), void *ctx) {
  struct arena_hook *h = malloc(sizeof *h);
  if (!h) return -1;
  h->fn = fn;
  h->ctx = ctx;
  h->next = a->hooks;
  a->hooks = h;
  return 0;
}

size_t tqt_arena_bytes(const struct tqt_arena *a) { return a->bytes; }
