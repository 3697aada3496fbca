/* ONNX protobuf → IR. protobuf-c parses; this file copies the message into the arena, except the
 * large raw_data buffers, which it takes over from the message instead of copying. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "file_io.h"
#include "interp.h"
#include "onnx_io.h"
#include "proto/onnx-data-tqt.pb-c.h"
#include "proto/onnx.pb-c.h"

struct load_ctx {
  struct tqt_arena *a;
  struct tqt_diag *d;
  const char *name;     /* the file, for messages */
  const char *base_dir; /* for external data */
};

#define LOAD_NOMEM(c) tqt_diag_fail((c)->d, TQT_STATUS_NOMEM, "%s: out of memory", (c)->name)

static char *load_str(struct load_ctx *c, const char *s) { return tqt_arena_strdup(c->a, s); }

static int load_bytes(struct load_ctx *c, struct tqt_bytes *out, const ProtobufCBinaryData *in) {
  out->data = tqt_arena_memdup(c->a, in->data, in->len);
  out->len = in->len;
  return out->data ? 0 : LOAD_NOMEM(c);
}

static int load_strings(struct load_ctx *c, char ***out, size_t n, char *const *in) {
  *out = tqt_arena_calloc(c->a, n ? n : 1, sizeof **out);
  if (!*out) return LOAD_NOMEM(c);
  for (size_t i = 0; i < n; i++)
    if (!((*out)[i] = load_str(c, in[i]))) return LOAD_NOMEM(c);
  return 0;
}

static int load_entries(struct load_ctx *c, struct tqt_string_entry **out, size_t n,
                        Onnx__StringStringEntryProto *const *in) {
  *out = tqt_arena_calloc(c->a, n ? n : 1, sizeof **out);
  if (!*out) return LOAD_NOMEM(c);
  for (size_t i = 0; i < n; i++) {
    (*out)[i].key = load_str(c, in[i]->key);
    (*out)[i].value = load_str(c, in[i]->value);
    if (!(*out)[i].key || !(*out)[i].value) return LOAD_NOMEM(c);
  }
  return 0;
}

static int load_dims(struct load_ctx *c, int64_t **out, size_t n, const int64_t *in) {
  *out = tqt_arena_calloc(c->a, n ? n : 1, sizeof **out);
  if (!*out) return LOAD_NOMEM(c);
  if (n) memcpy(*out, in, n * sizeof *in);
  return 0;
}

/* External data must stay inside the model's folder: no absolute path, no "..". */
static bool load_location_is_safe(const char *loc) {
  if (!*loc || loc[0] == '/') return false;
  for (const char *p = loc; *p;) {
    const char *end = strchr(p, '/');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    if (len == 2 && p[0] == '.' && p[1] == '.') return false;
    p += len + (end ? 1 : 0);
  }
  return true;
}

static int load_external(struct load_ctx *c, struct tqt_tensor *t, const Onnx__TensorProto *tp) {
  struct tqt_external *e = tqt_arena_calloc(c->a, 1, sizeof *e);
  if (!e) return LOAD_NOMEM(c);
  e->extra = tqt_arena_calloc(c->a, tp->n_external_data + 1, sizeof *e->extra);
  e->base_dir = load_str(c, c->base_dir);
  if (!e->extra || !e->base_dir) return LOAD_NOMEM(c);
  e->length = -1;
  for (size_t i = 0; i < tp->n_external_data; i++) {
    const char *key = tp->external_data[i]->key ? tp->external_data[i]->key : "";
    const char *value = tp->external_data[i]->value ? tp->external_data[i]->value : "";
    if (strcmp(key, "location") == 0) {
      e->location = load_str(c, value);
    } else if (strcmp(key, "offset") == 0 || strcmp(key, "length") == 0) {
      char *end;
      errno = 0;
      long long v = strtoll(value, &end, 10);
      if (errno || end == value || *end || v < 0)
        return tqt_diag_fail(c->d, TQT_STATUS_INVALID,
                             "%s: tensor '%s': external data %s '%s' is not a byte count",
                             c->name, t->name, key, value);
      *(key[0] == 'o' ? &e->offset : &e->length) = v;
    } else if (strcmp(key, "checksum") == 0) {
      e->checksum = load_str(c, value);
    } else {
      e->extra[e->n_extra].key = load_str(c, key);
      e->extra[e->n_extra].value = load_str(c, value);
      if (!e->extra[e->n_extra].key || !e->extra[e->n_extra].value) return LOAD_NOMEM(c);
      e->n_extra++;
    }
  }
  if (!e->location)
    return tqt_diag_fail(c->d, TQT_STATUS_INVALID,
                         "%s: tensor '%s': external data without a location", c->name, t->name);
  if (!load_location_is_safe(e->location))
    return tqt_diag_fail(c->d, TQT_STATUS_INVALID,
                         "%s: tensor '%s': external data location '%s' leaves the model's folder",
                         c->name, t->name, e->location);
  t->external = e;
  return 0;
}

/* Copies typed-field values into little-endian element bytes of the tensor's type. */
static int load_typed_fields(struct load_ctx *c, struct tqt_tensor *t, Onnx__TensorProto *tp) {
  size_t esize = tqt_dtype_size(t->dtype);
  size_t n = 0; /* values in the field the type uses */
  switch (t->dtype) {
  case TQT_DTYPE_FLOAT:
  case TQT_DTYPE_COMPLEX64: n = tp->n_float_data; break;
  case TQT_DTYPE_DOUBLE:
  case TQT_DTYPE_COMPLEX128: n = tp->n_double_data; break;
  case TQT_DTYPE_INT64: n = tp->n_int64_data; break;
  case TQT_DTYPE_UINT32:
  case TQT_DTYPE_UINT64: n = tp->n_uint64_data; break;
  case TQT_DTYPE_UNDEFINED: return 0;
  default: n = tp->n_int32_data; break;
  }
  /* complex types store two scalars per element */
  size_t scalar = (t->dtype == TQT_DTYPE_COMPLEX64 || t->dtype == TQT_DTYPE_COMPLEX128)
                      ? esize / 2 : esize;
  if (scalar == 0)
    return tqt_diag_fail(c->d, TQT_STATUS_UNSUPPORTED, "%s: tensor '%s': unknown data type %d",
                         c->name, t->name, (int)t->dtype);
  t->nbytes = n * scalar;
  t->data = tqt_arena_calloc(c->a, 1, t->nbytes);
  if (!t->data) return LOAD_NOMEM(c);
  unsigned char *out = t->data;
  for (size_t i = 0; i < n; i++) {
    switch (t->dtype) {
    case TQT_DTYPE_FLOAT:
    case TQT_DTYPE_COMPLEX64: memcpy(out + 4 * i, &tp->float_data[i], 4); break;
    case TQT_DTYPE_DOUBLE:
    case TQT_DTYPE_COMPLEX128: memcpy(out + 8 * i, &tp->double_data[i], 8); break;
    case TQT_DTYPE_INT64: memcpy(out + 8 * i, &tp->int64_data[i], 8); break;
    case TQT_DTYPE_UINT64: memcpy(out + 8 * i, &tp->uint64_data[i], 8); break;
    case TQT_DTYPE_UINT32: {
      uint32_t v = (uint32_t)tp->uint64_data[i];
      memcpy(out + 4 * i, &v, 4);
      break;
    }
    case TQT_DTYPE_INT32: memcpy(out + 4 * i, &tp->int32_data[i], 4); break;
    case TQT_DTYPE_INT16:
    case TQT_DTYPE_UINT16:
    case TQT_DTYPE_FLOAT16:
    case TQT_DTYPE_BFLOAT16: {
      uint16_t v = (uint16_t)tp->int32_data[i];
      memcpy(out + 2 * i, &v, 2);
      break;
    }
    default: out[i] = (unsigned char)tp->int32_data[i]; break; /* int8, uint8, bool */
    }
  }
  return 0;
}

