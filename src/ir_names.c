#include "ir_names.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* FNV-1a: short keys, no adversarial cost worth a keyed hash here. */
static uint64_t name_hash(const char *s) {
  uint64_t h = 1469598103934665603ull;
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
  return h;
}

void tqt_name_map_init(struct tqt_name_map *map) { memset(map, 0, sizeof *map); }

void tqt_name_map_free(struct tqt_name_map *map) {
  free(map->keys);
  free(map->values);
  memset(map, 0, sizeof *map);
}

static size_t name_map_slot(const struct tqt_name_map *map, const char *key) {
  size_t mask = map->cap - 1, i = (size_t)name_hash(key) & mask;
  while (map->keys[i] && strcmp(map->keys[i], key) != 0) i = (i + 1) & mask;
  return i;
}

static int name_map_grow(struct tqt_name_map *map) {
  size_t cap = map->cap ? map->cap * 2 : 64;
  struct tqt_name_map grown = {calloc(cap, sizeof(char *)), calloc(cap, sizeof(void *)), cap, 0};
  if (!grown.keys || !grown.values) {
    tqt_name_map_free(&grown);
    return -1;
  }
  for (size_t i = 0; i < map->cap; i++) {
    if (!map->keys[i]) continue;
    size_t j = name_map_slot(&grown, map->keys[i]);
    grown.keys[j] = map->keys[i];
    grown.values[j] = map->values[i];
    grown.count++;
  }
  tqt_name_map_free(map);
  *map = grown;
  return 0;
}

int tqt_name_map_put(struct tqt_name_map *map, const char *key, void *value) {
  if ((map->count + 1) * 2 > map->cap && name_map_grow(map) != 0) return -1;
  size_t i = name_map_slot(map, key);
  if (!map->keys[i]) {
    map->keys[i] = key;
    map->count++;
  }
  map->values[i] = value;
  return 0;
}

bool tqt_name_map_get(const struct tqt_name_map *map, const char *key, void **value) {
  if (!map->cap) return false;
  size_t i = name_map_slot(map, key);
  if (!map->keys[i]) return false;
  if (value) *value = map->values[i];
  return true;
}
