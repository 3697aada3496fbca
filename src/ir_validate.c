/* Structural checks: every name a node reads is defined, every graph output is produced, each
 * value has one producer, and the nodes form no cycle (acyclic graphs out of order are sorted).
 * A subgraph may read names of the graphs around it; such a read orders the node that owns the
 * subgraph after the producer in the outer graph. */
#include <stdlib.h>
#include <string.h>

#include "ir.h"
#include "ir_names.h"

struct val_scope {
  const struct tqt_name_map *names; /* every name the graph defines */
  const struct val_scope *outer;
};

/* A growable list of names (not owned). */
struct val_names {
  const char **items;
  size_t n, cap;
};

struct val_ctx {
  struct tqt_arena *arena;
  struct tqt_diag *d;
};

static int val_names_push(struct val_ctx *c, struct val_names *l, const char *name) {
  if (l->n == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 16;
    const char **grown = realloc(l->items, cap * sizeof *grown);
    if (!grown) return tqt_diag_fail(c->d, TQT_STATUS_NOMEM, "out of memory");
    l->items = grown;
    l->cap = cap;
  }
  l->items[l->n++] = name;
  return 0;
}

static bool val_scope_has(const struct val_scope *s, const char *name) {
  for (; s; s = s->outer)
    if (tqt_name_map_get(s->names, name, NULL)) return true;
  return false;
}

struct val_body {
  const char *what; /* "graph 'x'" or "function 'f'" for messages */
  struct tqt_node **nodes;
  size_t n_nodes;
};

static int val_body(struct val_ctx *c, struct val_body *b, struct tqt_name_map *defined,
                    const struct val_scope *outer, struct val_names *free_out);

/* Checks graph g whose enclosing scopes are `scope` (NULL for the main graph), appending the
 * names it reads from those scopes to reads. */
static int val_graph(struct val_ctx *c, struct tqt_graph *g, const struct val_scope *scope,
                     struct val_names *reads) {
  struct tqt_name_map defined;
  tqt_name_map_init(&defined);
  int rc = 0;
  for (size_t i = 0; !rc && i < g->n_inputs; i++)
    rc = tqt_name_map_put(&defined, g->inputs[i].name, NULL);
  for (size_t i = 0; !rc && i < g->n_initializers; i++)
    rc = tqt_name_map_put(&defined, g->initializers[i]->name, NULL);
  for (size_t i = 0; !rc && i < g->n_sparse_initializers; i++)
    if (g->sparse_initializers[i]->values)
      rc = tqt_name_map_put(&defined, g->sparse_initializers[i]->values->name, NULL);
  if (rc) {
    rc = tqt_diag_fail(c->d, TQT_STATUS_NOMEM, "out of memory");
    goto fail;
  }
  char *what = tqt_arena_printf(c->arena, "graph '%s'", g->name);
  struct val_body body = {what ? what : "graph", g->nodes, g->n_nodes};
  if ((rc = val_body(c, &body, &defined, scope, reads))) goto fail;
  for (size_t i = 0; !rc && i < g->n_outputs; i++) {
    const char *name = g->outputs[i].name;
    if (tqt_name_map_get(&defined, name, NULL)) continue;
    if (val_scope_has(scope, name))
      rc = val_names_push(c, reads, name);
    else
      rc = tqt_diag_fail(c->d, TQT_STATUS_INVALID, "%s: output '%s' is not produced", body.what,
                         name);
  }
fail:
  tqt_name_map_free(&defined);
  return rc;
}

/* Validates the subgraphs of node n and appends the names they read from outside to reads. */
static int val_node_subgraphs(struct val_ctx *c, const struct tqt_node *n,
                              const struct val_scope *scope, struct val_names *reads) {
  for (size_t k = 0; k < n->n_attrs; k++) {
    const struct tqt_attr *at = &n->attrs[k];
    size_t count = at->type == TQT_ATTR_TYPE_GRAPH ? (at->g ? 1 : 0)
                   : at->type == TQT_ATTR_TYPE_GRAPHS ? at->n : 0;
    for (size_t j = 0; j < count; j++) {
      struct tqt_graph *g = at->type == TQT_ATTR_TYPE_GRAPH ? at->g : at->graphs[j];
      int rc = val_graph(c, g, scope, reads);
      if (rc) {
        tqt_diag_prefix(c->d, "node '%s' (%s): attribute '%s': ", n->name, n->op_type, at->name);
        return rc;
      }
    }
  }
  return 0;
}

/* Kahn's algorithm, taking ready nodes in their file order so that sorted input stays as it is.
 * deps[i] lists the indexes of the nodes node i reads from. */
