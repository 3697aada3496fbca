/* Deep equality of two models; the first difference is described from the outside in
 * ("graph 'g': node 3 'conv' (Conv): attribute 'pads': ints differ at 1"). */
#include <string.h>

#include "ir.h"
#include "onnx_io.h"

struct cmp_ctx {
  struct tqt_model *a, *b;
  struct tqt_diag *d;
};

static bool cmp_fail(struct cmp_ctx *c, const char *what) {
  tqt_diag_fail(c->d, TQT_STATUS_INVALID, "%s", what);
  return false;
}

static bool cmp_str(struct cmp_ctx *c, const char *x, const char *y, const char *what) {
  if (strcmp(x ? x : "", y ? y : "") == 0) return true;
  tqt_diag_fail(c->d, TQT_STATUS_INVALID, "%s: '%s' vs '%s'", what, x ? x : "", y ? y : "");
  return false;
}

static bool cmp_bytes(const struct tqt_bytes *x, const struct tqt_bytes *y) {
  return x->len == y->len && (x->len == 0 || memcmp(x->data, y->data, x->len) == 0);
}

static bool cmp_names(struct cmp_ctx *c, char *const *x, size_t nx, char *const *y, size_t ny,
                      const char *what) {
  if (nx != ny) {
    tqt_diag_fail(c->d, TQT_STATUS_INVALID, "%s: %zu vs %zu names", what, nx, ny);
    return false;
  }
  for (size_t i = 0; i < nx; i++)
    if (!cmp_str(c, x[i], y[i], what)) return false;
  return true;
}

static bool cmp_entries(struct cmp_ctx *c, const struct tqt_string_entry *x, size_t nx,
                        const struct tqt_string_entry *y, size_t ny, const char *what) {
  if (nx != ny) return cmp_fail(c, what);
  for (size_t i = 0; i < nx; i++)
    if (!cmp_str(c, x[i].key, y[i].key, what) || !cmp_str(c, x[i].value, y[i].value, what))
      return false;
  return true;
}

static bool cmp_dims(const int64_t *x, size_t nx, const int64_t *y, size_t ny) {
  return nx == ny && (nx == 0 || memcmp(x, y, nx * sizeof *x) == 0);
}

/* Tensors compare by content: where the bytes were stored (raw, typed field, external) is not
 * part of the IR. */
static bool cmp_tensor(struct cmp_ctx *c, struct tqt_tensor *x, struct tqt_tensor *y) {
  if (!x || !y) return x == y || cmp_fail(c, "tensor present in one model only");
  if (!cmp_str(c, x->name, y->name, "tensor name") || !cmp_str(c, x->doc, y->doc, "tensor doc"))
    return false;
  if (x->dtype != y->dtype) {
    tqt_diag_fail(c->d, TQT_STATUS_INVALID, "tensor '%s': type %s vs %s", x->name,
                  tqt_dtype_name(x->dtype), tqt_dtype_name(y->dtype));
    return false;
  }
  if (!cmp_dims(x->dims, x->rank, y->dims, y->rank)) {
    tqt_diag_fail(c->d, TQT_STATUS_INVALID, "tensor '%s': dims differ", x->name);
    return false;
  }
  if (x->dtype == TQT_DTYPE_STRING) {
    bool same = x->n_strings == y->n_strings;
    for (size_t i = 0; same && i < x->n_strings; i++) same = cmp_bytes(&x->strings[i], &y->strings[i]);
    if (!same) tqt_diag_fail(c->d, TQT_STATUS_INVALID, "tensor '%s': strings differ", x->name);
    return same;
  }
  const void *dx = tqt_tensor_data(x, c->a->arena, c->d);
  const void *dy = tqt_tensor_data(y, c->b->arena, c->d);
  if ((x->external && !dx) || (y->external && !dy)) return false;
  if (x->nbytes != y->nbytes || (x->nbytes && memcmp(dx, dy, x->nbytes) != 0)) {
    tqt_diag_fail(c->d, TQT_STATUS_INVALID, "tensor '%s': data differs (%zu vs %zu bytes)",
                  x->name, x->nbytes, y->nbytes);
    return false;
  }
  return true;
}