/* A 4-bit tensor's packed bytes (the file's: two elements a byte) into one byte an element in
 * arena a, as the IR holds it; NULL (d set) when their count does not fit numel. */
static uint8_t *load_int4_unpack(const struct tqt_tensor *t, const void *packed, size_t len,
                                 int64_t numel, struct tqt_arena *a, struct tqt_diag *d) {
  if (len != tqt_int4_packed_size((size_t)numel)) {
    tqt_diag_fail(d, TQT_STATUS_INVALID, "tensor '%s' (%s) holds %zu bytes but its %lld elements "
                  "need %zu", t->name, tqt_dtype_name(t->dtype), len, (long long)numel,
                  tqt_int4_packed_size((size_t)numel));
    return NULL;
  }
  uint8_t *out = tqt_arena_calloc(a, 1, (size_t)numel + 1);
  if (!out) tqt_diag_fail(d, TQT_STATUS_NOMEM, "out of memory");
  else tqt_int4_unpack(packed, (size_t)numel, t->dtype == TQT_DTYPE_INT4, out);
  return out;
}

static int load_tensor_into(struct load_ctx *c, struct tqt_tensor *t, Onnx__TensorProto *tp) {
  t->name = load_str(c, tp->name);
  t->doc = load_str(c, tp->doc_string);
  if (!t->name || !t->doc) return LOAD_NOMEM(c);
  t->dtype = tp->has_data_type ? tp->data_type : TQT_DTYPE_UNDEFINED;
  t->rank = tp->n_dims;
  if (load_dims(c, &t->dims, tp->n_dims, tp->dims)) return -1;
  if (tp->segment)
    return tqt_diag_fail(c->d, TQT_STATUS_UNSUPPORTED,
                         "%s: tensor '%s' is split into segments, which ONNX does not define",
                         c->name, t->name);
  int64_t numel = tqt_tensor_numel(t);
  size_t esize = tqt_dtype_size(t->dtype);
  /* The byte count too must fit: [2^62] floats would wrap to 0 bytes and pass the size check. */
  if (numel < 0 || (esize && (uint64_t)numel > SIZE_MAX / esize))
    return tqt_diag_fail(c->d, TQT_STATUS_INVALID,
                         "%s: tensor '%s': dims are negative or their product overflows",
                         c->name, t->name);
  if (tp->has_data_location && tp->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL)
    return load_external(c, t, tp);
  if (t->dtype == TQT_DTYPE_STRING) {
    t->n_strings = tp->n_string_data;
    t->strings = tqt_arena_calloc(c->a, t->n_strings ? t->n_strings : 1, sizeof *t->strings);
    if (!t->strings) return LOAD_NOMEM(c);
    for (size_t i = 0; i < t->n_strings; i++)
      if (load_bytes(c, &t->strings[i], &tp->string_data[i])) return -1;
    if ((uint64_t)numel != t->n_strings)
      return tqt_diag_fail(c->d, TQT_STATUS_INVALID,
                           "%s: tensor '%s': %zu strings for %lld elements", c->name, t->name,
                           t->n_strings, (long long)numel);
    return 0;
  }
  if (tp->has_raw_data) {
    /* Take the buffer protobuf-c allocated rather than copy it: a model's weights are most of it. */
    t->nbytes = tp->raw_data.len;
    t->data = tp->raw_data.data;
    tp->raw_data.data = NULL;
    tp->raw_data.len = 0;
    if (t->data && tqt_arena_adopt(c->a, t->data) != 0) return LOAD_NOMEM(c);
    if (!t->data && !(t->data = tqt_arena_calloc(c->a, 1, 1))) return LOAD_NOMEM(c);
  } else if (load_typed_fields(c, t, tp)) {
    return -1;
  }
  if (tqt_dtype_is_4bit(t->dtype)) {
    uint8_t *unpacked = load_int4_unpack(t, t->data, t->nbytes, numel, c->a, c->d);
    if (!unpacked) {
      tqt_diag_prefix(c->d, "%s: ", c->name);
      return -1;
    }
    t->data = unpacked;
    t->nbytes = (size_t)numel;
  }
  if (t->dtype != TQT_DTYPE_UNDEFINED && esize && (uint64_t)numel * esize != t->nbytes)
    return tqt_diag_fail(c->d, TQT_STATUS_INVALID,
                         "%s: tensor '%s' (%s) holds %zu bytes but its dims need %llu", c->name,
                         t->name, tqt_dtype_name(t->dtype), t->nbytes,
                         (unsigned long long)numel * esize);
  return 0;
}

static struct tqt_tensor *load_tensor(struct load_ctx *c, Onnx__TensorProto *tp) {
  struct tqt_tensor *t = tqt_arena_calloc(c->a, 1, sizeof *t);
  if (!t) {
    LOAD_NOMEM(c);
    return NULL;
  }
  return load_tensor_into(c, t, tp) == 0 ? t : NULL;
}

static struct tqt_sparse_tensor *load_sparse(struct load_ctx *c, Onnx__SparseTensorProto *sp) {
  struct tqt_sparse_tensor *s = tqt_arena_calloc(c->a, 1, sizeof *s);
  if (!s) {
    LOAD_NOMEM(c);
    return NULL;
  }
  if ((sp->values && !(s->values = load_tensor(c, sp->values))) ||
      (sp->indices && !(s->indices = load_tensor(c, sp->indices))) ||
      load_dims(c, &s->dims, sp->n_dims, sp->dims))
    return NULL;
  s->rank = sp->n_dims;
  return s;
}

