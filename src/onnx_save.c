/* IR → ONNX protobuf. The message tree is built in a scratch arena and points at the IR's strings
 * and tensor bytes (no copies); protobuf-c streams it to a temporary file that is then renamed. */
#include <stdlib.h>
#include <string.h>

#include "file_io.h"
#include "onnx_io.h"
#include "proto/onnx.pb-c.h"

/* protobuf's hard limit is 2 GiB; stay clear of it with some room for the graph itself. */
#define SAVE_INLINE_LIMIT ((uint64_t)1 << 31) - ((uint64_t)64 << 20)
#define SAVE_EXTERNAL_ALIGN 4096

struct save_ctx {
  struct tqt_arena *scratch;
  struct tqt_arena *model_arena; /* for loading external data on the way */
  struct tqt_diag *d;
  const char *path;
  bool external;               /* large tensors go to the data file */
  size_t external_min;
  struct tqt_file_atomic data; /* the data file, opened on first use */
  const char *data_name;       /* its name relative to the model's folder */
  uint64_t data_offset;
};

#define SAVE_NOMEM(c) tqt_diag_fail((c)->d, TQT_STATUS_NOMEM, "%s: out of memory", (c)->path)

/* protobuf-c writes optional strings when non-NULL; leave empty ones out of the file. */
static char *save_opt(const char *s) { return s && *s ? (char *)s : NULL; }

static void *save_alloc(struct save_ctx *c, size_t n, size_t size) {
  void *p = tqt_arena_calloc(c->scratch, n ? n : 1, size);
  if (!p) SAVE_NOMEM(c);
  return p;
}

static ProtobufCBinaryData save_bytes(const struct tqt_bytes *b) {
  return (ProtobufCBinaryData){b->len, (uint8_t *)b->data};
}

static Onnx__StringStringEntryProto **save_entries(struct save_ctx *c,
                                                  const struct tqt_string_entry *e, size_t n) {
  Onnx__StringStringEntryProto **out = save_alloc(c, n, sizeof *out);
  Onnx__StringStringEntryProto *msgs = save_alloc(c, n, sizeof *msgs);
  if (!out || !msgs) return NULL;
  for (size_t i = 0; i < n; i++) {
    onnx__string_string_entry_proto__init(&msgs[i]);
    msgs[i].key = e[i].key;
    msgs[i].value = e[i].value;
    out[i] = &msgs[i];
  }
  return out;
}

static Onnx__StringStringEntryProto *save_entry(struct save_ctx *c, const char *key,
                                                const char *value) {
  Onnx__StringStringEntryProto *e = save_alloc(c, 1, sizeof *e);
  if (!e) return NULL;
  onnx__string_string_entry_proto__init(e);
  e->key = (char *)key;
  e->value = (char *)value;
  return e;
}

/* Appends the tensor's bytes to the data file and points the message at them. */
static int save_tensor_external(struct save_ctx *c, Onnx__TensorProto *tp,
                                const struct tqt_tensor *t) {
  if (!c->data.fp) {
    char *data_path = tqt_arena_printf(c->scratch, "%s.data", c->path);
    const char *slash = data_path ? strrchr(data_path, '/') : NULL;
    if (!data_path) return SAVE_NOMEM(c);
    c->data_name = slash ? slash + 1 : data_path;
    if (tqt_file_atomic_open(&c->data, data_path, c->d) != TQT_STATUS_OK) return -1;
  }
  uint64_t pad = (SAVE_EXTERNAL_ALIGN - c->data_offset % SAVE_EXTERNAL_ALIGN) % SAVE_EXTERNAL_ALIGN;
  static const char zeros[SAVE_EXTERNAL_ALIGN];
  if ((pad && fwrite(zeros, 1, pad, c->data.fp) != pad) ||
      fwrite(t->data, 1, t->nbytes, c->data.fp) != t->nbytes)
    return tqt_diag_fail(c->d, TQT_STATUS_IO, "%s.data: write failed", c->path);
  c->data_offset += pad;
  tp->has_data_location = true;
  tp->data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
  tp->n_external_data = 3;
  tp->external_data = save_alloc(c, 3, sizeof *tp->external_data);
  char *offset = tqt_arena_printf(c->scratch, "%llu", (unsigned long long)c->data_offset);
  char *length = tqt_arena_printf(c->scratch, "%zu", t->nbytes);
  if (!tp->external_data || !offset || !length) return SAVE_NOMEM(c);
  if (!(tp->external_data[0] = save_entry(c, "location", c->data_name)) ||
      !(tp->external_data[1] = save_entry(c, "offset", offset)) ||
      !(tp->external_data[2] = save_entry(c, "length", length)))
    return -1;
  c->data_offset += t->nbytes;
  return 0;
}

