/* Dim expressions: polynomials with integer coefficients over atoms, where an atom is a named
 * symbol (an input's dim_param), a fresh symbol, or floor(P / k) of a polynomial P that k does
 * not divide. Each expression is normalized (terms sorted and merged, floor divisions reduced to
 * their remainder part) and interned by its canonical text, so equal expressions are one
 * pointer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "infer.h"
#include "infer_internal.h"
#include "ir_names.h"

/* Beyond these an expression is unknown: real shapes never get near them. */
#define DIM_DEGREE_MAX 4
#define DIM_TERMS_MAX 8
#define DIM_TEXT_MAX 512

struct dim_term {
  int64_t coef;
  size_t n; /* degree */
  uint32_t atoms[DIM_DEGREE_MAX]; /* ascending */
};

struct tqt_dimexpr {
  int64_t c;
  size_t n_terms;
  struct dim_term terms[DIM_TERMS_MAX];
  const char *text;
  bool named;
};

struct dim_atom {
  const char *text;
  bool named;
};

struct tqt_dimtab {
  struct tqt_arena *arena;
  struct tqt_name_map exprs; /* canonical text → struct tqt_dimexpr */
  struct tqt_name_map atom_ids; /* text → id + 1 */
  struct dim_atom *atoms;
  size_t n_atoms, cap_atoms;
  size_t n_fresh;
};

struct tqt_dimtab *infer_dimtab_create(struct tqt_arena *a) {
  struct tqt_dimtab *t = tqt_arena_calloc(a, 1, sizeof *t);
  if (!t) return NULL;
  t->arena = a;
  tqt_name_map_init(&t->exprs);
  tqt_name_map_init(&t->atom_ids);
  return t;
}

void infer_dimtab_free(struct tqt_dimtab *t) {
  if (!t) return;
  tqt_name_map_free(&t->exprs);
  tqt_name_map_free(&t->atom_ids);
}

static int dim_atom_id(struct tqt_dimtab *t, const char *text, bool named, uint32_t *id) {
  void *v;
  if (tqt_name_map_get(&t->atom_ids, text, &v)) {
    *id = (uint32_t)((uintptr_t)v - 1);
    return 0;
  }
  if (tqt_arena_reserve(t->arena, (void **)&t->atoms, &t->cap_atoms, t->n_atoms + 1,
                        sizeof *t->atoms))
    return -1;
  char *copy = tqt_arena_strdup(t->arena, text);
  if (!copy) return -1;
  t->atoms[t->n_atoms] = (struct dim_atom){copy, named};
  if (tqt_name_map_put(&t->atom_ids, copy, (void *)(uintptr_t)(t->n_atoms + 1))) return -1;
  *id = (uint32_t)t->n_atoms++;
  return 0;
}

static int dim_term_cmp(const struct dim_term *a, const struct dim_term *b) {
  if (a->n != b->n) return a->n > b->n ? -1 : 1;
  for (size_t i = 0; i < a->n; i++)
    if (a->atoms[i] != b->atoms[i]) return a->atoms[i] < b->atoms[i] ? -1 : 1;
  return 0;
}

static int dim_term_qsort(const void *a, const void *b) { return dim_term_cmp(a, b); }

/* Appends the canonical text of e to buf; false when it does not fit. */
static bool dim_render(const struct tqt_dimtab *t, const struct tqt_dimexpr *e, char *buf,
                       size_t size) {
  size_t len = 0;
  for (size_t i = 0; i < e->n_terms; i++) {
    const struct dim_term *tm = &e->terms[i];
    int64_t c = tm->coef;
    const char *sign = i == 0 ? (c < 0 ? "-" : "") : (c < 0 ? "-" : "+");
    unsigned long long mag = c < 0 ? 0ull - (unsigned long long)c : (unsigned long long)c;
    int w = mag == 1 ? snprintf(buf + len, size - len, "%s", sign)
                     : snprintf(buf + len, size - len, "%s%llu*", sign, mag);
    if (w < 0 || (size_t)w >= size - len) return false;
    len += (size_t)w;
    for (size_t k = 0; k < tm->n; k++) {
      w = snprintf(buf + len, size - len, "%s%s", k ? "*" : "", t->atoms[tm->atoms[k]].text);
      if (w < 0 || (size_t)w >= size - len) return false;
      len += (size_t)w;
    }
  }
  if (e->c || !e->n_terms) {
    int w = snprintf(buf + len, size - len, e->n_terms && e->c > 0 ? "+%lld" : "%lld",
                     (long long)e->c);
    if (w < 0 || (size_t)w >= size - len) return false;
  }
  return true;
}

