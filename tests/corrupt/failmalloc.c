/* LD_PRELOAD library for tests/corrupt/malloc_fail.sh: the allocation number
 * TQT_FAIL_MALLOC_AT (1 = the first malloc, calloc or realloc the process makes once this
 * library is loaded) returns NULL with errno ENOMEM; every other one succeeds. With
 * TQT_FAIL_MALLOC_COUNT=FILE the number of allocations made is written to FILE at exit.
 * OpenBLAS's own allocations are neither counted nor failed: its small-matrix sgemm kernels
 * use a failed malloc's NULL (OpenBLAS 0.3.21), which no caller can help. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* dl_iterate_phdr (meson defines it already) */
#endif
#include <errno.h>
#include <link.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void *__libc_malloc(size_t n);
void *__libc_calloc(size_t n, size_t size);
void *__libc_realloc(void *p, size_t n);

static long fail_at = -1;
static long count;
static uintptr_t skip_lo[8], skip_hi[8]; /* OpenBLAS's loaded segments */
static int n_skip;

static int failmalloc_find_openblas(struct dl_phdr_info *info, size_t size, void *ctx) {
  (void)size;
  (void)ctx;
  if (!info->dlpi_name || !strstr(info->dlpi_name, "openblas")) return 0;
  for (int i = 0; i < info->dlpi_phnum && n_skip < 8; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    if (ph->p_type != PT_LOAD) continue;
    skip_lo[n_skip] = info->dlpi_addr + ph->p_vaddr;
    skip_hi[n_skip++] = info->dlpi_addr + ph->p_vaddr + ph->p_memsz;
  }
  return 0;
}

__attribute__((constructor)) static void failmalloc_init(void) {
  const char *s = getenv("TQT_FAIL_MALLOC_AT");
  if (s) fail_at = atol(s);
  dl_iterate_phdr(failmalloc_find_openblas, NULL);
}

__attribute__((destructor)) static void failmalloc_report(void) {
  const char *path = getenv("TQT_FAIL_MALLOC_COUNT");
  if (!path) return;
  FILE *fp = fopen(path, "w");
  if (!fp) return;
  fprintf(fp, "%ld\n", __atomic_load_n(&count, __ATOMIC_RELAXED));
  fclose(fp);
}

static int failmalloc_now(uintptr_t caller) {
  for (int i = 0; i < n_skip; i++)
    if (caller >= skip_lo[i] && caller < skip_hi[i]) return 0;
  long n = __atomic_add_fetch(&count, 1, __ATOMIC_RELAXED);
  if (n != fail_at) return 0;
  errno = ENOMEM;
  return 1;
}

#define FAILMALLOC_CALLER ((uintptr_t)__builtin_return_address(0))

void *malloc(size_t n) { return failmalloc_now(FAILMALLOC_CALLER) ? NULL : __libc_malloc(n); }
void *calloc(size_t n, size_t size) {
  return failmalloc_now(FAILMALLOC_CALLER) ? NULL : __libc_calloc(n, size);
}
void *realloc(void *p, size_t n) {
  return failmalloc_now(FAILMALLOC_CALLER) ? NULL : __libc_realloc(p, n);
}