static bool cmp_sparse(struct cmp_ctx *c, struct tqt_sparse_tensor *x,
                       struct tqt_sparse_tensor *y) {
  if (!x || !y) return x == y || cmp_fail(c, "sparse tensor present in one model only");
  if (!cmp_dims(x->dims, x->rank, y->dims, y->rank)) return cmp_fail(c, "sparse dims differ");
  return cmp_tensor(c, x->values, y->values) && cmp_tensor(c, x->indices, y->indices);
}

static bool cmp_type(struct cmp_ctx *c, const struct tqt_type *x, const struct tqt_type *y) {
  if (!x || !y) return x == y || cmp_fail(c, "type present in one model only");
  if (x->kind != y->kind || x->has_elem_type != y->has_elem_type ||
      x->elem_type != y->elem_type || x->has_shape != y->has_shape || x->rank != y->rank ||
      x->has_key_type != y->has_key_type || x->key_type != y->key_type)
    return cmp_fail(c, "types differ");
  if (!cmp_str(c, x->denotation, y->denotation, "type denotation")) return false;
  for (size_t i = 0; i < x->rank; i++) {
    const struct tqt_dim *p = &x->dims[i], *q = &y->dims[i];
    if (p->has_value != q->has_value || p->value != q->value || !p->param != !q->param ||
        !cmp_str(c, p->param, q->param, "dim param") ||
        !cmp_str(c, p->denotation, q->denotation, "dim denotation"))
      return cmp_fail(c, "shape dims differ");
  }
  return cmp_type(c, x->elem, y->elem);
}

static bool cmp_value_infos(struct cmp_ctx *c, const struct tqt_value_info *x, size_t nx,
                            const struct tqt_value_info *y, size_t ny, const char *what) {
  if (nx != ny) {
    tqt_diag_fail(c->d, TQT_STATUS_INVALID, "%s: %zu vs %zu entries", what, nx, ny);
    return false;
  }
  for (size_t i = 0; i < nx; i++) {
    if (!cmp_str(c, x[i].name, y[i].name, what) || !cmp_str(c, x[i].doc, y[i].doc, what))
      return false;
    if (!cmp_type(c, x[i].type, y[i].type)) {
      tqt_diag_prefix(c->d, "%s '%s': ", what, x[i].name);
      return false;
    }
  }
  return true;
}

static bool cmp_graph(struct cmp_ctx *c, struct tqt_graph *x, struct tqt_graph *y);

static bool cmp_attr(struct cmp_ctx *c, const struct tqt_attr *x, const struct tqt_attr *y) {
  if (!cmp_str(c, x->name, y->name, "attribute name") || !cmp_str(c, x->doc, y->doc, "doc") ||
      !cmp_str(c, x->ref_attr_name, y->ref_attr_name, "ref_attr_name"))
    return false;
  if (x->type != y->type) return cmp_fail(c, "attribute types differ");
  bool same = true;
  switch (x->type) {
  case TQT_ATTR_TYPE_UNDEFINED: break;
  case TQT_ATTR_TYPE_FLOAT: same = memcmp(&x->f, &y->f, sizeof x->f) == 0; break;
  case TQT_ATTR_TYPE_INT: same = x->i == y->i; break;
  case TQT_ATTR_TYPE_STRING: same = cmp_bytes(&x->s, &y->s); break;
  case TQT_ATTR_TYPE_TENSOR: return cmp_tensor(c, x->t, y->t);
  case TQT_ATTR_TYPE_GRAPH: return (!x->g && !y->g) || (x->g && y->g && cmp_graph(c, x->g, y->g));
  case TQT_ATTR_TYPE_SPARSE_TENSOR: return cmp_sparse(c, x->sparse, y->sparse);
  case TQT_ATTR_TYPE_TYPE_PROTO: return cmp_type(c, x->tp, y->tp);
  default:
    if (x->n != y->n) return cmp_fail(c, "attribute list lengths differ");
    for (size_t i = 0; same && i < x->n; i++) {
      switch (x->type) {
      case TQT_ATTR_TYPE_FLOATS: same = memcmp(&x->floats[i], &y->floats[i], sizeof(float)) == 0; break;
      case TQT_ATTR_TYPE_INTS: same = x->ints[i] == y->ints[i]; break;
      case TQT_ATTR_TYPE_STRINGS: same = cmp_bytes(&x->strings[i], &y->strings[i]); break;
      case TQT_ATTR_TYPE_TENSORS: same = cmp_tensor(c, x->tensors[i], y->tensors[i]); break;
      case TQT_ATTR_TYPE_GRAPHS: same = cmp_graph(c, x->graphs[i], y->graphs[i]); break;
      case TQT_ATTR_TYPE_SPARSE_TENSORS:
        same = cmp_sparse(c, x->sparse_tensors[i], y->sparse_tensors[i]);
        break;
      case TQT_ATTR_TYPE_TYPE_PROTOS: same = cmp_type(c, x->type_protos[i], y->type_protos[i]); break;
      default: break;
      }
    }
    break;
  }
  return same || cmp_fail(c, "attribute values differ");
}