static int load_shape(struct load_ctx *c, struct tqt_type *t, const Onnx__TensorShapeProto *sh) {
  t->has_shape = sh != NULL;
  if (!sh) return 0;
  t->rank = sh->n_dim;
  t->dims = tqt_arena_calloc(c->a, t->rank ? t->rank : 1, sizeof *t->dims);
  if (!t->dims) return LOAD_NOMEM(c);
  for (size_t i = 0; i < t->rank; i++) {
    const Onnx__TensorShapeProto__Dimension *dp = sh->dim[i];
    struct tqt_dim *dim = &t->dims[i];
    if (dp->denotation && !(dim->denotation = load_str(c, dp->denotation))) return LOAD_NOMEM(c);
    if (dp->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE) {
      dim->has_value = true;
      dim->value = dp->dim_value;
    } else if (dp->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM &&
               !(dim->param = load_str(c, dp->dim_param))) {
      return LOAD_NOMEM(c);
    }
  }
  return 0;
}

static struct tqt_type *load_type(struct load_ctx *c, const Onnx__TypeProto *tp, int depth) {
  struct tqt_type *t = tqt_arena_calloc(c->a, 1, sizeof *t);
  if (!t) {
    LOAD_NOMEM(c);
    return NULL;
  }
  if (depth > TQT_GRAPH_DEPTH_MAX) {
    tqt_diag_fail(c->d, TQT_STATUS_UNSUPPORTED, "%s: a type nests deeper than %d levels", c->name,
                  TQT_GRAPH_DEPTH_MAX);
    return NULL;
  }
  if (tp->denotation && !(t->denotation = load_str(c, tp->denotation))) {
    LOAD_NOMEM(c);
    return NULL;
  }
  const Onnx__TypeProto *inner = NULL;
  switch (tp->value_case) {
  case ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE:
    t->kind = TQT_TYPE_KIND_TENSOR;
    t->has_elem_type = tp->tensor_type->has_elem_type;
    t->elem_type = tp->tensor_type->elem_type;
    if (load_shape(c, t, tp->tensor_type->shape)) return NULL;
    break;
  case ONNX__TYPE_PROTO__VALUE_SPARSE_TENSOR_TYPE:
    t->kind = TQT_TYPE_KIND_SPARSE_TENSOR;
    t->has_elem_type = tp->sparse_tensor_type->has_elem_type;
    t->elem_type = tp->sparse_tensor_type->elem_type;
    if (load_shape(c, t, tp->sparse_tensor_type->shape)) return NULL;
    break;
  case ONNX__TYPE_PROTO__VALUE_SEQUENCE_TYPE:
    t->kind = TQT_TYPE_KIND_SEQUENCE;
    inner = tp->sequence_type->elem_type;
    break;
  case ONNX__TYPE_PROTO__VALUE_OPTIONAL_TYPE:
    t->kind = TQT_TYPE_KIND_OPTIONAL;
    inner = tp->optional_type->elem_type;
    break;
  case ONNX__TYPE_PROTO__VALUE_MAP_TYPE:
    t->kind = TQT_TYPE_KIND_MAP;
    t->has_key_type = tp->map_type->has_key_type;
    t->key_type = tp->map_type->key_type;
    inner = tp->map_type->value_type;
    break;
  default: t->kind = TQT_TYPE_KIND_NONE; break;
  }
  if (inner && !(t->elem = load_type(c, inner, depth + 1))) return NULL;
  return t;
}

static int load_value_infos(struct load_ctx *c, struct tqt_value_info **out, size_t *count,
                            size_t *cap, size_t n, Onnx__ValueInfoProto *const *in) {
  *out = tqt_arena_calloc(c->a, n ? n : 1, sizeof **out);
  if (!*out) return LOAD_NOMEM(c);
  *count = n;
  *cap = n ? n : 1;
  for (size_t i = 0; i < n; i++) {
    struct tqt_value_info *v = &(*out)[i];
    v->name = load_str(c, in[i]->name);
    v->doc = load_str(c, in[i]->doc_string);
    if (!v->name || !v->doc) return LOAD_NOMEM(c);
    if (in[i]->type && !(v->type = load_type(c, in[i]->type, 0))) return -1;
  }
  return 0;
}

static struct tqt_graph *load_graph(struct load_ctx *c, Onnx__GraphProto *gp,
                                    struct tqt_graph *parent, int depth);

/* Files from before IR version 2 may leave the attribute type out: take it from the field set. */
static enum tqt_attr_type load_attr_type_guess(const Onnx__AttributeProto *ap) {
  if (ap->has_f) return TQT_ATTR_TYPE_FLOAT;
  if (ap->has_i) return TQT_ATTR_TYPE_INT;
  if (ap->has_s) return TQT_ATTR_TYPE_STRING;
  if (ap->t) return TQT_ATTR_TYPE_TENSOR;
  if (ap->g) return TQT_ATTR_TYPE_GRAPH;
  if (ap->sparse_tensor) return TQT_ATTR_TYPE_SPARSE_TENSOR;
  if (ap->tp) return TQT_ATTR_TYPE_TYPE_PROTO;
  if (ap->n_floats) return TQT_ATTR_TYPE_FLOATS;
  if (ap->n_ints) return TQT_ATTR_TYPE_INTS;
  if (ap->n_strings) return TQT_ATTR_TYPE_STRINGS;
  if (ap->n_tensors) return TQT_ATTR_TYPE_TENSORS;
  if (ap->n_graphs) return TQT_ATTR_TYPE_GRAPHS;
  if (ap->n_sparse_tensors) return TQT_ATTR_TYPE_SPARSE_TENSORS;
  if (ap->n_type_protos) return TQT_ATTR_TYPE_TYPE_PROTOS;
  return TQT_ATTR_TYPE_UNDEFINED;
}

/* Allocates the list of an attribute: n elements of elem_size. */
static void *load_attr_list(struct load_ctx *c, struct tqt_attr *at, size_t n, size_t elem_size) {
  at->n = n;
  void *p = tqt_arena_calloc(c->a, n ? n : 1, elem_size);
  if (!p) LOAD_NOMEM(c);
  return p;
}

