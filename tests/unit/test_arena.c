/* The arena: zeroed and aligned blocks, big blocks of their own, growing arrays, byte copies,
 * and NULL (never a short block) when a size overflows. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "arena.h"

enum { BIG = 1 << 20 }; /* far above the arena's chunk */

static bool all_zero(const void *p, size_t n) {
  const unsigned char *b = p;
  for (size_t i = 0; i < n; i++)
    if (b[i]) return false;
  return true;
}

static void test_calloc_returns_zeroed_memory(void **state) {
  (void)state;
  /* Dirty the heap first so that zeroes cannot come from fresh pages by luck. */
  struct tqt_arena *dirty = tqt_arena_create();
  assert_non_null(dirty);
  for (int i = 0; i < 64; i++) memset(tqt_arena_calloc(dirty, 1, 1000), 0xa5, 1000);
  tqt_arena_destroy(dirty);

  struct tqt_arena *a = tqt_arena_create();
  assert_non_null(a);
  for (int i = 0; i < 64; i++) {
    unsigned char *p = tqt_arena_calloc(a, 10, 100);
    assert_non_null(p);
    assert_true(all_zero(p, 1000));
    memset(p, 0xff, 1000);
  }
  tqt_arena_destroy(a);
}

static void test_calloc_aligns_every_block_to_16_bytes(void **state) {
  (void)state;
  struct tqt_arena *a = tqt_arena_create();
  static const size_t sizes[] = {1, 3, 7, 15, 16, 17, 33, 100, 4095, 16385, BIG + 1};
  for (size_t i = 0; i < 3 * sizeof sizes / sizeof *sizes; i++) {
    void *p = tqt_arena_calloc(a, 1, sizes[i % (sizeof sizes / sizeof *sizes)]);
    assert_non_null(p);
    assert_int_equal((uintptr_t)p % 16, 0);
  }
  tqt_arena_destroy(a);
}

static void test_calloc_of_zero_bytes_returns_distinct_blocks(void **state) {
  (void)state;
  struct tqt_arena *a = tqt_arena_create();
  void *p = tqt_arena_calloc(a, 0, 8), *q = tqt_arena_calloc(a, 8, 0);
  assert_non_null(p);
  assert_non_null(q);
  assert_ptr_not_equal(p, q);
  tqt_arena_destroy(a);
}

static void test_small_blocks_do_not_overlap(void **state) {
  (void)state;
  struct tqt_arena *a = tqt_arena_create();
  enum { N = 5000, SIZE = 40 };
  unsigned char **blocks = malloc(N * sizeof *blocks);
  assert_non_null(blocks);
  for (int i = 0; i < N; i++) {
    blocks[i] = tqt_arena_calloc(a, 1, SIZE);
    assert_non_null(blocks[i]);
    memset(blocks[i], i & 0xff, SIZE);
  }
  for (int i = 0; i < N; i++)
    for (int k = 0; k < SIZE; k++) assert_int_equal(blocks[i][k], i & 0xff);
  free(blocks);
  tqt_arena_destroy(a);
}

static void test_big_block_is_zeroed_and_counted(void **state) {
  (void)state;
  struct tqt_arena *a = tqt_arena_create();
  size_t before = tqt_arena_bytes(a);
  unsigned char *big = tqt_arena_calloc(a, 1, BIG);
  assert_non_null(big);
  assert_true(all_zero(big, BIG));
  memset(big, 0x5a, BIG);
  assert_true(tqt_arena_bytes(a) >= before + BIG);
  tqt_arena_destroy(a);
}

static void test_small_blocks_after_big_block_stay_separate(void **state) {
  (void)state;
  struct tqt_arena *a = tqt_arena_create();
  unsigned char *small1 = tqt_arena_calloc(a, 1, 64);
  unsigned char *big = tqt_arena_calloc(a, 1, BIG);
  unsigned char *small2 = tqt_arena_calloc(a, 1, 64);
  assert_non_null(small1);
  assert_non_null(big);
  assert_non_null(small2);
  memset(big, 0xee, BIG);
  assert_true(all_zero(small1, 64));
  assert_true(all_zero(small2, 64));
  assert_true(small2 + 64 <= big || small2 >= big + BIG);
  tqt_arena_destroy(a);
}

static void test_reserve_growth_keeps_contents(void **state) {
  (void)state;
  struct tqt_arena *a = tqt_arena_create();
  int64_t *v = NULL;
  size_t cap = 0;
  assert_int_equal(tqt_arena_reserve(a, (void **)&v, &cap, 3, sizeof *v), 0);
  assert_true(cap >= 3);
  for (size_t i = 0; i < cap; i++) v[i] = (int64_t)i * 7 - 1;
  size_t old_cap = cap;
  for (size_t need = cap + 1; need <= 10000; need += 997) {
    assert_int_equal(tqt_arena_reserve(a, (void **)&v, &cap, need, sizeof *v), 0);
    assert_true(cap >= need);
  }
  for (size_t i = 0; i < old_cap; i++) assert_int_equal(v[i], (int64_t)i * 7 - 1);
  assert_true(all_zero(v + old_cap, (cap - old_cap) * sizeof *v));
  tqt_arena_destroy(a);
}

static void test_reserve_within_capacity_keeps_the_array(void **state) {
  (void)state;
  struct tqt_arena *a = tqt_arena_create();
  char *v = NULL;
  size_t cap = 0;
  assert_int_equal(tqt_arena_reserve(a, (void **)&v, &cap, 10, 1), 0);
  char *same = v;
  size_t same_cap = cap;
  assert_int_equal(tqt_arena_reserve(a, (void **)&v, &cap, cap, 1), 0);
  assert_ptr_equal(v, same);
  assert_int_equal(cap, same_cap);
  tqt_arena_destroy(a);
}

