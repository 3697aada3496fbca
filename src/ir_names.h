/* A string → pointer hash map for name lookups (values, producers, scopes). Keys are not copied:
 * they must outlive the map (IR names live in the model's arena). */
#ifndef TQT_IR_NAMES_H
#define TQT_IR_NAMES_H

#include <stdbool.h>
#include <stddef.h>

struct tqt_name_map {
  const char **keys;
  void **values;
  size_t cap; /* a power of two, or 0 */
  size_t count;
};

void tqt_name_map_init(struct tqt_name_map *map);
void tqt_name_map_free(struct tqt_name_map *map);
/* Inserts or replaces. Returns 0, or -1 when out of memory. */
int tqt_name_map_put(struct tqt_name_map *map, const char *key, void *value);
/* True when present; *value (if not NULL) receives the stored pointer. */
bool tqt_name_map_get(const struct tqt_name_map *map, const char *key, void **value);

#endif