/* Normalizes e (sort, merge, drop zeros) and returns the interned copy; NULL when out of memory
 * or too long. */
static tqt_sdim dim_intern(struct tqt_dimtab *t, struct tqt_dimexpr *e) {
  qsort(e->terms, e->n_terms, sizeof e->terms[0], dim_term_qsort);
  size_t n = 0;
  for (size_t i = 0; i < e->n_terms; i++) {
    if (n && !dim_term_cmp(&e->terms[n - 1], &e->terms[i])) {
      if (__builtin_add_overflow(e->terms[n - 1].coef, e->terms[i].coef, &e->terms[n - 1].coef))
        return NULL;
    } else {
      e->terms[n++] = e->terms[i];
    }
    if (n && e->terms[n - 1].coef == 0) n--;
  }
  e->n_terms = n;
  char text[DIM_TEXT_MAX];
  if (!dim_render(t, e, text, sizeof text)) return NULL;
  void *v;
  if (tqt_name_map_get(&t->exprs, text, &v)) return v;
  struct tqt_dimexpr *copy = tqt_arena_calloc(t->arena, 1, sizeof *copy);
  if (!copy) return NULL;
  *copy = *e;
  copy->named = true;
  for (size_t i = 0; i < n; i++)
    for (size_t k = 0; k < e->terms[i].n; k++) copy->named &= t->atoms[e->terms[i].atoms[k]].named;
  if (!(copy->text = tqt_arena_strdup(t->arena, text))) return NULL;
  if (tqt_name_map_put(&t->exprs, copy->text, copy)) return NULL;
  return copy;
}

static tqt_sdim dim_atom_expr(struct tqt_dimtab *t, const char *text, bool named) {
  uint32_t id;
  if (dim_atom_id(t, text, named, &id)) return NULL;
  struct tqt_dimexpr e = {.n_terms = 1, .terms = {{.coef = 1, .n = 1, .atoms = {id}}}};
  return dim_intern(t, &e);
}

tqt_sdim tqt_sdim_const(struct tqt_dimtab *t, int64_t v) {
  struct tqt_dimexpr e = {.c = v};
  return dim_intern(t, &e);
}

tqt_sdim tqt_sdim_symbol(struct tqt_dimtab *t, const char *name) {
  return dim_atom_expr(t, name, true);
}

tqt_sdim tqt_sdim_fresh(struct tqt_dimtab *t) {
  char text[32];
  snprintf(text, sizeof text, "?%zu", t->n_fresh++);
  return dim_atom_expr(t, text, false);
}

bool tqt_sdim_value(tqt_sdim d, int64_t *v) {
  if (!d || d->n_terms) return false;
  if (v) *v = d->c;
  return true;
}

const char *tqt_sdim_text(tqt_sdim d) { return d ? d->text : ""; }

bool tqt_sdim_named(tqt_sdim d) { return d && d->named; }

int tqt_sdim_equal(tqt_sdim a, tqt_sdim b) {
  if (!a || !b) return -1;
  if (a == b) return 1;
  return tqt_sdim_value(a, NULL) && tqt_sdim_value(b, NULL) ? 0 : -1;
}

/* a + sign * b */
static tqt_sdim dim_add_scaled(struct tqt_dimtab *t, tqt_sdim a, tqt_sdim b, int64_t sign) {
  if (!a || !b || a->n_terms + b->n_terms > DIM_TERMS_MAX) return NULL;
  struct tqt_dimexpr e = *a;
  int64_t bc;
  if (__builtin_mul_overflow(b->c, sign, &bc) || __builtin_add_overflow(e.c, bc, &e.c))
    return NULL;
  for (size_t i = 0; i < b->n_terms; i++) {
    e.terms[e.n_terms] = b->terms[i];
    if (__builtin_mul_overflow(b->terms[i].coef, sign, &e.terms[e.n_terms].coef)) return NULL;
    e.n_terms++;
  }
  return dim_intern(t, &e);
}