static int load_attr(struct load_ctx *c, struct tqt_attr *at, Onnx__AttributeProto *ap,
                     const struct tqt_node *owner, struct tqt_graph *scope, int depth) {
  at->name = load_str(c, ap->name);
  at->doc = load_str(c, ap->doc_string);
  if (!at->name || !at->doc) return LOAD_NOMEM(c);
  if (ap->ref_attr_name && !(at->ref_attr_name = load_str(c, ap->ref_attr_name)))
    return LOAD_NOMEM(c);
  at->type = ap->has_type && ap->type != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__UNDEFINED
                 ? (enum tqt_attr_type)ap->type
                 : load_attr_type_guess(ap);
  switch (at->type) {
  case TQT_ATTR_TYPE_UNDEFINED: return 0;
  case TQT_ATTR_TYPE_FLOAT: at->f = ap->f; return 0;
  case TQT_ATTR_TYPE_INT: at->i = ap->i; return 0;
  case TQT_ATTR_TYPE_STRING: return load_bytes(c, &at->s, &ap->s);
  case TQT_ATTR_TYPE_TENSOR:
    if (!ap->t) break;
    return (at->t = load_tensor(c, ap->t)) ? 0 : -1;
  case TQT_ATTR_TYPE_GRAPH:
    if (!ap->g) break;
    return (at->g = load_graph(c, ap->g, scope, depth + 1)) ? 0 : -1;
  case TQT_ATTR_TYPE_SPARSE_TENSOR:
    if (!ap->sparse_tensor) break;
    return (at->sparse = load_sparse(c, ap->sparse_tensor)) ? 0 : -1;
  case TQT_ATTR_TYPE_TYPE_PROTO:
    if (!ap->tp) break;
    return (at->tp = load_type(c, ap->tp, 0)) ? 0 : -1;
  case TQT_ATTR_TYPE_FLOATS:
    if (!(at->floats = load_attr_list(c, at, ap->n_floats, sizeof(float)))) return -1;
    if (ap->n_floats) memcpy(at->floats, ap->floats, ap->n_floats * sizeof(float));
    return 0;
  case TQT_ATTR_TYPE_INTS:
    if (!(at->ints = load_attr_list(c, at, ap->n_ints, sizeof(int64_t)))) return -1;
    if (ap->n_ints) memcpy(at->ints, ap->ints, ap->n_ints * sizeof(int64_t));
    return 0;
  case TQT_ATTR_TYPE_STRINGS:
    if (!(at->strings = load_attr_list(c, at, ap->n_strings, sizeof *at->strings))) return -1;
    for (size_t i = 0; i < at->n; i++)
      if (load_bytes(c, &at->strings[i], &ap->strings[i])) return -1;
    return 0;
  case TQT_ATTR_TYPE_TENSORS:
    if (!(at->tensors = load_attr_list(c, at, ap->n_tensors, sizeof *at->tensors))) return -1;
    for (size_t i = 0; i < at->n; i++)
      if (!(at->tensors[i] = load_tensor(c, ap->tensors[i]))) return -1;
    return 0;
  case TQT_ATTR_TYPE_GRAPHS:
    if (!(at->graphs = load_attr_list(c, at, ap->n_graphs, sizeof *at->graphs))) return -1;
    for (size_t i = 0; i < at->n; i++)
      if (!(at->graphs[i] = load_graph(c, ap->graphs[i], scope, depth + 1))) return -1;
    return 0;
  case TQT_ATTR_TYPE_SPARSE_TENSORS:
    if (!(at->sparse_tensors = load_attr_list(c, at, ap->n_sparse_tensors,
                                              sizeof *at->sparse_tensors)))
      return -1;
    for (size_t i = 0; i < at->n; i++)
      if (!(at->sparse_tensors[i] = load_sparse(c, ap->sparse_tensors[i]))) return -1;
    return 0;
  case TQT_ATTR_TYPE_TYPE_PROTOS:
    if (!(at->type_protos = load_attr_list(c, at, ap->n_type_protos, sizeof *at->type_protos)))
      return -1;
    for (size_t i = 0; i < at->n; i++)
      if (!(at->type_protos[i] = load_type(c, ap->type_protos[i], 0))) return -1;
    return 0;
  default:
    return tqt_diag_fail(c->d, TQT_STATUS_UNSUPPORTED,
                         "%s: node '%s' (%s): attribute '%s' has unknown type %d", c->name,
                         owner->name, owner->op_type, at->name, (int)at->type);
  }
  return tqt_diag_fail(c->d, TQT_STATUS_INVALID,
                       "%s: node '%s' (%s): attribute '%s' declares a type but holds no value",
                       c->name, owner->name, owner->op_type, at->name);
}

static struct tqt_node *load_node(struct load_ctx *c, Onnx__NodeProto *np,
                                  struct tqt_graph *scope, int depth) {
  struct tqt_node *n = tqt_arena_calloc(c->a, 1, sizeof *n);
  if (!n) {
    LOAD_NOMEM(c);
    return NULL;
  }
  n->name = load_str(c, np->name);
  n->op_type = load_str(c, np->op_type);
  n->domain = load_str(c, np->domain);
  n->doc = load_str(c, np->doc_string);
  if (!n->name || !n->op_type || !n->domain || !n->doc) {
    LOAD_NOMEM(c);
    return NULL;
  }
  if (load_strings(c, &n->inputs, np->n_input, np->input) ||
      load_strings(c, &n->outputs, np->n_output, np->output))
    return NULL;
  n->n_inputs = np->n_input;
  n->n_outputs = np->n_output;
  n->n_attrs = np->n_attribute;
  n->attrs = tqt_arena_calloc(c->a, n->n_attrs ? n->n_attrs : 1, sizeof *n->attrs);
  if (!n->attrs) {
    LOAD_NOMEM(c);
    return NULL;
  }
  for (size_t i = 0; i < n->n_attrs; i++)
    if (load_attr(c, &n->attrs[i], np->attribute[i], n, scope, depth)) return NULL;
  return n;
}

static int load_nodes(struct load_ctx *c, struct tqt_node ***out, size_t *count, size_t *cap,
                      size_t n, Onnx__NodeProto *const *in, struct tqt_graph *scope, int depth) {
  *out = tqt_arena_calloc(c->a, n ? n : 1, sizeof **out);
  if (!*out) return LOAD_NOMEM(c);
  *count = n;
  *cap = n ? n : 1;
  for (size_t i = 0; i < n; i++)
    if (!((*out)[i] = load_node(c, in[i], scope, depth))) return -1;
  return 0;
}