static Onnx__TensorProto *save_tensor(struct save_ctx *c, struct tqt_tensor *t) {
  Onnx__TensorProto *tp = save_alloc(c, 1, sizeof *tp);
  if (!tp) return NULL;
  onnx__tensor_proto__init(tp);
  tp->name = save_opt(t->name);
  tp->doc_string = save_opt(t->doc);
  tp->n_dims = t->rank;
  tp->dims = t->dims;
  tp->has_data_type = true;
  tp->data_type = t->dtype;
  if (t->dtype == TQT_DTYPE_STRING) {
    tp->n_string_data = t->n_strings;
    tp->string_data = save_alloc(c, t->n_strings, sizeof *tp->string_data);
    if (!tp->string_data) return NULL;
    for (size_t i = 0; i < t->n_strings; i++) tp->string_data[i] = save_bytes(&t->strings[i]);
    return tp;
  }
  if (t->external && !tqt_tensor_data(t, c->model_arena, c->d)) return NULL;
  struct tqt_tensor packed; /* 4-bit: two elements a byte in the file */
  if (tqt_dtype_is_4bit(t->dtype)) {
    packed = *t;
    packed.nbytes = tqt_int4_packed_size(t->nbytes);
    if (!(packed.data = save_alloc(c, packed.nbytes + 1, 1))) return NULL;
    tqt_int4_pack(t->data, t->nbytes, packed.data);
    t = &packed;
  }
  if (c->external && t->nbytes >= c->external_min)
    return save_tensor_external(c, tp, t) == 0 ? tp : NULL;
  tp->has_raw_data = true;
  tp->raw_data = (ProtobufCBinaryData){t->nbytes, t->data};
  return tp;
}

static Onnx__SparseTensorProto *save_sparse(struct save_ctx *c, struct tqt_sparse_tensor *s) {
  Onnx__SparseTensorProto *sp = save_alloc(c, 1, sizeof *sp);
  if (!sp) return NULL;
  onnx__sparse_tensor_proto__init(sp);
  if ((s->values && !(sp->values = save_tensor(c, s->values))) ||
      (s->indices && !(sp->indices = save_tensor(c, s->indices))))
    return NULL;
  sp->n_dims = s->rank;
  sp->dims = s->dims;
  return sp;
}

static Onnx__TensorShapeProto *save_shape(struct save_ctx *c, const struct tqt_type *t) {
  if (!t->has_shape) return NULL;
  Onnx__TensorShapeProto *sh = save_alloc(c, 1, sizeof *sh);
  Onnx__TensorShapeProto__Dimension *dims = save_alloc(c, t->rank, sizeof *dims);
  Onnx__TensorShapeProto__Dimension **ptrs = save_alloc(c, t->rank, sizeof *ptrs);
  if (!sh || !dims || !ptrs) return NULL;
  onnx__tensor_shape_proto__init(sh);
  sh->n_dim = t->rank;
  sh->dim = ptrs;
  for (size_t i = 0; i < t->rank; i++) {
    onnx__tensor_shape_proto__dimension__init(&dims[i]);
    dims[i].denotation = t->dims[i].denotation;
    if (t->dims[i].has_value) {
      dims[i].value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
      dims[i].dim_value = t->dims[i].value;
    } else if (t->dims[i].param) {
      dims[i].value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
      dims[i].dim_param = t->dims[i].param;
    }
    ptrs[i] = &dims[i];
  }
  return sh;
}

/* Shapes are optional in the message, so a NULL shape is not an error; out of memory is. */
#define SAVE_SHAPE_OR_FAIL(c, dst, t)                                                            \
  do {                                                                                           \
    (dst) = save_shape((c), (t));                                                                \
    if ((t)->has_shape && !(dst)) return NULL;                                                   \
  } while (0)