tqt_sdim tqt_sdim_add(struct tqt_dimtab *t, tqt_sdim a, tqt_sdim b) {
  return dim_add_scaled(t, a, b, 1);
}

tqt_sdim tqt_sdim_sub(struct tqt_dimtab *t, tqt_sdim a, tqt_sdim b) {
  return dim_add_scaled(t, a, b, -1);
}

/* The product of two monomials; false past the degree cap. */
static bool dim_term_mul(const struct dim_term *a, const struct dim_term *b, struct dim_term *out) {
  if (a->n + b->n > DIM_DEGREE_MAX || __builtin_mul_overflow(a->coef, b->coef, &out->coef))
    return false;
  size_t i = 0, j = 0;
  out->n = 0;
  while (i < a->n || j < b->n)
    out->atoms[out->n++] = j >= b->n || (i < a->n && a->atoms[i] <= b->atoms[j]) ? a->atoms[i++]
                                                                                 : b->atoms[j++];
  return true;
}

tqt_sdim tqt_sdim_mul(struct tqt_dimtab *t, tqt_sdim a, tqt_sdim b) {
  if (!a || !b) return NULL;
  /* (ca + Σa)(cb + Σb) = ca·cb + ca·Σb + cb·Σa + Σa·Σb */
  struct tqt_dimexpr e = {0};
  if (__builtin_mul_overflow(a->c, b->c, &e.c)) return NULL;
  /* Each side's terms, its constant as one more term of degree 0. */
  struct dim_term ta[DIM_TERMS_MAX + 1], tb[DIM_TERMS_MAX + 1];
  size_t na = a->n_terms, nb = b->n_terms;
  memcpy(ta, a->terms, na * sizeof *ta);
  memcpy(tb, b->terms, nb * sizeof *tb);
  if (a->c) ta[na++] = (struct dim_term){.coef = a->c};
  if (b->c) tb[nb++] = (struct dim_term){.coef = b->c};
  for (size_t i = 0; i < na; i++)
    for (size_t j = 0; j < nb; j++) {
      if (ta[i].n == 0 && tb[j].n == 0) continue; /* the constant, done above */
      if (e.n_terms == DIM_TERMS_MAX || !dim_term_mul(&ta[i], &tb[j], &e.terms[e.n_terms]))
        return NULL;
      e.n_terms++;
    }
  return dim_intern(t, &e);
}

static int64_t dim_floor_div(int64_t a, int64_t k) {
  int64_t q = a / k;
  return (a % k != 0 && (a < 0) != (k < 0)) ? q - 1 : q;
}

tqt_sdim tqt_sdim_div_floor(struct tqt_dimtab *t, tqt_sdim a, tqt_sdim b) {
  int64_t k;
  if (!a || !tqt_sdim_value(b, &k) || k <= 0) return NULL;
  if (k == 1) return a;
  /* a = k·Q + R with every coefficient of R in [0, k): floor(a / k) = Q + floor(R / k), and Q is
   * a whole number wherever the atoms are. */
  struct tqt_dimexpr q = {.c = dim_floor_div(a->c, k)}, r = {.c = a->c - q.c * k};
  for (size_t i = 0; i < a->n_terms; i++) {
    int64_t cq = dim_floor_div(a->terms[i].coef, k), cr = a->terms[i].coef - cq * k;
    q.terms[q.n_terms] = a->terms[i];
    q.terms[q.n_terms++].coef = cq;
    if (cr) {
      r.terms[r.n_terms] = a->terms[i];
      r.terms[r.n_terms++].coef = cr;
    }
  }
  tqt_sdim qd = dim_intern(t, &q);
  if (!r.n_terms) return tqt_sdim_add(t, qd, tqt_sdim_const(t, r.c / k));
  tqt_sdim rd = dim_intern(t, &r);
  if (!rd) return NULL;
  char text[DIM_TEXT_MAX];
  if (snprintf(text, sizeof text, "floor((%s)/%lld)", rd->text, (long long)k) >= (int)sizeof text)
    return NULL;
  return tqt_sdim_add(t, qd, dim_atom_expr(t, text, rd->named));
}