static struct tqt_graph *load_graph(struct load_ctx *c, Onnx__GraphProto *gp,
                                    struct tqt_graph *parent, int depth) {
  if (depth > TQT_GRAPH_DEPTH_MAX) {
    tqt_diag_fail(c->d, TQT_STATUS_UNSUPPORTED, "%s: subgraphs nest deeper than %d levels",
                  c->name, TQT_GRAPH_DEPTH_MAX);
    return NULL;
  }
  struct tqt_graph *g = tqt_graph_create(c->a, gp->name ? gp->name : "", parent);
  if (!g || !(g->doc = load_str(c, gp->doc_string))) {
    LOAD_NOMEM(c);
    return NULL;
  }
  if (load_value_infos(c, &g->inputs, &g->n_inputs, &g->cap_inputs, gp->n_input, gp->input) ||
      load_value_infos(c, &g->outputs, &g->n_outputs, &g->cap_outputs, gp->n_output,
                       gp->output) ||
      load_value_infos(c, &g->value_info, &g->n_value_info, &g->cap_value_info, gp->n_value_info,
                       gp->value_info))
    return NULL;
  g->n_initializers = gp->n_initializer;
  g->cap_initializers = gp->n_initializer ? gp->n_initializer : 1;
  g->initializers = tqt_arena_calloc(c->a, g->cap_initializers, sizeof *g->initializers);
  g->n_sparse_initializers = gp->n_sparse_initializer;
  g->sparse_initializers =
      tqt_arena_calloc(c->a, gp->n_sparse_initializer + 1, sizeof *g->sparse_initializers);
  g->n_quant_annotations = gp->n_quantization_annotation;
  g->quant_annotations =
      tqt_arena_calloc(c->a, gp->n_quantization_annotation + 1, sizeof *g->quant_annotations);
  if (!g->initializers || !g->sparse_initializers || !g->quant_annotations) {
    LOAD_NOMEM(c);
    return NULL;
  }
  for (size_t i = 0; i < gp->n_initializer; i++)
    if (!(g->initializers[i] = load_tensor(c, gp->initializer[i]))) return NULL;
  for (size_t i = 0; i < gp->n_sparse_initializer; i++)
    if (!(g->sparse_initializers[i] = load_sparse(c, gp->sparse_initializer[i]))) return NULL;
  for (size_t i = 0; i < gp->n_quantization_annotation; i++) {
    const Onnx__TensorAnnotation *ta = gp->quantization_annotation[i];
    struct tqt_tensor_annotation *qa = &g->quant_annotations[i];
    if (!(qa->tensor_name = load_str(c, ta->tensor_name))) {
      LOAD_NOMEM(c);
      return NULL;
    }
    qa->n_entries = ta->n_quant_parameter_tensor_names;
    if (load_entries(c, &qa->entries, qa->n_entries, ta->quant_parameter_tensor_names))
      return NULL;
  }
  if (load_nodes(c, &g->nodes, &g->n_nodes, &g->cap_nodes, gp->n_node, gp->node, g, depth))
    return NULL;
  return g;
}

static int load_opsets(struct load_ctx *c, struct tqt_opset **out, size_t *count, size_t n,
                       Onnx__OperatorSetIdProto *const *in) {
  *out = tqt_arena_calloc(c->a, n ? n : 1, sizeof **out);
  if (!*out) return LOAD_NOMEM(c);
  *count = n;
  for (size_t i = 0; i < n; i++) {
    if (!((*out)[i].domain = load_str(c, in[i]->domain))) return LOAD_NOMEM(c);
    (*out)[i].version = in[i]->version;
  }
  return 0;
}

static struct tqt_function *load_function(struct load_ctx *c, Onnx__FunctionProto *fp) {
  struct tqt_function *f = tqt_arena_calloc(c->a, 1, sizeof *f);
  if (!f || !(f->name = load_str(c, fp->name)) || !(f->domain = load_str(c, fp->domain)) ||
      !(f->doc = load_str(c, fp->doc_string))) {
    LOAD_NOMEM(c);
    return NULL;
  }
  if (load_strings(c, &f->inputs, fp->n_input, fp->input) ||
      load_strings(c, &f->outputs, fp->n_output, fp->output) ||
      load_strings(c, &f->attributes, fp->n_attribute, fp->attribute) ||
      load_opsets(c, &f->opsets, &f->n_opsets, fp->n_opset_import, fp->opset_import) ||
      load_nodes(c, &f->nodes, &f->n_nodes, &f->cap_nodes, fp->n_node, fp->node, NULL, 0))
    return NULL;
  f->n_inputs = fp->n_input;
  f->n_outputs = fp->n_output;
  f->n_attributes = fp->n_attribute;
  return f;
}

static int load_training_info(struct load_ctx *c, struct tqt_training_info *ti,
                              Onnx__TrainingInfoProto *tp) {
  if (tp->initialization && !(ti->initialization = load_graph(c, tp->initialization, NULL, 0)))
    return -1;
  if (tp->algorithm && !(ti->algorithm = load_graph(c, tp->algorithm, NULL, 0))) return -1;
  ti->n_initialization_binding = tp->n_initialization_binding;
  ti->n_update_binding = tp->n_update_binding;
  if (load_entries(c, &ti->initialization_binding, tp->n_initialization_binding,
                   tp->initialization_binding) ||
      load_entries(c, &ti->update_binding, tp->n_update_binding, tp->update_binding))
    return -1;
  return 0;
}

static int load_model(struct load_ctx *c, struct tqt_model *m, Onnx__ModelProto *mp) {
  m->has_ir_version = mp->has_ir_version;
  m->ir_version = mp->ir_version;
  m->has_model_version = mp->has_model_version;
  m->model_version = mp->model_version;
  if (!(m->producer_name = load_str(c, mp->producer_name)) ||
      !(m->producer_version = load_str(c, mp->producer_version)) ||
      !(m->domain = load_str(c, mp->domain)) || !(m->doc = load_str(c, mp->doc_string)))
    return LOAD_NOMEM(c);
  if (load_opsets(c, &m->opsets, &m->n_opsets, mp->n_opset_import, mp->opset_import)) return -1;
  m->cap_opsets = m->n_opsets;
  m->n_metadata = mp->n_metadata_props;
  if (load_entries(c, &m->metadata, mp->n_metadata_props, mp->metadata_props)) return -1;
  if (!mp->graph)
    return tqt_diag_fail(c->d, TQT_STATUS_PARSE, "%s: not an ONNX model (no graph)", c->name);
  if (!(m->graph = load_graph(c, mp->graph, NULL, 0))) return -1;
  m->n_functions = m->cap_functions = mp->n_functions;
  m->functions = tqt_arena_calloc(c->a, mp->n_functions + 1, sizeof *m->functions);
  m->n_training_info = mp->n_training_info;
  m->training_info = tqt_arena_calloc(c->a, mp->n_training_info + 1, sizeof *m->training_info);
  if (!m->functions || !m->training_info) return LOAD_NOMEM(c);
  for (size_t i = 0; i < mp->n_functions; i++)
    if (!(m->functions[i] = load_function(c, mp->functions[i]))) return -1;
  for (size_t i = 0; i < mp->n_training_info; i++)
    if (load_training_info(c, &m->training_info[i], mp->training_info[i])) return -1;
  return 0;
}

