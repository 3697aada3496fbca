/* Files: whole-file mapping for reading, atomic replacement for writing. */
#ifndef TQT_FILE_IO_H
#define TQT_FILE_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "diag.h"

struct tqt_file_map {
  void *data;
  size_t len;
  size_t map_len; /* 0 when data came from malloc (empty files, pipes) */
};

/* Maps [offset, offset + len) of path read-only; len -1 means to the end. */
enum tqt_status tqt_file_map_open(struct tqt_file_map *fm, const char *path, long long offset,
                                  long long len, struct tqt_diag *d);
void tqt_file_map_close(struct tqt_file_map *fm);
/* Lets the pages wholly inside [p, p + len) of a mapping go from memory (they are read again from
 * the file if touched). */
void tqt_file_map_release(struct tqt_file_map *fm, const void *p, size_t len);

/* A file written under a temporary name in the destination's folder, renamed on commit. */
struct tqt_file_atomic {
  FILE *fp;
  char *tmp_path;
  char *path;
};

enum tqt_status tqt_file_atomic_open(struct tqt_file_atomic *fa, const char *path,
                                     struct tqt_diag *d);
/* Flushes, syncs and renames into place; on any failure the temporary file is removed. */
enum tqt_status tqt_file_atomic_commit(struct tqt_file_atomic *fa, struct tqt_diag *d);
/* Removes the temporary file (safe to call after commit, or twice). */
void tqt_file_atomic_abort(struct tqt_file_atomic *fa);

/* The folder part of path ("." when it has none), malloc'd. */
char *tqt_path_dirname(const char *path);
/* name as a file name: characters outside [A-Za-z0-9._-] become '_' (output and sample .npy
 * files are named after tensors, whose names may hold '/' or ':'). */
void tqt_path_safe_name(const char *name, char *out, size_t size);
/* True when path names an existing folder. */
bool tqt_path_is_dir(const char *path);
/* dir + "/" + name, malloc'd. */
char *tqt_path_join(const char *dir, const char *name);

#endif
