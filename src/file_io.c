#include "file_io.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

enum tqt_status tqt_file_map_open(struct tqt_file_map *fm, const char *path, long long offset,
                                  long long len, struct tqt_diag *d) {
  enum tqt_status st = TQT_STATUS_OK;
  memset(fm, 0, sizeof *fm);
  /* O_NONBLOCK: opening a FIFO would otherwise wait for a writer; it is refused below. */
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return tqt_diag_fail(d, TQT_STATUS_IO, "%s: %s", path, strerror(errno));
  struct stat sb;
  if (fstat(fd, &sb) != 0) {
    st = tqt_diag_fail(d, TQT_STATUS_IO, "%s: %s", path, strerror(errno));
    goto fail;
  }
  if (!S_ISREG(sb.st_mode)) {
    st = tqt_diag_fail(d, TQT_STATUS_IO, "%s: not a regular file", path);
    goto fail;
  }
  if (offset < 0 || offset > sb.st_size || (len >= 0 && len > sb.st_size - offset)) {
    st = tqt_diag_fail(d, TQT_STATUS_IO,
                       "%s: range offset %lld length %lld lies outside the file (%lld bytes)",
                       path, offset, len, (long long)sb.st_size);
    goto fail;
  }
  if (len < 0) len = sb.st_size - offset;
  fm->len = (size_t)len;
  if (len == 0) {
    fm->data = malloc(1);
    if (!fm->data) st = tqt_diag_fail(d, TQT_STATUS_NOMEM, "%s: out of memory", path);
    goto fail; /* not a failure unless st says so: the one exit closes fd */
  }
  long page = sysconf(_SC_PAGESIZE);
  long long start = offset - offset % page;
  fm->map_len = (size_t)(len + (offset - start));
  /* Private and writable: a caller may edit its copy (pages are copied on write), never the
   * file. */
  void *p = mmap(NULL, fm->map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, (off_t)start);
  if (p == MAP_FAILED) {
    fm->map_len = 0;
    st = tqt_diag_fail(d, TQT_STATUS_IO, "%s: cannot map: %s", path, strerror(errno));
    goto fail;
  }
  fm->data = (char *)p + (offset - start);
fail:
  close(fd);
  return st;
}

void tqt_file_map_close(struct tqt_file_map *fm) {
  if (!fm->data) return;
  if (fm->map_len) {
    long page = sysconf(_SC_PAGESIZE);
    uintptr_t base = (uintptr_t)fm->data - ((uintptr_t)fm->data % (uintptr_t)page);
    munmap((void *)base, fm->map_len);
  } else {
    free(fm->data);
  }
  memset(fm, 0, sizeof *fm);
}

void tqt_file_map_release(struct tqt_file_map *fm, const void *p, size_t len) {
  if (!fm->map_len || !len) return;
  uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
  uintptr_t start = ((uintptr_t)p + page - 1) & ~(page - 1), end = ((uintptr_t)p + len) & ~(page - 1);
  if (end > start) madvise((void *)start, end - start, MADV_DONTNEED);
}

char *tqt_path_dirname(const char *path) {
  const char *slash = strrchr(path, '/');
  if (!slash) return strdup(".");
  if (slash == path) return strdup("/");
  return strndup(path, (size_t)(slash - path));
}

void tqt_path_safe_name(const char *name, char *out, size_t size) {
  size_t i = 0;
  for (; name[i] && i + 1 < size; i++) {
    char c = name[i];
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    out[i] = ok ? c : '_';
  }
  out[i] = '\0';
}

bool tqt_path_is_dir(const char *path) {
  struct stat sb;
  return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

char *tqt_path_join(const char *dir, const char *name) {
  size_t a = strlen(dir), b = strlen(name);
  char *s = malloc(a + b + 2);
  if (!s) return NULL;
  memcpy(s, dir, a);
  s[a] = '/';
  memcpy(s + a + 1, name, b + 1);
  return s;
}

enum tqt_status tqt_file_atomic_open(struct tqt_file_atomic *fa, const char *path,
                                     struct tqt_diag *d) {
  enum tqt_status st = TQT_STATUS_OK;
  memset(fa, 0, sizeof *fa);
  char *dir = tqt_path_dirname(path);
  const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
  fa->path = strdup(path);
  fa->tmp_path = dir ? malloc(strlen(dir) + strlen(base) + 16) : NULL;
  if (!fa->path || !fa->tmp_path) {
    st = tqt_diag_fail(d, TQT_STATUS_NOMEM, "%s: out of memory", path);
    goto fail;
  }
  sprintf(fa->tmp_path, "%s/.%s.XXXXXX", dir, base);
  int fd = mkstemp(fa->tmp_path);
  if (fd < 0) {
    st = tqt_diag_fail(d, TQT_STATUS_IO, "%s: cannot create a file in %s: %s", path, dir,
                       strerror(errno));
    goto fail;
  }
  /* mkstemp makes 0600; give the file the mode a plain fopen would. */
  mode_t mask = umask(0);
  umask(mask);
  fchmod(fd, 0666 & ~mask);
  fa->fp = fdopen(fd, "wb");
  if (!fa->fp) {
    close(fd);
    unlink(fa->tmp_path);
    st = tqt_diag_fail(d, TQT_STATUS_IO, "%s: %s", path, strerror(errno));
    goto fail;
  }
  free(dir);
  return TQT_STATUS_OK;
fail:
  free(dir);
  free(fa->path);
  free(fa->tmp_path);
  memset(fa, 0, sizeof *fa);
  return st;
}

enum tqt_status tqt_file_atomic_commit(struct tqt_file_atomic *fa, struct tqt_diag *d) {
  enum tqt_status st = TQT_STATUS_OK;
  int err = 0;
  if (fflush(fa->fp) != 0 || fsync(fileno(fa->fp)) != 0) err = errno;
  if (fclose(fa->fp) != 0 && !err) err = errno;
  fa->fp = NULL;
  if (!err && rename(fa->tmp_path, fa->path) != 0) err = errno;
  if (err) st = tqt_diag_fail(d, TQT_STATUS_IO, "%s: cannot write: %s", fa->path, strerror(err));
  tqt_file_atomic_abort(fa);
  return st;
}

void tqt_file_atomic_abort(struct tqt_file_atomic *fa) {
  if (fa->fp) fclose(fa->fp);
  if (fa->tmp_path) unlink(fa->tmp_path); /* after a rename the name is gone: harmless */
  free(fa->tmp_path);
  free(fa->path);
  memset(fa, 0, sizeof *fa);
}