/* protobuf-c's unpacker recurses once per level of message nesting (about 1 KiB of stack each),
 * so a small file of deeply nested messages (a TypeProto sequence of sequences of ..., nodes in
 * subgraphs in nodes ...) would overflow the stack. Before unpacking, a scan of the wire format
 * measures the nesting, following the schema's message fields, and refuses deeper files. The
 * limit leaves room for TQT_GRAPH_DEPTH_MAX levels of subgraphs (3 messages each) with types
 * nested as deep inside them. */
#define LOAD_NESTING_MAX 512

static bool load_scan_varint(const uint8_t **p, const uint8_t *end, uint64_t *v) {
  *v = 0;
  for (unsigned shift = 0; shift < 64 && *p < end; shift += 7) {
    uint8_t b = *(*p)++;
    *v |= (uint64_t)(b & 0x7f) << shift;
    if (!(b & 0x80)) return true;
  }
  return false;
}

/* The nesting depth of the message at [p, end) of type desc, counted from depth; stops early
 * (returning a value above LOAD_NESTING_MAX) when too deep. Malformed input returns the depth
 * reached: the unpacker reports it properly. */
static int load_scan_nesting(const ProtobufCMessageDescriptor *desc, const uint8_t *p,
                             const uint8_t *end, int depth) {
  int deepest = depth;
  if (depth > LOAD_NESTING_MAX) return depth;
  while (p < end) {
    uint64_t key, len;
    if (!load_scan_varint(&p, end, &key)) return deepest;
    switch (key & 7) {
    case 0:
      if (!load_scan_varint(&p, end, &len)) return deepest;
      break;
    case 1:
      if (end - p < 8) return deepest;
      p += 8;
      break;
    case 5:
      if (end - p < 4) return deepest;
      p += 4;
      break;
    case 2: {
      if (!load_scan_varint(&p, end, &len) || len > (uint64_t)(end - p)) return deepest;
      uint64_t field = key >> 3;
      const ProtobufCFieldDescriptor *f =
          field <= UINT32_MAX ? protobuf_c_message_descriptor_get_field(desc, (unsigned)field)
                              : NULL;
      if (f && f->type == PROTOBUF_C_TYPE_MESSAGE) {
        int sub = load_scan_nesting(f->descriptor, p, p + len, depth + 1);
        if (sub > deepest) deepest = sub;
        if (deepest > LOAD_NESTING_MAX) return deepest;
      }
      p += len;
      break;
    }
    default: return deepest; /* groups: protobuf-c refuses them */
    }
  }
  return deepest;
}

/* 0 when the message in buf nests shallowly enough to unpack, else a diagnostic. */
static int load_check_nesting(const ProtobufCMessageDescriptor *desc, const void *buf, size_t len,
                              const char *name, struct tqt_diag *d) {
  const uint8_t *p = buf;
  if (load_scan_nesting(desc, p, p + len, 0) <= LOAD_NESTING_MAX) return 0;
  return tqt_diag_fail(d, TQT_STATUS_UNSUPPORTED,
                       "%s: messages nest deeper than %d levels (subgraphs or types too deep)",
                       name, LOAD_NESTING_MAX);
}

enum tqt_status tqt_model_load_buffer(const void *buf, size_t len, const char *name,
                                      const char *base_dir, struct tqt_model **out,
                                      struct tqt_diag *d) {
  *out = NULL;
  struct tqt_model *m = NULL;
  if (load_check_nesting(&onnx__model_proto__descriptor, buf, len, name, d)) return d->status;
  Onnx__ModelProto *mp = onnx__model_proto__unpack(NULL, len, buf);
  if (!mp)
    return tqt_diag_fail(d, TQT_STATUS_PARSE,
                         "%s: not an ONNX model (the protobuf is malformed or truncated)", name);
  m = tqt_model_create();
  if (!m) {
    tqt_diag_fail(d, TQT_STATUS_NOMEM, "%s: out of memory", name);
    goto fail;
  }
  struct load_ctx c = {m->arena, d, name, base_dir ? base_dir : "."};
  if (!(m->path = load_str(&c, name))) {
    LOAD_NOMEM(&c);
    goto fail;
  }
  if (load_model(&c, m, mp) != 0) goto fail;
  onnx__model_proto__free_unpacked(mp, NULL);
  *out = m;
  return TQT_STATUS_OK;
fail:
  onnx__model_proto__free_unpacked(mp, NULL);
  tqt_model_destroy(m);
  return d->status ? d->status : TQT_STATUS_INVALID;
}

enum tqt_status tqt_model_load(const char *path, struct tqt_model **out, struct tqt_diag *d) {
  *out = NULL;
  struct tqt_file_map fm;
  enum tqt_status st = tqt_file_map_open(&fm, path, 0, -1, d);
  if (st != TQT_STATUS_OK) return st;
  char *dir = tqt_path_dirname(path);
  if (!dir) {
    st = tqt_diag_fail(d, TQT_STATUS_NOMEM, "%s: out of memory", path);
    goto fail;
  }
  if (fm.len == 0) {
    st = tqt_diag_fail(d, TQT_STATUS_PARSE, "%s: not an ONNX model (the file is empty)", path);
    goto fail;
  }
  st = tqt_model_load_buffer(fm.data, fm.len, path, dir, out, d);
fail:
  free(dir);
  tqt_file_map_close(&fm);
  return st;
}

enum tqt_status tqt_tensor_load(const char *path, struct tqt_arena *a, struct tqt_tensor **out,
                                struct tqt_diag *d) {
  *out = NULL;
  struct tqt_file_map fm;
  Onnx__TensorProto *tp = NULL;
  enum tqt_status st = tqt_file_map_open(&fm, path, 0, -1, d);
  if (st != TQT_STATUS_OK) return st;
  char *dir = tqt_path_dirname(path);
  if (!dir) {
    st = tqt_diag_fail(d, TQT_STATUS_NOMEM, "%s: out of memory", path);
    goto fail;
  }
  if (load_check_nesting(&onnx__tensor_proto__descriptor, fm.data, fm.len, path, d)) {
    st = d->status;
    goto fail;
  }
  tp = onnx__tensor_proto__unpack(NULL, fm.len, fm.data);
  if (!tp) {
    st = tqt_diag_fail(d, TQT_STATUS_PARSE, "%s: not a TensorProto (malformed or truncated)", path);
    goto fail;
  }
  struct load_ctx c = {a, d, path, dir};
  if (!(*out = load_tensor(&c, tp))) st = d->status ? d->status : TQT_STATUS_INVALID;
fail:
  if (tp) onnx__tensor_proto__free_unpacked(tp, NULL);
  free(dir);
  tqt_file_map_close(&fm);
  return st;
}

