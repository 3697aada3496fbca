/* Writes a float model larger than protobuf's 2 GB limit, its weights in external data, for
 * bench/large_model.sh: LAYERS × (MatMul by an N×N weight, Relu), input x [1, N], output y.
 *
 * usage: bench-large-model DIR [N [LAYERS]]   (default N 8192, 9 layers: 2.4 GB of weights)
 * Writes DIR/large.onnx, DIR/large.onnx.data (the weights, streamed: the program holds one row
 * at a time) and DIR/x.npy (one input sample). Prints "weights bytes: N". */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/onnx.pb-c.h"

static void die(const char *what) {
  fprintf(stderr, "bench-large-model: %s: %s\n", what, strerror(errno));
  exit(1);
}

static uint64_t rng_state = 0x2545f4914f6cdd1du;

/* Uniform in [-a, a) (xorshift64*). */
static float rng_uniform(float a) {
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  uint64_t r = rng_state * 0x2545f4914f6cdd1du;
  return a * ((float)(r >> 40) / (float)(1u << 24) * 2.0f - 1.0f);
}

static void write_npy(const char *path, const float *x, int64_t n) {
  FILE *fp = fopen(path, "wb");
  if (!fp) die(path);
  char header[128];
  int len = snprintf(header, sizeof header,
                     "{'descr': '<f4', 'fortran_order': False, 'shape': (1, %" PRId64 "), }", n);
  int pad = 64 - (10 + len + 1) % 64;
  fwrite("\x93NUMPY\x01\x00", 1, 8, fp);
  uint16_t hlen = (uint16_t)(len + pad + 1);
  fwrite(&hlen, 2, 1, fp);
  fwrite(header, 1, (size_t)len, fp);
  for (int i = 0; i < pad; i++) fputc(' ', fp);
  fputc('\n', fp);
  if (fwrite(x, sizeof *x, (size_t)n, fp) != (size_t)n || fclose(fp) != 0) die(path);
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: bench-large-model DIR [N [LAYERS]]\n");
    return 2;
  }
  const char *dir = argv[1];
  int64_t n = argc > 2 ? atoll(argv[2]) : 8192;
  int layers = argc > 3 ? atoi(argv[3]) : 9;
  if (n < 1 || layers < 1 || layers > 999) {
    fprintf(stderr, "bench-large-model: bad N or LAYERS\n");
    return 2;
  }
  char path[4096];
  snprintf(path, sizeof path, "%s/large.onnx.data", dir);
  FILE *data = fopen(path, "wb");
  if (!data) die(path);
  float *row = malloc((size_t)n * sizeof *row);
  if (!row) die("malloc");
  uint64_t weight_bytes = (uint64_t)n * (uint64_t)n * sizeof(float);
  /* Uniform weights in ±sqrt(3/N) (variance 1/N) keep activations of order one; the Relu halves
   * the energy each layer, which 9 layers survive easily in float. */
  float a = 1.0f;
  while (a * a * (float)n > 3.0f) a *= 0.5f; /* a power of two near sqrt(3/N), no libm */
  Onnx__TensorProto *inits = calloc((size_t)layers, sizeof *inits);
  Onnx__TensorProto **init_ptrs = calloc((size_t)layers, sizeof *init_ptrs);
  Onnx__NodeProto *nodes = calloc(2 * (size_t)layers, sizeof *nodes);
  Onnx__NodeProto **node_ptrs = calloc(2 * (size_t)layers, sizeof *node_ptrs);
  Onnx__StringStringEntryProto *entries = calloc(3 * (size_t)layers, sizeof *entries);
  Onnx__StringStringEntryProto **entry_ptrs = calloc(3 * (size_t)layers, sizeof *entry_ptrs);
  char **names = calloc(4 * (size_t)layers + 2, sizeof *names);
  if (!inits || !init_ptrs || !nodes || !node_ptrs || !entries || !entry_ptrs || !names)
    die("calloc");
  int64_t dims[2] = {n, n};
  for (int l = 0; l < layers; l++) {
    for (int64_t i = 0; i < n; i++) {
      for (int64_t j = 0; j < n; j++) row[j] = rng_uniform(a);
      if (fwrite(row, sizeof *row, (size_t)n, data) != (size_t)n) die(path);
    }
    char *w = names[4 * l] = malloc(32), *off = names[4 * l + 1] = malloc(32),
         *len = names[4 * l + 2] = malloc(32), *h = names[4 * l + 3] = malloc(32);
    if (!w || !off || !len || !h) die("malloc");
    snprintf(w, 32, "w%d", l);
    snprintf(off, 32, "%" PRIu64, (uint64_t)l * weight_bytes);
    snprintf(len, 32, "%" PRIu64, weight_bytes);
    snprintf(h, 32, "h%d", l);
    Onnx__TensorProto *t = &inits[l];
    onnx__tensor_proto__init(t);
    t->name = w;
    t->n_dims = 2;
    t->dims = dims;
    t->has_data_type = 1;
    t->data_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    t->has_data_location = 1;
    t->data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
    const char *keys[3] = {"location", "offset", "length"};
    char *values[3] = {(char *)"large.onnx.data", off, len};
    for (int k = 0; k < 3; k++) {
      Onnx__StringStringEntryProto *e = &entries[3 * l + k];
      onnx__string_string_entry_proto__init(e);
      e->key = (char *)keys[k];
      e->value = values[k];
      entry_ptrs[3 * l + k] = e;
    }
    t->n_external_data = 3;
    t->external_data = &entry_ptrs[3 * l];
    init_ptrs[l] = t;
  }
  if (fclose(data) != 0) die(path);
  /* x -> MatMul w0 -> m0 -> Relu -> h0 -> ... -> the last Relu writes y */
  static char *matmul_in[999][2], *matmul_out[999], *relu_in[999], *relu_out[999];
  char **mnames = calloc((size_t)layers, sizeof *mnames);
  if (!mnames) die("calloc");
  for (int l = 0; l < layers; l++) {
    mnames[l] = malloc(32);
    if (!mnames[l]) die("malloc");
    snprintf(mnames[l], 32, "m%d", l);
    matmul_in[l][0] = l ? names[4 * (l - 1) + 3] : (char *)"x";
    matmul_in[l][1] = names[4 * l];
    matmul_out[l] = mnames[l];
    relu_in[l] = mnames[l];
    relu_out[l] = l + 1 < layers ? names[4 * l + 3] : (char *)"y";
    Onnx__NodeProto *mm = &nodes[2 * l], *relu = &nodes[2 * l + 1];
    onnx__node_proto__init(mm);
    onnx__node_proto__init(relu);
    mm->op_type = (char *)"MatMul";
    mm->n_input = 2;
    mm->input = matmul_in[l];
    mm->n_output = 1;
    mm->output = &matmul_out[l];
    relu->op_type = (char *)"Relu";
    relu->n_input = 1;
    relu->input = &relu_in[l];
    relu->n_output = 1;
    relu->output = &relu_out[l];
    node_ptrs[2 * l] = mm;
    node_ptrs[2 * l + 1] = relu;
  }
  Onnx__TensorShapeProto__Dimension d0 = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__INIT, d1 = d0;
  d0.value_case = d1.value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
  d0.dim_value = 1;
  d1.dim_value = n;
  Onnx__TensorShapeProto__Dimension *dim_ptrs[2] = {&d0, &d1};
  Onnx__TensorShapeProto shape = ONNX__TENSOR_SHAPE_PROTO__INIT;
  shape.n_dim = 2;
  shape.dim = dim_ptrs;
  Onnx__TypeProto__Tensor tt = ONNX__TYPE_PROTO__TENSOR__INIT;
  tt.has_elem_type = 1;
  tt.elem_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
  tt.shape = &shape;
  Onnx__TypeProto type = ONNX__TYPE_PROTO__INIT;
  type.value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
  type.tensor_type = &tt;
  Onnx__ValueInfoProto in = ONNX__VALUE_INFO_PROTO__INIT, out = ONNX__VALUE_INFO_PROTO__INIT;
  in.name = (char *)"x";
  in.type = &type;
  out.name = (char *)"y";
  out.type = &type;
  Onnx__ValueInfoProto *in_ptr = &in, *out_ptr = &out;
  Onnx__GraphProto graph = ONNX__GRAPH_PROTO__INIT;
  graph.name = (char *)"large";
  graph.n_node = 2 * (size_t)layers;
  graph.node = node_ptrs;
  graph.n_initializer = (size_t)layers;
  graph.initializer = init_ptrs;
  graph.n_input = 1;
  graph.input = &in_ptr;
  graph.n_output = 1;
  graph.output = &out_ptr;
  Onnx__OperatorSetIdProto opset = ONNX__OPERATOR_SET_ID_PROTO__INIT, *opset_ptr = &opset;
  opset.domain = (char *)"";
  opset.has_version = 1;
  opset.version = 13;
  Onnx__ModelProto model = ONNX__MODEL_PROTO__INIT;
  model.has_ir_version = 1;
  model.ir_version = 8;
  model.producer_name = (char *)"bench-large-model";
  model.graph = &graph;
  model.n_opset_import = 1;
  model.opset_import = &opset_ptr;
  size_t size = onnx__model_proto__get_packed_size(&model);
  uint8_t *buf = malloc(size);
  if (!buf) die("malloc");
  onnx__model_proto__pack(&model, buf);
  snprintf(path, sizeof path, "%s/large.onnx", dir);
  FILE *fp = fopen(path, "wb");
  if (!fp || fwrite(buf, 1, size, fp) != size || fclose(fp) != 0) die(path);
  for (int64_t j = 0; j < n; j++) row[j] = rng_uniform(1.0f);
  snprintf(path, sizeof path, "%s/x.npy", dir);
  write_npy(path, row, n);
  printf("weights bytes: %" PRIu64 "\n", weight_bytes * (uint64_t)layers);
  for (int l = 0; l < 4 * layers; l++) free(names[l]);
  for (int l = 0; l < layers; l++) free(mnames[l]);
  free(mnames);
  free(names);
  free(buf);
  free(row);
  free(inits);
  free(init_ptrs);
  free(nodes);
  free(node_ptrs);
  free(entries);
  free(entry_ptrs);
  return 0;
}
