/* The IR: an ONNX model as plain C structs carved from one arena. It knows nothing of protobuf.
 * Names are NUL-terminated strings; byte strings (attribute strings, string tensors) carry a length.
 * Arrays are (pointer, count[, capacity]); those that passes grow have a capacity. */
#ifndef TQT_IR_H
#define TQT_IR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "diag.h"

/* Element types, numbered as ONNX's TensorProto.DataType. */
enum tqt_dtype {
  TQT_DTYPE_UNDEFINED = 0,
  TQT_DTYPE_FLOAT = 1,
  TQT_DTYPE_UINT8 = 2,
  TQT_DTYPE_INT8 = 3,
  TQT_DTYPE_UINT16 = 4,
  TQT_DTYPE_INT16 = 5,
  TQT_DTYPE_INT32 = 6,
  TQT_DTYPE_INT64 = 7,
  TQT_DTYPE_STRING = 8,
  TQT_DTYPE_BOOL = 9,
  TQT_DTYPE_FLOAT16 = 10,
  TQT_DTYPE_DOUBLE = 11,
  TQT_DTYPE_UINT32 = 12,
  TQT_DTYPE_UINT64 = 13,
  TQT_DTYPE_COMPLEX64 = 14,
  TQT_DTYPE_COMPLEX128 = 15,
  TQT_DTYPE_BFLOAT16 = 16,
  TQT_DTYPE_FLOAT8E4M3FN = 17, /* the float8 types: named, not computed */
  TQT_DTYPE_FLOAT8E4M3FNUZ = 18,
  TQT_DTYPE_FLOAT8E5M2 = 19,
  TQT_DTYPE_FLOAT8E5M2FNUZ = 20,
  /* 4-bit integers: packed two per byte in files (first element in the low half), one per byte
   * in memory (int8 / uint8 holding -8..7 / 0..15): tqt_int4_pack, tqt_int4_unpack */
  TQT_DTYPE_UINT4 = 21,
  TQT_DTYPE_INT4 = 22,
  TQT_DTYPE_COUNT
};

/* Bytes per element (0 for STRING and unknown types). */
size_t tqt_dtype_size(int32_t dtype);
/* Whether dtype is INT4 or UINT4. */
bool tqt_dtype_is_4bit(int32_t dtype);
/* The bytes of n 4-bit elements packed two per byte. */
size_t tqt_int4_packed_size(size_t n);
/* n elements, one per byte, into tqt_int4_packed_size(n) bytes (an odd last one: high half 0). */
void tqt_int4_pack(const uint8_t *in, size_t n, uint8_t *out);
/* The reverse, the high bit of each half extended for INT4. */
void tqt_int4_unpack(const uint8_t *in, size_t n, bool is_signed, uint8_t *out);
/* "float", "int8", ... or "dtype(N)" for numbers ONNX 1.12 does not define. */
const char *tqt_dtype_name(int32_t dtype);

struct tqt_bytes {
  char *data; /* NUL-terminated copy, may contain NULs inside */
  size_t len;
};

struct tqt_string_entry {
  char *key;
  char *value;
};

/* Where a tensor's bytes live when they are not in the model file. */
struct tqt_external {
  char *location; /* relative to base_dir */
  char *base_dir; /* the folder of the model file that referenced it */
  int64_t offset;
  int64_t length; /* -1: to the end of the file */
  char *checksum; /* kept for the round trip, NULL when absent */
  struct tqt_string_entry *extra; /* other keys, kept as they were */
  size_t n_extra;
};

struct tqt_tensor {
  char *name;
  char *doc;
  int32_t dtype;
  size_t rank;
  int64_t *dims;
  /* Data in little-endian bytes, whatever field the file used (raw_data or the typed fields);
   * float16/bfloat16 as their bits, bool as one byte. NULL until loaded when `external` is set;
   * tqt_tensor_data() loads it. For STRING tensors see `strings`. */
  void *data;
  size_t nbytes;
  struct tqt_bytes *strings;
  size_t n_strings;
  struct tqt_external *external;
  bool has_segment; /* a chunked tensor ONNX itself deprecates: refused by the loader */
};

/* Number of elements (product of dims); -1 when a dim is negative or the product overflows. */
int64_t tqt_tensor_numel(const struct tqt_tensor *t);

/* The value of a FLOAT tensor of one element whose data is loaded, or fallback. */
float tqt_tensor_float_scalar(const struct tqt_tensor *t, float fallback);

struct tqt_sparse_tensor {
  struct tqt_tensor *values;
  struct tqt_tensor *indices;
  size_t rank;
  int64_t *dims;
};

enum tqt_type_kind {
  TQT_TYPE_KIND_NONE = 0, /* TypeProto with no value set */
  TQT_TYPE_KIND_TENSOR,
  TQT_TYPE_KIND_SEQUENCE,
  TQT_TYPE_KIND_MAP,
  TQT_TYPE_KIND_OPTIONAL,
  TQT_TYPE_KIND_SPARSE_TENSOR,
};

struct tqt_dim {
  bool has_value;
  int64_t value;
  char *param;      /* symbolic name, NULL when none */
  char *denotation; /* NULL when none */
};