/* ---- sequence and optional values (ONNX test data) ---- */

/* What a SequenceProto or OptionalProto holds, numbered as ONNX numbers it. */
enum load_elem {
  LOAD_ELEM_UNDEFINED = 0,
  LOAD_ELEM_TENSOR = 1,
  LOAD_ELEM_SPARSE_TENSOR = 2,
  LOAD_ELEM_SEQUENCE = 3,
  LOAD_ELEM_MAP = 4,
  LOAD_ELEM_OPTIONAL = 5,
};

static const char *load_elem_name(int32_t elem) {
  switch (elem) {
  case LOAD_ELEM_UNDEFINED: return "undefined elements";
  case LOAD_ELEM_TENSOR: return "tensors";
  case LOAD_ELEM_SPARSE_TENSOR: return "sparse tensors";
  case LOAD_ELEM_SEQUENCE: return "sequences";
  case LOAD_ELEM_MAP: return "maps";
  case LOAD_ELEM_OPTIONAL: return "optionals";
  default: return "unknown elements";
  }
}

/* tp as a run-time tensor owning its bytes (and strings): the arena copy is temporary. */
static int load_rt_tensor(struct load_ctx *c, Onnx__TensorProto *tp, struct tqt_rt_tensor *out) {
  struct tqt_tensor *t = load_tensor(c, tp);
  if (!t || (t->external && !tqt_tensor_data(t, c->a, c->d))) return -1;
  if (t->rank > TQT_RANK_MAX)
    return tqt_diag_fail(c->d, TQT_STATUS_UNSUPPORTED, "%s: tensor '%s' has rank %zu (at most %d)",
                         c->name, t->name, t->rank, TQT_RANK_MAX);
  bool strings = t->dtype == TQT_DTYPE_STRING;
  struct tqt_value view, copy = {0};
  tqt_value_tensor_borrow(&view, t->dtype, t->rank, t->dims, strings ? (void *)t->strings : t->data,
                          strings ? t->n_strings * sizeof *t->strings : t->nbytes);
  if (tqt_value_copy(&copy, &view, c->d) != TQT_STATUS_OK) return -1;
  *out = copy.t;
  return 0;
}

/* A sequence of tensors into v (kind SEQUENCE; empty_dtype is the element type of an empty
 * one). On failure v holds what was loaded so far, for the caller to release. */
static int load_sequence_value(struct load_ctx *c, const TqtData__SequenceProto *sp,
                               int32_t empty_dtype, struct tqt_value *v) {
  int32_t elem = sp->has_elem_type ? sp->elem_type : LOAD_ELEM_UNDEFINED;
  bool other = sp->n_sparse_tensor_values || sp->n_sequence_values || sp->n_optional_values;
  if (other || (elem != LOAD_ELEM_TENSOR && (elem != LOAD_ELEM_UNDEFINED || sp->n_tensor_values)))
    return tqt_diag_fail(c->d, TQT_STATUS_UNSUPPORTED,
                         "%s: a sequence of %s (only sequences of tensors are supported)", c->name,
                         load_elem_name(other && elem == LOAD_ELEM_UNDEFINED ? LOAD_ELEM_SEQUENCE
                                                                             : elem));
  v->kind = TQT_VALUE_KIND_SEQUENCE;
  v->seq_dtype = empty_dtype;
  v->items = calloc(sp->n_tensor_values + 1, sizeof *v->items);
  if (!v->items) return LOAD_NOMEM(c);
  for (size_t i = 0; i < sp->n_tensor_values; i++) {
    struct tqt_rt_tensor *item = calloc(1, sizeof *item);
    if (!item) return LOAD_NOMEM(c);
    if (load_rt_tensor(c, sp->tensor_values[i], item)) {
      free(item);
      return -1;
    }
    v->items[v->n_items++] = item;
    if (item->dtype != v->items[0]->dtype)
      return tqt_diag_fail(c->d, TQT_STATUS_INVALID, "%s: sequence item %zu is %s, item 0 is %s",
                           c->name, i, tqt_dtype_name(item->dtype),
                           tqt_dtype_name(v->items[0]->dtype));
    v->seq_dtype = item->dtype;
  }
  return 0;
}

/* An optional's content into v: a tensor, a sequence of tensors, or nothing (kind NONE). */
static int load_optional_value(struct load_ctx *c, const TqtData__OptionalProto *op,
                               int32_t empty_dtype, struct tqt_value *v) {
  if (op->tensor_value) {
    v->kind = TQT_VALUE_KIND_TENSOR;
    return load_rt_tensor(c, op->tensor_value, &v->t);
  }
  if (op->sequence_value) return load_sequence_value(c, op->sequence_value, empty_dtype, v);
  int32_t elem = op->has_elem_type ? op->elem_type : LOAD_ELEM_UNDEFINED;
  if (op->sparse_tensor_value || op->optional_value || elem == LOAD_ELEM_MAP)
    return tqt_diag_fail(c->d, TQT_STATUS_UNSUPPORTED,
                         "%s: an optional holding one of %s is not supported", c->name,
                         load_elem_name(op->optional_value ? LOAD_ELEM_OPTIONAL
                                        : elem == LOAD_ELEM_MAP ? LOAD_ELEM_MAP
                                                                : LOAD_ELEM_SPARSE_TENSOR));
  v->kind = TQT_VALUE_KIND_NONE;
  return 0;
}

/* The tensor element type a sequence type (or an optional of one) declares, else UNDEFINED. */
static int32_t load_sequence_elem_dtype(const struct tqt_type *type) {
  if (type->kind == TQT_TYPE_KIND_OPTIONAL) type = type->elem;
  if (!type || type->kind != TQT_TYPE_KIND_SEQUENCE) return TQT_DTYPE_UNDEFINED;
  const struct tqt_type *e = type->elem;
  return e && e->kind == TQT_TYPE_KIND_TENSOR && e->has_elem_type ? e->elem_type
                                                                  : TQT_DTYPE_UNDEFINED;
}