static void test_reserve_capacity_overflow_fails_and_keeps_the_array(void **state) {
  (void)state;
  struct tqt_arena *a = tqt_arena_create();
  int64_t *v = NULL;
  size_t cap = 0;
  assert_int_equal(tqt_arena_reserve(a, (void **)&v, &cap, 4, sizeof *v), 0);
  int64_t *old = v;
  size_t old_cap = cap;
  assert_int_equal(tqt_arena_reserve(a, (void **)&v, &cap, SIZE_MAX, sizeof *v), -1);
  assert_int_equal(tqt_arena_reserve(a, (void **)&v, &cap, SIZE_MAX / 4, sizeof *v), -1);
  assert_ptr_equal(v, old);
  assert_int_equal(cap, old_cap);
  tqt_arena_destroy(a);
}

static void test_memdup_copies_embedded_nul_and_appends_nul(void **state) {
  (void)state;
  struct tqt_arena *a = tqt_arena_create();
  static const char src[] = {'a', '\0', 'b', 'c'};
  char *s = tqt_arena_memdup(a, src, sizeof src);
  assert_non_null(s);
  assert_memory_equal(s, src, sizeof src);
  assert_int_equal(s[sizeof src], '\0');
  tqt_arena_destroy(a);
}

static void test_memdup_of_nothing_is_an_empty_string(void **state) {
  (void)state;
  struct tqt_arena *a = tqt_arena_create();
  char *s = tqt_arena_memdup(a, NULL, 0);
  assert_non_null(s);
  assert_string_equal(s, "");
  tqt_arena_destroy(a);
}

static void test_strdup_of_null_is_an_empty_string(void **state) {
  (void)state;
  struct tqt_arena *a = tqt_arena_create();
  char *s = tqt_arena_strdup(a, NULL);
  assert_non_null(s);
  assert_string_equal(s, "");
  assert_string_equal(tqt_arena_strdup(a, "conv1.weight"), "conv1.weight");
  tqt_arena_destroy(a);
}

static void test_printf_formats_into_the_arena(void **state) {
  (void)state;
  struct tqt_arena *a = tqt_arena_create();
  assert_string_equal(tqt_arena_printf(a, "%s_%d", "node", 42), "node_42");
  char *long_text = tqt_arena_printf(a, "%0*d", 100000, 7); /* bigger than a chunk's quarter */
  assert_non_null(long_text);
  assert_int_equal(strlen(long_text), 100000);
  assert_int_equal(long_text[99999], '7');
  tqt_arena_destroy(a);
}

static void test_calloc_overflow_returns_null(void **state) {
  (void)state;
  struct tqt_arena *a = tqt_arena_create();
  assert_null(tqt_arena_calloc(a, SIZE_MAX / 2 + 1, 2));
  assert_null(tqt_arena_calloc(a, 2, SIZE_MAX / 2 + 1));
  assert_null(tqt_arena_calloc(a, SIZE_MAX, SIZE_MAX));
  assert_null(tqt_arena_calloc(a, 1, SIZE_MAX));      /* rounding up to 16 would wrap */
  assert_null(tqt_arena_calloc(a, 1, SIZE_MAX - 8)); /* likewise */
  /* The arena still works afterwards. */
  assert_non_null(tqt_arena_calloc(a, 1, 32));
  tqt_arena_destroy(a);
}

static void test_memdup_overflow_returns_null(void **state) {
  (void)state;
  struct tqt_arena *a = tqt_arena_create();
  static const char byte = 'x';
  assert_null(tqt_arena_memdup(a, &byte, SIZE_MAX));
  tqt_arena_destroy(a);
}

static void test_adopted_block_lives_until_destroy(void **state) {
  (void)state;
  struct tqt_arena *a = tqt_arena_create();
  char *block = malloc(100);
  assert_non_null(block);
  memset(block, 'q', 100);
  assert_int_equal(tqt_arena_adopt(a, block), 0);
  for (int i = 0; i < 1000; i++) assert_non_null(tqt_arena_calloc(a, 1, 200));
  assert_int_equal(block[99], 'q');
  tqt_arena_destroy(a); /* frees block (a leak checker would tell) */
}

static void test_destroy_of_null_does_nothing(void **state) {
  (void)state;
  tqt_arena_destroy(NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_calloc_returns_zeroed_memory),
      cmocka_unit_test(test_calloc_aligns_every_block_to_16_bytes),
      cmocka_unit_test(test_calloc_of_zero_bytes_returns_distinct_blocks),
      cmocka_unit_test(test_small_blocks_do_not_overlap),
      cmocka_unit_test(test_big_block_is_zeroed_and_counted),
      cmocka_unit_test(test_small_blocks_after_big_block_stay_separate),
      cmocka_unit_test(test_reserve_growth_keeps_contents),
      cmocka_unit_test(test_reserve_within_capacity_keeps_the_array),
      cmocka_unit_test(test_reserve_capacity_overflow_fails_and_keeps_the_array),
      cmocka_unit_test(test_memdup_copies_embedded_nul_and_appends_nul),
      cmocka_unit_test(test_memdup_of_nothing_is_an_empty_string),
      cmocka_unit_test(test_strdup_of_null_is_an_empty_string),
      cmocka_unit_test(test_printf_formats_into_the_arena),
      cmocka_unit_test(test_calloc_overflow_returns_null),
      cmocka_unit_test(test_memdup_overflow_returns_null),
      cmocka_unit_test(test_adopted_block_lives_until_destroy),
      cmocka_unit_test(test_destroy_of_null_does_nothing),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