struct tqt_type {
  enum tqt_type_kind kind;
  char *denotation;
  /* TENSOR, SPARSE_TENSOR */
  bool has_elem_type;
  int32_t elem_type;
  bool has_shape; /* false: rank unknown */
  size_t rank;
  struct tqt_dim *dims;
  /* MAP */
  bool has_key_type;
  int32_t key_type;
  /* SEQUENCE, OPTIONAL element; MAP value. NULL when absent. */
  struct tqt_type *elem;
};

struct tqt_value_info {
  char *name;
  char *doc;
  struct tqt_type *type; /* NULL when the file gives no type */
};

enum tqt_attr_type {
  TQT_ATTR_TYPE_UNDEFINED = 0,
  TQT_ATTR_TYPE_FLOAT = 1,
  TQT_ATTR_TYPE_INT = 2,
  TQT_ATTR_TYPE_STRING = 3,
  TQT_ATTR_TYPE_TENSOR = 4,
  TQT_ATTR_TYPE_GRAPH = 5,
  TQT_ATTR_TYPE_FLOATS = 6,
  TQT_ATTR_TYPE_INTS = 7,
  TQT_ATTR_TYPE_STRINGS = 8,
  TQT_ATTR_TYPE_TENSORS = 9,
  TQT_ATTR_TYPE_GRAPHS = 10,
  TQT_ATTR_TYPE_SPARSE_TENSOR = 11,
  TQT_ATTR_TYPE_SPARSE_TENSORS = 12,
  TQT_ATTR_TYPE_TYPE_PROTO = 13,
  TQT_ATTR_TYPE_TYPE_PROTOS = 14,
};

struct tqt_graph;

struct tqt_attr {
  char *name;
  char *doc;
  char *ref_attr_name; /* in function bodies: the value comes from the caller's attribute */
  enum tqt_attr_type type;
  float f;
  int64_t i;
  struct tqt_bytes s;
  struct tqt_tensor *t;
  struct tqt_graph *g;
  struct tqt_sparse_tensor *sparse;
  struct tqt_type *tp;
  /* The list kinds: n elements of the array that matches `type`. */
  size_t n;
  float *floats;
  int64_t *ints;
  struct tqt_bytes *strings;
  struct tqt_tensor **tensors;
  struct tqt_graph **graphs;
  struct tqt_sparse_tensor **sparse_tensors;
  struct tqt_type **type_protos;
};

struct tqt_node {
  char *name; /* may be "" */
  char *op_type;
  char *domain; /* "" is the default ONNX domain */
  char *doc;
  char **inputs; /* "" marks an omitted optional input */
  size_t n_inputs;
  char **outputs;
  size_t n_outputs;
  struct tqt_attr *attrs;
  size_t n_attrs;
};

struct tqt_tensor_annotation {
  char *tensor_name;
  struct tqt_string_entry *entries;
  size_t n_entries;
};

struct tqt_graph {
  char *name;
  char *doc;
  struct tqt_graph *parent; /* the graph whose node owns this subgraph; NULL for the main graph */
  struct tqt_node **nodes;
  size_t n_nodes, cap_nodes;
  struct tqt_value_info *inputs;
  size_t n_inputs, cap_inputs;
  struct tqt_value_info *outputs;
  size_t n_outputs, cap_outputs;
  struct tqt_value_info *value_info;
  size_t n_value_info, cap_value_info;
  struct tqt_tensor **initializers;
  size_t n_initializers, cap_initializers;
  struct tqt_sparse_tensor **sparse_initializers;
  size_t n_sparse_initializers;
  struct tqt_tensor_annotation *quant_annotations;
  size_t n_quant_annotations;
};

struct tqt_opset {
  char *domain; /* "" or "ai.onnx" for the default domain */
  int64_t version;
};

struct tqt_function {
  char *name;
  char *domain;
  char *doc;
  char **inputs;
  size_t n_inputs;
  char **outputs;
  size_t n_outputs;
  char **attributes; /* names of the attributes a call may set */
  size_t n_attributes;
  struct tqt_node **nodes;
  size_t n_nodes, cap_nodes;
  struct tqt_opset *opsets;
  size_t n_opsets;
};

struct tqt_training_info {
  struct tqt_graph *initialization;
  struct tqt_graph *algorithm;
  struct tqt_string_entry *initialization_binding;
  size_t n_initialization_binding;
  struct tqt_string_entry *update_binding;
  size_t n_update_binding;
};

struct tqt_model {
  struct tqt_arena *arena; /* owns everything below */
  char *path;              /* the file it was loaded from, NULL when built in memory */
  bool has_ir_version;
  int64_t ir_version;
  char *producer_name;
  char *producer_version;
  char *domain;
  bool has_model_version;
  int64_t model_version;
  char *doc;
  struct tqt_opset *opsets;
  size_t n_opsets, cap_opsets;
  struct tqt_graph *graph;
  struct tqt_string_entry *metadata;
  size_t n_metadata;
  struct tqt_function **functions;
  size_t n_functions, cap_functions;
  struct tqt_training_info *training_info;
  size_t n_training_info;
};