enum tqt_status tqt_value_load(const char *path, const struct tqt_type *type,
                               struct tqt_value *out, struct tqt_diag *d) {
  memset(out, 0, sizeof *out);
  if (!type || (type->kind != TQT_TYPE_KIND_SEQUENCE && type->kind != TQT_TYPE_KIND_OPTIONAL))
    return tqt_diag_fail(d, TQT_STATUS_USAGE, "%s: a value file needs a sequence or optional type",
                         path);
  bool sequence = type->kind == TQT_TYPE_KIND_SEQUENCE;
  struct tqt_file_map fm;
  TqtData__SequenceProto *sp = NULL;
  TqtData__OptionalProto *op = NULL;
  struct tqt_arena *a = NULL;
  char *dir = NULL;
  enum tqt_status st = tqt_file_map_open(&fm, path, 0, -1, d);
  if (st != TQT_STATUS_OK) return st;
  dir = tqt_path_dirname(path);
  a = tqt_arena_create();
  if (!dir || !a) {
    st = tqt_diag_fail(d, TQT_STATUS_NOMEM, "%s: out of memory", path);
    goto done;
  }
  if (load_check_nesting(sequence ? &tqt_data__sequence_proto__descriptor
                                  : &tqt_data__optional_proto__descriptor,
                         fm.data, fm.len, path, d)) {
    st = d->status;
    goto done;
  }
  if (sequence)
    sp = tqt_data__sequence_proto__unpack(NULL, fm.len, fm.data);
  else
    op = tqt_data__optional_proto__unpack(NULL, fm.len, fm.data);
  if (!sp && !op) {
    st = tqt_diag_fail(d, TQT_STATUS_PARSE, "%s: not a %s (malformed or truncated)", path,
                       sequence ? "SequenceProto" : "OptionalProto");
    goto done;
  }
  struct load_ctx c = {a, d, path, dir};
  int32_t empty_dtype = load_sequence_elem_dtype(type);
  if (sequence ? load_sequence_value(&c, sp, empty_dtype, out)
               : load_optional_value(&c, op, empty_dtype, out)) {
    st = d->status ? d->status : TQT_STATUS_INVALID;
    tqt_value_release(out);
  }
done:
  if (sp) tqt_data__sequence_proto__free_unpacked(sp, NULL);
  if (op) tqt_data__optional_proto__free_unpacked(op, NULL);
  tqt_arena_destroy(a);
  free(dir);
  tqt_file_map_close(&fm);
  return st;
}

/* True when path, symbolic links resolved, lies inside dir (resolved too): a location without
 * ".." may still leave the folder through a link. Fills d when not. */
static bool load_path_inside(const char *dir, const char *path, const struct tqt_tensor *t,
                             struct tqt_diag *d) {
  char *real_dir = realpath(dir, NULL), *real = real_dir ? realpath(path, NULL) : NULL;
  bool inside = false;
  if (!real_dir || !real) {
    tqt_diag_fail(d, errno == ENOMEM ? TQT_STATUS_NOMEM : TQT_STATUS_IO,
                  "%s: tensor '%s': external data: %s", path, t->name, strerror(errno));
  } else {
    size_t n = strlen(real_dir);
    inside = strncmp(real, real_dir, n) == 0 &&
             (real[n] == '/' || (n == 1 && real_dir[0] == '/')); /* dir "/" */
    if (!inside)
      tqt_diag_fail(d, TQT_STATUS_INVALID,
                    "%s: tensor '%s': external data leads outside the model's folder (to %s)",
                    path, t->name, real);
  }
  free(real_dir);
  free(real);
  return inside;
}

/* External tensors of at least this size are mapped; smaller ones are copied (a mapping costs
 * whole pages, and a process gets some 65000 of them). */
#define LOAD_MAP_MIN_BYTES ((size_t)64 << 10)

static void load_unmap(void *ctx) { tqt_file_map_close(ctx); }

const void *tqt_tensor_data(struct tqt_tensor *t, struct tqt_arena *a, struct tqt_diag *d) {
  if (t->data || !t->external) return t->data;
  const struct tqt_external *e = t->external;
  char *path = tqt_path_join(e->base_dir, e->location);
  if (!path) {
    tqt_diag_fail(d, TQT_STATUS_NOMEM, "tensor '%s': out of memory", t->name);
    return NULL;
  }
  if (!load_path_inside(e->base_dir, path, t, d)) {
    free(path);
    return NULL;
  }
  /* Large tensors are mapped, not copied: the pages come from the file as they are read (and
   * may go back to it under memory pressure), so a model's weights cost no more than their
   * size. The mapping is private and writable (copy on write): code may edit the bytes, the
   * file never changes. It lives as long as the arena. */
  struct tqt_file_map *fm = tqt_arena_calloc(a, 1, sizeof *fm);
  int64_t numel = tqt_tensor_numel(t);
  size_t esize = tqt_dtype_size(t->dtype);
  if (!fm) {
    tqt_diag_fail(d, TQT_STATUS_NOMEM, "tensor '%s': out of memory", t->name);
    goto fail;
  }
  if (tqt_file_map_open(fm, path, e->offset, e->length, d) != TQT_STATUS_OK) {
    tqt_diag_prefix(d, "tensor '%s': external data: ", t->name);
    goto fail;
  }
  if (numel >= 0 && tqt_dtype_is_4bit(t->dtype)) { /* unpacked into memory */
    if ((t->data = load_int4_unpack(t, fm->data, fm->len, numel, a, d))) t->nbytes = (size_t)numel;
    else tqt_diag_prefix(d, "%s: ", path);
    tqt_file_map_close(fm);
    goto fail;
  }
  if (numel < 0 || esize == 0 || (uint64_t)numel > SIZE_MAX / esize ||
      (uint64_t)numel * esize != fm->len) {
    tqt_diag_fail(d, TQT_STATUS_INVALID,
                  "%s: tensor '%s' (%s) has %zu bytes of external data but its dims need %llu",
                  path, t->name, tqt_dtype_name(t->dtype), fm->len,
                  (unsigned long long)(numel < 0 ? 0 : numel) * esize);
    tqt_file_map_close(fm);
    goto fail;
  }
  if (fm->len < LOAD_MAP_MIN_BYTES) { /* small: copied, the mapping goes */
    if ((t->data = tqt_arena_calloc(a, 1, fm->len))) {
      memcpy(t->data, fm->data, fm->len);
      t->nbytes = fm->len;
    } else {
      tqt_diag_fail(d, TQT_STATUS_NOMEM, "tensor '%s': out of memory", t->name);
    }
    tqt_file_map_close(fm);
    goto fail;
  }
  if (tqt_arena_on_destroy(a, load_unmap, fm) != 0) {
    tqt_file_map_close(fm);
    tqt_diag_fail(d, TQT_STATUS_NOMEM, "tensor '%s': out of memory", t->name);
    goto fail;
  }
  t->data = fm->data;
  t->nbytes = fm->len;
fail:
  free(path);
  return t->data;
}