static Onnx__TypeProto *save_type(struct save_ctx *c, const struct tqt_type *t) {
  Onnx__TypeProto *tp = save_alloc(c, 1, sizeof *tp);
  if (!tp) return NULL;
  onnx__type_proto__init(tp);
  tp->denotation = t->denotation;
  Onnx__TypeProto *inner = NULL;
  if (t->elem && !(inner = save_type(c, t->elem))) return NULL;
  switch (t->kind) {
  case TQT_TYPE_KIND_TENSOR: {
    Onnx__TypeProto__Tensor *tt = save_alloc(c, 1, sizeof *tt);
    if (!tt) return NULL;
    onnx__type_proto__tensor__init(tt);
    tt->has_elem_type = t->has_elem_type;
    tt->elem_type = t->elem_type;
    SAVE_SHAPE_OR_FAIL(c, tt->shape, t);
    tp->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    tp->tensor_type = tt;
    break;
  }
  case TQT_TYPE_KIND_SPARSE_TENSOR: {
    Onnx__TypeProto__SparseTensor *st = save_alloc(c, 1, sizeof *st);
    if (!st) return NULL;
    onnx__type_proto__sparse_tensor__init(st);
    st->has_elem_type = t->has_elem_type;
    st->elem_type = t->elem_type;
    SAVE_SHAPE_OR_FAIL(c, st->shape, t);
    tp->value_case = ONNX__TYPE_PROTO__VALUE_SPARSE_TENSOR_TYPE;
    tp->sparse_tensor_type = st;
    break;
  }
  case TQT_TYPE_KIND_SEQUENCE: {
    Onnx__TypeProto__Sequence *sq = save_alloc(c, 1, sizeof *sq);
    if (!sq) return NULL;
    onnx__type_proto__sequence__init(sq);
    sq->elem_type = inner;
    tp->value_case = ONNX__TYPE_PROTO__VALUE_SEQUENCE_TYPE;
    tp->sequence_type = sq;
    break;
  }
  case TQT_TYPE_KIND_OPTIONAL: {
    Onnx__TypeProto__Optional *op = save_alloc(c, 1, sizeof *op);
    if (!op) return NULL;
    onnx__type_proto__optional__init(op);
    op->elem_type = inner;
    tp->value_case = ONNX__TYPE_PROTO__VALUE_OPTIONAL_TYPE;
    tp->optional_type = op;
    break;
  }
  case TQT_TYPE_KIND_MAP: {
    Onnx__TypeProto__Map *mt = save_alloc(c, 1, sizeof *mt);
    if (!mt) return NULL;
    onnx__type_proto__map__init(mt);
    mt->has_key_type = t->has_key_type;
    mt->key_type = t->key_type;
    mt->value_type = inner;
    tp->value_case = ONNX__TYPE_PROTO__VALUE_MAP_TYPE;
    tp->map_type = mt;
    break;
  }
  case TQT_TYPE_KIND_NONE: break;
  }
  return tp;
}

static Onnx__ValueInfoProto **save_value_infos(struct save_ctx *c,
                                               const struct tqt_value_info *v, size_t n) {
  Onnx__ValueInfoProto **out = save_alloc(c, n, sizeof *out);
  Onnx__ValueInfoProto *msgs = save_alloc(c, n, sizeof *msgs);
  if (!out || !msgs) return NULL;
  for (size_t i = 0; i < n; i++) {
    onnx__value_info_proto__init(&msgs[i]);
    msgs[i].name = save_opt(v[i].name);
    msgs[i].doc_string = save_opt(v[i].doc);
    if (v[i].type && !(msgs[i].type = save_type(c, v[i].type))) return NULL;
    out[i] = &msgs[i];
  }
  return out;
}

static Onnx__GraphProto *save_graph(struct save_ctx *c, struct tqt_graph *g);

/* Converts an array of n IR objects with fn into dst; returns NULL from the caller on failure. */
#define SAVE_LIST_OR_FAIL(c, dst, fn, src, n)                                                    \
  do {                                                                                           \
    if (!((dst) = save_alloc((c), (n), sizeof *(dst)))) return NULL;                             \
    for (size_t k_ = 0; k_ < (n); k_++)                                                          \
      if (!((dst)[k_] = fn((c), (src)[k_]))) return NULL;                                        \
  } while (0)