static int val_sort(struct val_ctx *c, struct val_body *b, size_t **deps, const size_t *n_deps) {
  size_t n = b->n_nodes;
  size_t *pending = calloc(n ? n : 1, sizeof *pending);  /* unsorted producers left */
  size_t *users_start = calloc(n + 1, sizeof *users_start);
  size_t total = 0;
  for (size_t i = 0; i < n; i++) total += n_deps[i];
  size_t *users = calloc(total ? total : 1, sizeof *users);
  size_t *fill = calloc(n + 1, sizeof *fill);
  struct tqt_node **order = calloc(n ? n : 1, sizeof *order);
  size_t *heap = calloc(n ? n : 1, sizeof *heap); /* min-heap of ready node indexes */
  int rc = 0;
  if (!pending || !users_start || !users || !fill || !order || !heap) {
    rc = tqt_diag_fail(c->d, TQT_STATUS_NOMEM, "out of memory");
    goto fail;
  }
  for (size_t i = 0; i < n; i++)
    for (size_t k = 0; k < n_deps[i]; k++) users_start[deps[i][k] + 1]++;
  for (size_t i = 0; i < n; i++) users_start[i + 1] += users_start[i];
  for (size_t i = 0; i < n; i++) {
    pending[i] = n_deps[i];
    for (size_t k = 0; k < n_deps[i]; k++) {
      size_t p = deps[i][k];
      users[users_start[p] + fill[p]++] = i;
    }
  }
  size_t heap_n = 0, done = 0;
  for (size_t i = 0; i < n; i++)
    if (!pending[i]) heap[heap_n++] = i; /* increasing: already a heap */
  while (heap_n) {
    size_t top = heap[0];
    heap[0] = heap[--heap_n];
    for (size_t i = 0;;) { /* sift down */
      size_t l = 2 * i + 1, r = l + 1, m = i;
      if (l < heap_n && heap[l] < heap[m]) m = l;
      if (r < heap_n && heap[r] < heap[m]) m = r;
      if (m == i) break;
      size_t t = heap[i];
      heap[i] = heap[m];
      heap[m] = t;
      i = m;
    }
    order[done++] = b->nodes[top];
    for (size_t k = users_start[top]; k < users_start[top + 1]; k++) {
      size_t u = users[k];
      if (--pending[u]) continue;
      size_t i = heap_n++; /* sift up */
      heap[i] = u;
      while (i && heap[(i - 1) / 2] > heap[i]) {
        size_t t = heap[i];
        heap[i] = heap[(i - 1) / 2];
        heap[(i - 1) / 2] = t;
        i = (i - 1) / 2;
      }
    }
  }
  if (done < n) {
    /* An unsorted node may merely wait downstream of a cycle. Each unsorted node reads from an
     * unsorted producer: n steps back along those lands on the cycle itself. */
    size_t at = 0;
    while (!pending[at]) at++;
    for (size_t step = 0; step < n; step++) {
      for (size_t k = 0; k < n_deps[at]; k++) {
        if (pending[deps[at][k]]) {
          at = deps[at][k];
          break;
        }
      }
    }
    rc = tqt_diag_fail(c->d, TQT_STATUS_INVALID, "%s: node '%s' (%s) is part of a cycle",
                       b->what, b->nodes[at]->name, b->nodes[at]->op_type);
    goto fail;
  }
  if (n) memcpy(b->nodes, order, n * sizeof *order); /* nodes is NULL in an empty built graph */
fail:
  free(pending);
  free(users_start);
  free(users);
  free(fill);
  free(order);
  free(heap);
  return rc;
}

/* Checks a list of nodes whose inputs, initializers (or formal inputs) are in `defined`; adds the
 * node outputs to `defined`, appends names read from enclosing scopes to free_out. */