tqt_sdim tqt_sdim_div_ceil(struct tqt_dimtab *t, tqt_sdim a, tqt_sdim b) {
  int64_t k;
  if (!tqt_sdim_value(b, &k) || k <= 0) return NULL;
  return tqt_sdim_div_floor(t, tqt_sdim_add(t, a, tqt_sdim_const(t, k - 1)), b);
}

/* True when monomial d divides monomial n: out = n / d. */
static bool dim_term_div(const struct dim_term *n, const struct dim_term *d, struct dim_term *out) {
  if (d->coef == 0 || n->coef % d->coef) return false;
  out->coef = n->coef / d->coef;
  out->n = 0;
  size_t j = 0;
  for (size_t i = 0; i < n->n; i++) {
    if (j < d->n && n->atoms[i] == d->atoms[j])
      j++;
    else
      out->atoms[out->n++] = n->atoms[i];
  }
  return j == d->n;
}

tqt_sdim tqt_sdim_div_exact(struct tqt_dimtab *t, tqt_sdim a, tqt_sdim b) {
  if (!a || !b) return NULL;
  if (a == b) return tqt_sdim_const(t, 1);
  struct dim_term dv;
  if (b->n_terms == 0) {
    if (b->c == 0) return NULL;
    dv = (struct dim_term){.coef = b->c};
  } else if (b->n_terms == 1 && b->c == 0) {
    dv = b->terms[0];
  } else {
    return NULL; /* a polynomial divisor: not needed by real shapes */
  }
  struct tqt_dimexpr e = {0};
  if (dv.n == 0) {
    if (a->c % dv.coef) return NULL;
    e.c = a->c / dv.coef;
  } else if (a->c) {
    return NULL;
  }
  for (size_t i = 0; i < a->n_terms; i++) {
    struct dim_term q;
    if (!dim_term_div(&a->terms[i], &dv, &q)) return NULL;
    if (q.n == 0)
      e.c += q.coef;
    else
      e.terms[e.n_terms++] = q;
  }
  return dim_intern(t, &e);
}

tqt_sdim tqt_sdim_div_trunc(struct tqt_dimtab *t, tqt_sdim a, tqt_sdim b) {
  int64_t x, y;
  if (tqt_sdim_value(a, &x) && tqt_sdim_value(b, &y)) {
    if (y == 0 || (x == INT64_MIN && y == -1)) return NULL;
    return tqt_sdim_const(t, x / y);
  }
  /* Shape arithmetic divides dims (never negative) by positive constants: floor == trunc. */
  return tqt_sdim_div_floor(t, a, b);
}

tqt_sdim tqt_sdim_mod(struct tqt_dimtab *t, tqt_sdim a, tqt_sdim b, bool fmod) {
  int64_t x, y;
  if (!tqt_sdim_value(a, &x) || !tqt_sdim_value(b, &y) || y == 0 || (x == INT64_MIN && y == -1))
    return NULL;
  int64_t r = x % y;
  if (!fmod && r != 0 && (r < 0) != (y < 0)) r += y; /* Mod with fmod=0 takes the divisor's sign */
  return tqt_sdim_const(t, r);
}

tqt_sdim tqt_sdim_min(struct tqt_dimtab *t, tqt_sdim a, tqt_sdim b) {
  int64_t x, y;
  if (a && a == b) return a;
  if (!tqt_sdim_value(a, &x) || !tqt_sdim_value(b, &y)) return NULL;
  return tqt_sdim_const(t, x < y ? x : y);
}

tqt_sdim tqt_sdim_max(struct tqt_dimtab *t, tqt_sdim a, tqt_sdim b) {
  int64_t x, y;
  if (a && a == b) return a;
  if (!tqt_sdim_value(a, &x) || !tqt_sdim_value(b, &y)) return NULL;
  return tqt_sdim_const(t, x > y ? x : y);
}