static Onnx__AttributeProto *save_attr(struct save_ctx *c, const struct tqt_attr *at) {
  Onnx__AttributeProto *ap = save_alloc(c, 1, sizeof *ap);
  if (!ap) return NULL;
  onnx__attribute_proto__init(ap);
  ap->name = at->name;
  ap->doc_string = save_opt(at->doc);
  ap->ref_attr_name = at->ref_attr_name;
  ap->has_type = true;
  ap->type = (Onnx__AttributeProto__AttributeType)at->type;
  switch (at->type) {
  case TQT_ATTR_TYPE_UNDEFINED: ap->has_type = false; break;
  case TQT_ATTR_TYPE_FLOAT: ap->has_f = true; ap->f = at->f; break;
  case TQT_ATTR_TYPE_INT: ap->has_i = true; ap->i = at->i; break;
  case TQT_ATTR_TYPE_STRING: ap->has_s = true; ap->s = save_bytes(&at->s); break;
  case TQT_ATTR_TYPE_TENSOR:
    if (at->t && !(ap->t = save_tensor(c, at->t))) return NULL;
    break;
  case TQT_ATTR_TYPE_GRAPH:
    if (at->g && !(ap->g = save_graph(c, at->g))) return NULL;
    break;
  case TQT_ATTR_TYPE_SPARSE_TENSOR:
    if (at->sparse && !(ap->sparse_tensor = save_sparse(c, at->sparse))) return NULL;
    break;
  case TQT_ATTR_TYPE_TYPE_PROTO:
    if (at->tp && !(ap->tp = save_type(c, at->tp))) return NULL;
    break;
  case TQT_ATTR_TYPE_FLOATS: ap->n_floats = at->n; ap->floats = at->floats; break;
  case TQT_ATTR_TYPE_INTS: ap->n_ints = at->n; ap->ints = at->ints; break;
  case TQT_ATTR_TYPE_STRINGS:
    ap->n_strings = at->n;
    if (!(ap->strings = save_alloc(c, at->n, sizeof *ap->strings))) return NULL;
    for (size_t i = 0; i < at->n; i++) ap->strings[i] = save_bytes(&at->strings[i]);
    break;
  case TQT_ATTR_TYPE_TENSORS:
    ap->n_tensors = at->n;
    SAVE_LIST_OR_FAIL(c, ap->tensors, save_tensor, at->tensors, at->n);
    break;
  case TQT_ATTR_TYPE_GRAPHS:
    ap->n_graphs = at->n;
    SAVE_LIST_OR_FAIL(c, ap->graphs, save_graph, at->graphs, at->n);
    break;
  case TQT_ATTR_TYPE_SPARSE_TENSORS:
    ap->n_sparse_tensors = at->n;
    SAVE_LIST_OR_FAIL(c, ap->sparse_tensors, save_sparse, at->sparse_tensors, at->n);
    break;
  case TQT_ATTR_TYPE_TYPE_PROTOS:
    ap->n_type_protos = at->n;
    SAVE_LIST_OR_FAIL(c, ap->type_protos, save_type, at->type_protos, at->n);
    break;
  }
  return ap;
}

static Onnx__NodeProto *save_node(struct save_ctx *c, const struct tqt_node *n) {
  Onnx__NodeProto *np = save_alloc(c, 1, sizeof *np);
  Onnx__AttributeProto **attrs = save_alloc(c, n->n_attrs, sizeof *attrs);
  if (!np || !attrs) return NULL;
  onnx__node_proto__init(np);
  np->name = save_opt(n->name);
  np->op_type = n->op_type;
  np->domain = save_opt(n->domain);
  np->doc_string = save_opt(n->doc);
  np->n_input = n->n_inputs;
  np->input = n->inputs;
  np->n_output = n->n_outputs;
  np->output = n->outputs;
  np->n_attribute = n->n_attrs;
  np->attribute = attrs;
  for (size_t i = 0; i < n->n_attrs; i++)
    if (!(attrs[i] = save_attr(c, &n->attrs[i]))) return NULL;
  return np;
}

static Onnx__TensorAnnotation *save_annotation(struct save_ctx *c,
                                               const struct tqt_tensor_annotation *qa) {
  Onnx__TensorAnnotation *ta = save_alloc(c, 1, sizeof *ta);
  if (!ta) return NULL;
  onnx__tensor_annotation__init(ta);
  ta->tensor_name = qa->tensor_name;
  ta->n_quant_parameter_tensor_names = qa->n_entries;
  ta->quant_parameter_tensor_names = save_entries(c, qa->entries, qa->n_entries);
  return ta->quant_parameter_tensor_names ? ta : NULL;
}