static int val_body(struct val_ctx *c, struct val_body *b, struct tqt_name_map *defined,
                    const struct val_scope *outer, struct val_names *free_out) {
  size_t n = b->n_nodes;
  struct tqt_name_map producer;
  tqt_name_map_init(&producer);
  size_t **deps = calloc(n ? n : 1, sizeof *deps);
  size_t *n_deps = calloc(n ? n : 1, sizeof *n_deps);
  struct val_names reads = {0};
  int rc = 0;
  if (!deps || !n_deps) {
    rc = tqt_diag_fail(c->d, TQT_STATUS_NOMEM, "out of memory");
    goto fail;
  }
  for (size_t i = 0; i < n && !rc; i++) {
    const struct tqt_node *node = b->nodes[i];
    for (size_t k = 0; k < node->n_outputs && !rc; k++) {
      const char *out = node->outputs[k];
      if (!*out) continue; /* an omitted optional output */
      if (tqt_name_map_get(&producer, out, NULL) || tqt_name_map_get(defined, out, NULL)) {
        rc = tqt_diag_fail(c->d, TQT_STATUS_INVALID,
                           "%s: node '%s' (%s): output '%s' is already defined", b->what,
                           node->name, node->op_type, out);
        break;
      }
      if (tqt_name_map_put(&producer, out, (void *)(uintptr_t)i) != 0)
        rc = tqt_diag_fail(c->d, TQT_STATUS_NOMEM, "out of memory");
    }
  }
  if (rc) goto fail;
  /* Subgraphs see this body's names as well as the scopes around it. */
  for (size_t i = 0; i < n && !rc; i++)
    for (size_t k = 0; k < b->nodes[i]->n_outputs && !rc; k++)
      if (*b->nodes[i]->outputs[k] && tqt_name_map_put(defined, b->nodes[i]->outputs[k], NULL))
        rc = tqt_diag_fail(c->d, TQT_STATUS_NOMEM, "out of memory");
  if (rc) goto fail;
  struct val_scope scope = {defined, outer};
  for (size_t i = 0; i < n && !rc; i++) {
    struct tqt_node *node = b->nodes[i];
    reads.n = 0;
    for (size_t k = 0; k < node->n_inputs && !rc; k++)
      if (*node->inputs[k]) rc = val_names_push(c, &reads, node->inputs[k]);
    if (!rc && (rc = val_node_subgraphs(c, node, &scope, &reads))) {
      tqt_diag_prefix(c->d, "%s: ", b->what);
      break;
    }
    if (!rc && !(deps[i] = calloc(reads.n ? reads.n : 1, sizeof **deps)))
      rc = tqt_diag_fail(c->d, TQT_STATUS_NOMEM, "out of memory");
    for (size_t k = 0; k < reads.n && !rc; k++) {
      const char *name = reads.items[k];
      void *p;
      if (tqt_name_map_get(&producer, name, &p)) {
        if ((size_t)(uintptr_t)p == i) {
          rc = tqt_diag_fail(c->d, TQT_STATUS_INVALID,
                             "%s: node '%s' (%s) reads its own output '%s'", b->what,
                             node->name, node->op_type, name);
          break;
        }
        deps[i][n_deps[i]++] = (size_t)(uintptr_t)p;
      } else if (tqt_name_map_get(defined, name, NULL)) {
        continue;
      } else if (val_scope_has(outer, name)) {
        rc = val_names_push(c, free_out, name);
      } else {
        rc = tqt_diag_fail(c->d, TQT_STATUS_INVALID,
                           "%s: node '%s' (%s): input '%s' is not defined", b->what, node->name,
                           node->op_type, name);
      }
    }
  }
  if (!rc) rc = val_sort(c, b, deps, n_deps);
fail:
  for (size_t i = 0; deps && i < n; i++) free(deps[i]);
  free(deps);
  free(n_deps);
  free(reads.items);
  tqt_name_map_free(&producer);
  return rc;
}

static int val_function(struct val_ctx *c, struct tqt_function *f) {
  struct tqt_name_map defined;
  tqt_name_map_init(&defined);
  struct val_names free_names = {0};
  int rc = 0;
  for (size_t i = 0; !rc && i < f->n_inputs; i++)
    if (*f->inputs[i] && tqt_name_map_put(&defined, f->inputs[i], NULL))
      rc = tqt_diag_fail(c->d, TQT_STATUS_NOMEM, "out of memory");
  char *what = tqt_arena_printf(c->arena, "function '%s'", f->name);
  struct val_body body = {what ? what : "function", f->nodes, f->n_nodes};
  if (!rc) rc = val_body(c, &body, &defined, NULL, &free_names);
  for (size_t i = 0; !rc && i < f->n_outputs; i++) {
    if (tqt_name_map_get(&defined, f->outputs[i], NULL)) continue;
    rc = tqt_diag_fail(c->d, TQT_STATUS_INVALID, "%s: output '%s' is not produced", body.what,
                       f->outputs[i]);
  }
  free(free_names.items);
  tqt_name_map_free(&defined);
  return rc;
}

enum tqt_status tqt_model_validate(struct tqt_model *m, struct tqt_diag *d) {
  struct val_ctx c = {m->arena, d};
  struct val_names reads = {0}; /* the main graph has no scope around it to read from */
  int rc = val_graph(&c, m->graph, NULL, &reads);
  free(reads.items);
  if (rc) return d->status;
  for (size_t i = 0; i < m->n_functions; i++)
    if (val_function(&c, m->functions[i])) return d->status;
  return TQT_STATUS_OK;
}