/* ---- building ---- */

/* An empty model with its own arena and an empty main graph. NULL when out of memory. */
struct tqt_model *tqt_model_create(void);
void tqt_model_destroy(struct tqt_model *m);
/* The version of `domain` ("" and "ai.onnx" are the same) the model imports, 0 if none. */
int64_t tqt_model_opset(const struct tqt_model *m, const char *domain);
int tqt_model_opset_set(struct tqt_model *m, const char *domain, int64_t version);

struct tqt_graph *tqt_graph_create(struct tqt_arena *a, const char *name, struct tqt_graph *parent);
/* A node in no graph yet; inputs/outputs are copied (NULL entries become ""). NULL on OOM. */
struct tqt_node *tqt_node_create(struct tqt_arena *a, const char *op_type, const char *name,
                                 size_t n_inputs, const char *const *inputs, size_t n_outputs,
                                 const char *const *outputs);
/* Appends a new node to g (as tqt_node_create). NULL when out of memory. */
struct tqt_node *tqt_graph_node_add(struct tqt_arena *a, struct tqt_graph *g, const char *op_type,
                                    const char *name, size_t n_inputs, const char *const *inputs,
                                    size_t n_outputs, const char *const *outputs);
struct tqt_value_info *tqt_graph_input_add(struct tqt_arena *a, struct tqt_graph *g,
                                           const char *name, int32_t elem_type, size_t rank,
                                           const int64_t *dims);
struct tqt_value_info *tqt_graph_output_add(struct tqt_arena *a, struct tqt_graph *g,
                                            const char *name, int32_t elem_type, size_t rank,
                                            const int64_t *dims);
/* A tensor in no graph, holding a copy of data (NULL: zeros). NULL when out of memory or when
 * dims and dtype give no byte count (STRING, negative dims, overflow). */
struct tqt_tensor *tqt_tensor_create(struct tqt_arena *a, const char *name, int32_t dtype,
                                     size_t rank, const int64_t *dims, const void *data);
/* Adds an initializer holding a copy of `data` (nbytes must match dims and dtype). */
struct tqt_tensor *tqt_graph_initializer_add(struct tqt_arena *a, struct tqt_graph *g,
                                             const char *name, int32_t dtype, size_t rank,
                                             const int64_t *dims, const void *data);

/* A tensor type with fixed dims (a negative dim becomes an unknown dim). */
struct tqt_type *tqt_type_tensor_create(struct tqt_arena *a, int32_t elem_type, size_t rank,
                                        const int64_t *dims);

struct tqt_attr *tqt_node_attr_add(struct tqt_arena *a, struct tqt_node *n, const char *name,
                                   enum tqt_attr_type type);
int tqt_node_attr_add_int(struct tqt_arena *a, struct tqt_node *n, const char *name, int64_t v);
int tqt_node_attr_add_float(struct tqt_arena *a, struct tqt_node *n, const char *name, float v);
int tqt_node_attr_add_ints(struct tqt_arena *a, struct tqt_node *n, const char *name, size_t count,
                           const int64_t *v);
int tqt_node_attr_add_string(struct tqt_arena *a, struct tqt_node *n, const char *name,
                             const char *v);
const struct tqt_attr *tqt_node_attr_find(const struct tqt_node *n, const char *name);
/* Attribute values with defaults (kernels read them once, at plan time). */
int64_t tqt_attr_int(const struct tqt_node *n, const char *name, int64_t dflt);
float tqt_attr_float(const struct tqt_node *n, const char *name, float dflt);
/* NUL-terminated; dflt when absent. */
const char *tqt_attr_string(const struct tqt_node *n, const char *name, const char *dflt);
/* NULL when absent; *count receives the length. */
const int64_t *tqt_attr_ints(const struct tqt_node *n, const char *name, size_t *count);
const float *tqt_attr_floats(const struct tqt_node *n, const char *name, size_t *count);
bool tqt_attr_has(const struct tqt_node *n, const char *name);


/* ---- walking ---- */

/* Calls fn for the graph and, depth first, every subgraph in its nodes' attributes. depth is 0 for
 * g itself. Stops at the first non-zero return and returns it. */
typedef int (*tqt_graph_visit_fn)(struct tqt_graph *g, int depth, void *ctx);
int tqt_graph_walk(struct tqt_graph *g, tqt_graph_visit_fn fn, void *ctx);

/* ---- checking and comparing ---- */

/* Checks that every node input is defined (graph input, initializer, earlier node output, or a name
 * of an enclosing graph), every graph output is produced, and the nodes have no cycle; nodes that
 * are acyclic but out of order are sorted. Same for function bodies and subgraphs. */
enum tqt_status tqt_model_validate(struct tqt_model *m, struct tqt_diag *d);

/* Compares two models field by field (tensor bytes included, external data loaded). Returns true
 * when equal; otherwise false with the first difference described in d (status INVALID). */
bool tqt_model_equal(struct tqt_model *a, struct tqt_model *b, struct tqt_diag *d);

#endif