static Onnx__GraphProto *save_graph(struct save_ctx *c, struct tqt_graph *g) {
  Onnx__GraphProto *gp = save_alloc(c, 1, sizeof *gp);
  if (!gp) return NULL;
  onnx__graph_proto__init(gp);
  gp->name = save_opt(g->name);
  gp->doc_string = save_opt(g->doc);
  gp->n_node = g->n_nodes;
  gp->n_initializer = g->n_initializers;
  gp->n_sparse_initializer = g->n_sparse_initializers;
  gp->n_input = g->n_inputs;
  gp->n_output = g->n_outputs;
  gp->n_value_info = g->n_value_info;
  gp->n_quantization_annotation = g->n_quant_annotations;
  gp->quantization_annotation = save_alloc(c, g->n_quant_annotations, sizeof(void *));
  if (!gp->quantization_annotation) return NULL;
  for (size_t i = 0; i < g->n_quant_annotations; i++)
    if (!(gp->quantization_annotation[i] = save_annotation(c, &g->quant_annotations[i])))
      return NULL;
  SAVE_LIST_OR_FAIL(c, gp->node, save_node, g->nodes, g->n_nodes);
  SAVE_LIST_OR_FAIL(c, gp->initializer, save_tensor, g->initializers, g->n_initializers);
  SAVE_LIST_OR_FAIL(c, gp->sparse_initializer, save_sparse, g->sparse_initializers,
                    g->n_sparse_initializers);
  if (!(gp->input = save_value_infos(c, g->inputs, g->n_inputs)) ||
      !(gp->output = save_value_infos(c, g->outputs, g->n_outputs)) ||
      !(gp->value_info = save_value_infos(c, g->value_info, g->n_value_info)))
    return NULL;
  return gp;
}

static Onnx__OperatorSetIdProto **save_opsets(struct save_ctx *c, const struct tqt_opset *o,
                                              size_t n) {
  Onnx__OperatorSetIdProto **out = save_alloc(c, n, sizeof *out);
  Onnx__OperatorSetIdProto *msgs = save_alloc(c, n, sizeof *msgs);
  if (!out || !msgs) return NULL;
  for (size_t i = 0; i < n; i++) {
    onnx__operator_set_id_proto__init(&msgs[i]);
    msgs[i].domain = o[i].domain; /* written even when "": some readers want the field */
    msgs[i].has_version = true;
    msgs[i].version = o[i].version;
    out[i] = &msgs[i];
  }
  return out;
}

static Onnx__FunctionProto *save_function(struct save_ctx *c, const struct tqt_function *f) {
  Onnx__FunctionProto *fp = save_alloc(c, 1, sizeof *fp);
  if (!fp) return NULL;
  onnx__function_proto__init(fp);
  fp->name = f->name;
  fp->domain = f->domain;
  fp->doc_string = save_opt(f->doc);
  fp->n_input = f->n_inputs;
  fp->input = f->inputs;
  fp->n_output = f->n_outputs;
  fp->output = f->outputs;
  fp->n_attribute = f->n_attributes;
  fp->attribute = f->attributes;
  fp->n_node = f->n_nodes;
  fp->n_opset_import = f->n_opsets;
  SAVE_LIST_OR_FAIL(c, fp->node, save_node, f->nodes, f->n_nodes);
  if (!(fp->opset_import = save_opsets(c, f->opsets, f->n_opsets)))
    return NULL;
  return fp;
}

static Onnx__TrainingInfoProto *save_training_info(struct save_ctx *c,
                                                   struct tqt_training_info *ti) {
  Onnx__TrainingInfoProto *tp = save_alloc(c, 1, sizeof *tp);
  if (!tp) return NULL;
  onnx__training_info_proto__init(tp);
  if ((ti->initialization && !(tp->initialization = save_graph(c, ti->initialization))) ||
      (ti->algorithm && !(tp->algorithm = save_graph(c, ti->algorithm))))
    return NULL;
  tp->n_initialization_binding = ti->n_initialization_binding;
  tp->n_update_binding = ti->n_update_binding;
  if (!(tp->initialization_binding =
            save_entries(c, ti->initialization_binding, ti->n_initialization_binding)) ||
      !(tp->update_binding = save_entries(c, ti->update_binding, ti->n_update_binding)))
    return NULL;
  return tp;
}

