/* Work spread over threads: every item runs once, commits come one at a time in item order
 * whatever the number of workers, and a failure reports the lowest failing item. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "parallel.h"

enum { ITEMS = 500, WORKERS = 4 };

struct record {
  int ran[ITEMS];
  size_t order[ITEMS], n_committed;
  size_t worker_of[ITEMS];
  double sum; /* summed in commit order: the same bits for any number of workers */
  size_t fail_at[2];
};

static enum tqt_status work(void *ctx, size_t worker, size_t item, struct tqt_diag *d) {
  struct record *r = ctx;
  r->ran[item]++;
  r->worker_of[item] = worker;
  /* uneven work, so that later items often finish first */
  volatile double x = 0;
  for (size_t k = 0; k < (item % 7) * 2000; k++) x += 1e-9 * (double)k;
  for (size_t k = 0; k < 2; k++)
    if (r->fail_at[k] == item)
      return tqt_diag_fail(d, TQT_STATUS_INVALID, "item %zu failed", item);
  return TQT_STATUS_OK;
}

static enum tqt_status commit(void *ctx, size_t worker, size_t item, struct tqt_diag *d) {
  (void)d;
  struct record *r = ctx;
  assert_int_equal(worker, r->worker_of[item]); /* on the worker that ran it */
  r->order[r->n_committed++] = item;
  r->sum += 1.0 / (double)(item + 3);
  return TQT_STATUS_OK;
}

static void run(struct record *r, size_t workers, struct tqt_diag *d, enum tqt_status want) {
  memset(r->ran, 0, sizeof r->ran);
  r->n_committed = 0;
  r->sum = 0;
  assert_int_equal(tqt_parallel_run(ITEMS, workers, work, commit, r, d), want);
}

static void test_every_item_once_commits_in_order(void **state) {
  (void)state;
  struct record one = {.fail_at = {SIZE_MAX, SIZE_MAX}}, many = one;
  struct tqt_diag d = {0};
  run(&one, 1, &d, TQT_STATUS_OK);
  run(&many, WORKERS, &d, TQT_STATUS_OK);
  assert_int_equal(many.n_committed, ITEMS);
  for (size_t i = 0; i < ITEMS; i++) {
    assert_int_equal(many.ran[i], 1);
    assert_int_equal(many.order[i], i);
  }
  assert_memory_equal(&one.sum, &many.sum, sizeof one.sum);
}

static void test_more_workers_than_items(void **state) {
  (void)state;
  struct record r = {.fail_at = {SIZE_MAX, SIZE_MAX}};
  struct tqt_diag d = {0};
  assert_int_equal(tqt_parallel_run(3, 64, work, commit, &r, &d), TQT_STATUS_OK);
  assert_int_equal(r.n_committed, 3);
  assert_int_equal(tqt_parallel_run(0, 4, work, commit, &r, &d), TQT_STATUS_OK);
  assert_int_equal(r.n_committed, 3);
}

static void test_lowest_failure_reported(void **state) {
  (void)state;
  for (size_t workers = 1; workers <= WORKERS; workers++) {
    struct record r = {.fail_at = {217, 90}};
    struct tqt_diag d = {0};
    run(&r, workers, &d, TQT_STATUS_INVALID);
    assert_string_equal(d.msg, "item 90 failed");
    assert_int_equal(r.n_committed, 90); /* items before it, in order; none after */
    for (size_t i = 0; i < r.n_committed; i++) assert_int_equal(r.order[i], i);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_every_item_once_commits_in_order),
      cmocka_unit_test(test_more_workers_than_items),
      cmocka_unit_test(test_lowest_failure_reported),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