static bool cmp_node(struct cmp_ctx *c, const struct tqt_node *x, const struct tqt_node *y) {
  bool same = cmp_str(c, x->name, y->name, "name") &&
              cmp_str(c, x->op_type, y->op_type, "op_type") &&
              cmp_str(c, x->domain, y->domain, "domain") && cmp_str(c, x->doc, y->doc, "doc") &&
              cmp_names(c, x->inputs, x->n_inputs, y->inputs, y->n_inputs, "inputs") &&
              cmp_names(c, x->outputs, x->n_outputs, y->outputs, y->n_outputs, "outputs");
  if (same && x->n_attrs != y->n_attrs) same = cmp_fail(c, "attribute counts differ");
  for (size_t i = 0; same && i < x->n_attrs; i++) {
    if (!cmp_attr(c, &x->attrs[i], &y->attrs[i])) {
      tqt_diag_prefix(c->d, "attribute '%s': ", x->attrs[i].name);
      same = false;
    }
  }
  if (!same) tqt_diag_prefix(c->d, "node '%s' (%s): ", x->name, x->op_type);
  return same;
}

static bool cmp_nodes(struct cmp_ctx *c, struct tqt_node *const *x, size_t nx,
                      struct tqt_node *const *y, size_t ny) {
  if (nx != ny) {
    tqt_diag_fail(c->d, TQT_STATUS_INVALID, "%zu vs %zu nodes", nx, ny);
    return false;
  }
  for (size_t i = 0; i < nx; i++)
    if (!cmp_node(c, x[i], y[i])) return false;
  return true;
}

static bool cmp_graph(struct cmp_ctx *c, struct tqt_graph *x, struct tqt_graph *y) {
  bool same = cmp_str(c, x->name, y->name, "graph name") && cmp_str(c, x->doc, y->doc, "doc") &&
              cmp_value_infos(c, x->inputs, x->n_inputs, y->inputs, y->n_inputs, "input") &&
              cmp_value_infos(c, x->outputs, x->n_outputs, y->outputs, y->n_outputs, "output") &&
              cmp_value_infos(c, x->value_info, x->n_value_info, y->value_info,
                              y->n_value_info, "value_info") &&
              cmp_nodes(c, x->nodes, x->n_nodes, y->nodes, y->n_nodes);
  if (same && x->n_initializers != y->n_initializers)
    same = cmp_fail(c, "initializer counts differ");
  for (size_t i = 0; same && i < x->n_initializers; i++)
    same = cmp_tensor(c, x->initializers[i], y->initializers[i]);
  if (same && x->n_sparse_initializers != y->n_sparse_initializers)
    same = cmp_fail(c, "sparse initializer counts differ");
  for (size_t i = 0; same && i < x->n_sparse_initializers; i++)
    same = cmp_sparse(c, x->sparse_initializers[i], y->sparse_initializers[i]);
  if (same && x->n_quant_annotations != y->n_quant_annotations)
    same = cmp_fail(c, "quantization annotation counts differ");
  for (size_t i = 0; same && i < x->n_quant_annotations; i++)
    same = cmp_str(c, x->quant_annotations[i].tensor_name, y->quant_annotations[i].tensor_name,
                   "quantization annotation") &&
           cmp_entries(c, x->quant_annotations[i].entries, x->quant_annotations[i].n_entries,
                       y->quant_annotations[i].entries, y->quant_annotations[i].n_entries,
                       "quantization annotation");
  if (!same) tqt_diag_prefix(c->d, "graph '%s': ", x->name);
  return same;
}