static Onnx__ModelProto *save_model(struct save_ctx *c, struct tqt_model *m) {
  Onnx__ModelProto *mp = save_alloc(c, 1, sizeof *mp);
  if (!mp) return NULL;
  onnx__model_proto__init(mp);
  mp->has_ir_version = m->has_ir_version;
  mp->ir_version = m->ir_version;
  mp->producer_name = save_opt(m->producer_name);
  mp->producer_version = save_opt(m->producer_version);
  mp->domain = save_opt(m->domain);
  mp->has_model_version = m->has_model_version;
  mp->model_version = m->model_version;
  mp->doc_string = save_opt(m->doc);
  mp->n_opset_import = m->n_opsets;
  mp->n_metadata_props = m->n_metadata;
  mp->n_functions = m->n_functions;
  mp->n_training_info = m->n_training_info;
  if (!(mp->training_info = save_alloc(c, m->n_training_info, sizeof *mp->training_info)))
    return NULL;
  for (size_t i = 0; i < m->n_training_info; i++)
    if (!(mp->training_info[i] = save_training_info(c, &m->training_info[i]))) return NULL;
  if (!(mp->opset_import = save_opsets(c, m->opsets, m->n_opsets)) ||
      !(mp->metadata_props = save_entries(c, m->metadata, m->n_metadata)) ||
      !(mp->graph = save_graph(c, m->graph)))
    return NULL;
  SAVE_LIST_OR_FAIL(c, mp->functions, save_function, m->functions, m->n_functions);
  return mp;
}

/* Bytes of tensor data the model holds (loaded or not), to decide on external data. */
static int save_count_bytes(struct tqt_graph *g, int depth, void *ctx) {
  (void)depth;
  uint64_t *total = ctx;
  for (size_t i = 0; i < g->n_initializers; i++) {
    const struct tqt_tensor *t = g->initializers[i];
    int64_t numel = tqt_tensor_numel(t);
    *total += t->data ? t->nbytes : (uint64_t)(numel > 0 ? numel : 0) * tqt_dtype_size(t->dtype);
  }
  for (size_t i = 0; i < g->n_nodes; i++)
    for (size_t k = 0; k < g->nodes[i]->n_attrs; k++)
      if (g->nodes[i]->attrs[k].t) *total += g->nodes[i]->attrs[k].t->nbytes;
  return 0;
}

struct save_sink {
  ProtobufCBuffer base;
  FILE *fp;
  bool failed;
};

static void save_sink_append(ProtobufCBuffer *buffer, size_t len, const uint8_t *data) {
  struct save_sink *s = (struct save_sink *)buffer;
  if (!s->failed && len && fwrite(data, 1, len, s->fp) != len) s->failed = true;
}

enum tqt_status tqt_model_save(struct tqt_model *m, const char *path,
                               const struct tqt_save_options *o, struct tqt_diag *d) {
  static const struct tqt_save_options defaults = {TQT_EXTERNAL_AUTO, 0};
  if (!o) o = &defaults;
  enum tqt_status st = TQT_STATUS_OK;
  struct tqt_file_atomic out = {0};
  struct save_ctx c = {.model_arena = m->arena, .d = d, .path = path};
  c.external_min = o->external_min_bytes ? o->external_min_bytes : 1024;
  c.scratch = tqt_arena_create();
  if (!c.scratch) return tqt_diag_fail(d, TQT_STATUS_NOMEM, "%s: out of memory", path);
  uint64_t total = 0;
  tqt_graph_walk(m->graph, save_count_bytes, &total);
  c.external = o->external == TQT_EXTERNAL_ALWAYS ||
               (o->external == TQT_EXTERNAL_AUTO && total > SAVE_INLINE_LIMIT);
  if ((st = tqt_file_atomic_open(&out, path, d)) != TQT_STATUS_OK) goto fail;
  Onnx__ModelProto *mp = save_model(&c, m);
  if (!mp) {
    st = d->status ? d->status : SAVE_NOMEM(&c);
    goto fail;
  }
  if (!c.external && onnx__model_proto__get_packed_size(mp) > SAVE_INLINE_LIMIT) {
    st = tqt_diag_fail(d, TQT_STATUS_UNSUPPORTED,
                       "%s: the model passes protobuf's 2 GB limit; save with external data",
                       path);
    goto fail;
  }
  struct save_sink sink = {{save_sink_append}, out.fp, false};
  onnx__model_proto__pack_to_buffer(mp, &sink.base);
  if (sink.failed) {
    st = tqt_diag_fail(d, TQT_STATUS_IO, "%s: write failed", path);
    goto fail;
  }
  /* The data file first: a model that is in place must find its data. */
  if (c.data.fp && (st = tqt_file_atomic_commit(&c.data, d)) != TQT_STATUS_OK) goto fail;
  st = tqt_file_atomic_commit(&out, d);
fail:
  tqt_file_atomic_abort(&c.data);
  tqt_file_atomic_abort(&out);
  tqt_arena_destroy(c.scratch);
  return st;
}