static bool cmp_opsets(struct cmp_ctx *c, const struct tqt_opset *x, size_t nx,
                       const struct tqt_opset *y, size_t ny) {
  if (nx != ny) return cmp_fail(c, "opset import counts differ");
  for (size_t i = 0; i < nx; i++)
    if (!cmp_str(c, x[i].domain, y[i].domain, "opset domain") || x[i].version != y[i].version)
      return cmp_fail(c, "opset imports differ");
  return true;
}

static bool cmp_function(struct cmp_ctx *c, const struct tqt_function *x,
                         const struct tqt_function *y) {
  bool same = cmp_str(c, x->name, y->name, "name") && cmp_str(c, x->domain, y->domain, "domain") &&
              cmp_str(c, x->doc, y->doc, "doc") &&
              cmp_names(c, x->inputs, x->n_inputs, y->inputs, y->n_inputs, "inputs") &&
              cmp_names(c, x->outputs, x->n_outputs, y->outputs, y->n_outputs, "outputs") &&
              cmp_names(c, x->attributes, x->n_attributes, y->attributes, y->n_attributes,
                        "attributes") &&
              cmp_opsets(c, x->opsets, x->n_opsets, y->opsets, y->n_opsets) &&
              cmp_nodes(c, x->nodes, x->n_nodes, y->nodes, y->n_nodes);
  if (!same) tqt_diag_prefix(c->d, "function '%s': ", x->name);
  return same;
}

static bool cmp_optional_graph(struct cmp_ctx *c, struct tqt_graph *x, struct tqt_graph *y) {
  if (!x || !y) return x == y || cmp_fail(c, "training graph present in one model only");
  return cmp_graph(c, x, y);
}

bool tqt_model_equal(struct tqt_model *a, struct tqt_model *b, struct tqt_diag *d) {
  struct cmp_ctx c = {a, b, d};
  if (a->has_ir_version != b->has_ir_version || a->ir_version != b->ir_version)
    return cmp_fail(&c, "ir_version differs");
  if (a->has_model_version != b->has_model_version || a->model_version != b->model_version)
    return cmp_fail(&c, "model_version differs");
  if (!cmp_str(&c, a->producer_name, b->producer_name, "producer_name") ||
      !cmp_str(&c, a->producer_version, b->producer_version, "producer_version") ||
      !cmp_str(&c, a->domain, b->domain, "domain") || !cmp_str(&c, a->doc, b->doc, "doc") ||
      !cmp_opsets(&c, a->opsets, a->n_opsets, b->opsets, b->n_opsets) ||
      !cmp_entries(&c, a->metadata, a->n_metadata, b->metadata, b->n_metadata,
                   "metadata_props") ||
      !cmp_graph(&c, a->graph, b->graph))
    return false;
  if (a->n_functions != b->n_functions) return cmp_fail(&c, "function counts differ");
  for (size_t i = 0; i < a->n_functions; i++)
    if (!cmp_function(&c, a->functions[i], b->functions[i])) return false;
  if (a->n_training_info != b->n_training_info) return cmp_fail(&c, "training_info differs");
  for (size_t i = 0; i < a->n_training_info; i++) {
    const struct tqt_training_info *x = &a->training_info[i], *y = &b->training_info[i];
    if (!cmp_optional_graph(&c, x->initialization, y->initialization) ||
        !cmp_optional_graph(&c, x->algorithm, y->algorithm) ||
        !cmp_entries(&c, x->initialization_binding, x->n_initialization_binding,
                     y->initialization_binding, y->n_initialization_binding, "binding") ||
        !cmp_entries(&c, x->update_binding, x->n_update_binding, y->update_binding,
                     y->n_update_binding, "binding"))
      return false;
  }
  return true;
}
