/* Makes corrupt ONNX models from valid ones, for tests/corrupt/corrupt_test.sh.
 *
 * usage: gen_corrupt OUTDIR SEED.onnx...
 *
 * Writes OUTDIR/<category>/<n>/model.onnx (each in a folder of its own: external-data cases put
 * data files and symbolic links beside it, some pointing outside) and OUTDIR/manifest.txt, one
 * line per model: "CATEGORY EXPECT PATH", EXPECT being
 *   fail  onnx-tqt must refuse it (exit 1, one line);
 *   any   a random corruption that may leave a valid model (exit 0 allowed, OUT must then load).
 * Categories: bitflip, truncate (inside the graph), dims_wrong, dims_negative, dims_huge,
 * dims_overflow, cycle, dangling, duplicate, attr_type, nesting, external. Structural
 * corruptions edit the unpacked protobuf-c message and pack it again; the nesting ones write
 * the wire format directly (a chain of a million messages is no tree worth building).
 * Everything is deterministic (a fixed seed). Prints "gen_corrupt: N models". */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proto/onnx.pb-c.h"

#define BITFLIPS_PER_SEED 50
#define TRUNCATIONS_PER_SEED 12
#define PER_SEED 4 /* variants per structural category and seed, where the seed allows them */

struct gen {
  const char *out;
  FILE *manifest;
  uint64_t rng;
  size_t total;
  unsigned counter; /* numbers the folders */
};

static uint64_t gen_rand(struct gen *g) { /* splitmix64 */
  uint64_t z = (g->rng += 0x9e3779b97f4a7c15u);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
  return z ^ (z >> 31);
}

static size_t gen_below(struct gen *g, size_t n) { return n ? (size_t)(gen_rand(g) % n) : 0; }

static void die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("gen_corrupt: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  exit(2);
}

static void write_file(const char *path, const void *buf, size_t len) {
  FILE *fp = fopen(path, "wb");
  if (!fp || (len && fwrite(buf, 1, len, fp) != len) || fclose(fp) != 0)
    die("%s: %s", path, strerror(errno));
}

static void *read_file(const char *path, size_t *len) {
  FILE *fp = fopen(path, "rb");
  if (!fp) die("%s: %s", path, strerror(errno));
  fseek(fp, 0, SEEK_END);
  long n = ftell(fp);
  fseek(fp, 0, SEEK_SET);
  unsigned char *buf = malloc((size_t)n + 1);
  if (!buf || fread(buf, 1, (size_t)n, fp) != (size_t)n) die("%s: cannot read", path);
  fclose(fp);
  *len = (size_t)n;
  return buf;
}

/* A new case folder OUTDIR/cat/N; its path goes to dir (size 4096). */
static void gen_case_dir(struct gen *g, const char *cat, char *dir) {
  snprintf(dir, 4096, "%s/%s", g->out, cat);
  mkdir(dir, 0777);
  snprintf(dir, 4096, "%s/%s/%u", g->out, cat, g->counter++);
  if (mkdir(dir, 0777) != 0) die("%s: %s", dir, strerror(errno));
}

static void gen_record(struct gen *g, const char *cat, const char *expect, const char *path) {
  fprintf(g->manifest, "%s %s %s\n", cat, expect, path);
  g->total++;
}

/* Writes bytes as a new case's model.onnx. */
static void gen_emit(struct gen *g, const char *cat, const char *expect, const void *buf,
                     size_t len) {
  char dir[4096], path[4200];
  gen_case_dir(g, cat, dir);
  snprintf(path, sizeof path, "%s/model.onnx", dir);
  write_file(path, buf, len);
  gen_record(g, cat, expect, path);
}

static void gen_emit_model(struct gen *g, const char *cat, const Onnx__ModelProto *mp) {
  size_t len = onnx__model_proto__get_packed_size(mp);
  uint8_t *buf = malloc(len ? len : 1);
  if (!buf) die("out of memory");
  onnx__model_proto__pack(mp, buf);
  gen_emit(g, cat, "fail", buf, len);
  free(buf);
}

/* ---- the wire format ---- */

static size_t varint_put(uint8_t *p, uint64_t v) {
  size_t n = 0;
  do {
    p[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
    v >>= 7;
  } while (v);
  return n;
}

static size_t varint_size(uint64_t v) {
  uint8_t tmp[10];
  return varint_put(tmp, v);
}

static bool varint_get(const uint8_t **p, const uint8_t *end, uint64_t *v) {
  *v = 0;
  for (unsigned shift = 0; shift < 64 && *p < end; shift += 7) {
    uint8_t b = *(*p)++;
    *v |= (uint64_t)(b & 0x7f) << shift;
    if (!(b & 0x80)) return true;
  }
  return false;
}

/* The payload [start, end) of top-level length-delimited field `field` (the last one). */
static bool wire_find_field(const uint8_t *buf, size_t len, uint64_t field, size_t *start,
                            size_t *end) {
  const uint8_t *p = buf, *e = buf + len;
  bool found = false;
  while (p < e) {
    uint64_t key, v;
    if (!varint_get(&p, e, &key)) return found;
    switch (key & 7) {
    case 0:
      if (!varint_get(&p, e, &v)) return found;
      break;
    case 1: p += 8; break;
    case 5: p += 4; break;
    case 2:
      if (!varint_get(&p, e, &v) || v > (uint64_t)(e - p)) return found;
      if (key >> 3 == field) {
        *start = (size_t)(p - buf);
        *end = *start + (size_t)v;
        found = true;
      }
      p += v;
      break;
    default: return found;
    }
    if (p > e) return found;
  }
  return found;
}

/* A chain of n nested length-delimited fields: header i is fields[i] around the rest, the
 * innermost message is empty. Written front to back once the payload lengths are known. */
static uint8_t *wire_chain(const uint32_t *fields, size_t n, size_t *len) {
  uint64_t *payload = malloc((n + 1) * sizeof *payload); /* bytes after header i */
  if (!payload) die("out of memory");
  payload[n - 1] = 0;
  for (size_t i = n - 1; i-- > 0;)
    payload[i] = varint_size((uint64_t)fields[i + 1] << 3 | 2) + varint_size(payload[i + 1]) +
                 payload[i + 1];
  size_t total = varint_size((uint64_t)fields[0] << 3 | 2) + varint_size(payload[0]) + payload[0];
  uint8_t *buf = malloc(total), *p = buf;
  if (!buf) die("out of memory");
  for (size_t i = 0; i < n; i++) {
    p += varint_put(p, (uint64_t)fields[i] << 3 | 2);
    p += varint_put(p, payload[i]);
  }
  *len = (size_t)(p - buf);
  free(payload);
  return buf;
}

/* ---- walking the unpacked model ---- */

static bool tensor_has_elements(const Onnx__TensorProto *t) {
  for (size_t i = 0; i < t->n_dims; i++)
    if (t->dims[i] <= 0) return false;
  return true;
}

/* Every tensor of the main graph with at least one element (an empty one stays empty whatever
 * its other dims say): initializers and the tensors of node attributes. */
static size_t model_tensors(Onnx__GraphProto *gp, Onnx__TensorProto **out, size_t max) {
  size_t n = 0;
  for (size_t i = 0; i < gp->n_initializer && n < max; i++)
    if (tensor_has_elements(gp->initializer[i])) out[n++] = gp->initializer[i];
  for (size_t i = 0; i < gp->n_node; i++)
    for (size_t k = 0; k < gp->node[i]->n_attribute && n < max; k++)
      if (gp->node[i]->attribute[k]->t && tensor_has_elements(gp->node[i]->attribute[k]->t))
        out[n++] = gp->node[i]->attribute[k]->t;
  return n;
}

static Onnx__ModelProto *unpack_seed(const uint8_t *buf, size_t len, const char *path) {
  Onnx__ModelProto *mp = onnx__model_proto__unpack(NULL, len, buf);
  if (!mp || !mp->graph) die("%s: not an ONNX model", path);
  return mp;
}

/* Dims of one tensor replaced by `dims` (restored afterwards). */
static void gen_dims(struct gen *g, const char *cat, Onnx__ModelProto *mp, Onnx__TensorProto *t,
                     int64_t *dims, size_t n_dims) {
  int64_t *saved = t->dims;
  size_t saved_n = t->n_dims;
  t->dims = dims;
  t->n_dims = n_dims;
  gen_emit_model(g, cat, mp);
  t->dims = saved;
  t->n_dims = saved_n;
}

static void gen_dims_all(struct gen *g, Onnx__ModelProto *mp) {
  Onnx__TensorProto *tensors[64];
  size_t n = model_tensors(mp->graph, tensors, 64);
  if (!n) return;
  for (int v = 0; v < PER_SEED; v++) {
    Onnx__TensorProto *t = tensors[gen_below(g, n)];
    int64_t dims[8];
    size_t nd = t->n_dims < 6 ? t->n_dims : 6;
    /* wrong: one more element than the data holds (or an extra dim of 3) */
    memcpy(dims, t->dims, nd * sizeof *dims);
    if (nd)
      dims[gen_below(g, nd)] += 1 + (int64_t)gen_below(g, 3);
    else
      dims[0] = 3;
    gen_dims(g, "dims_wrong", mp, t, dims, nd ? nd : 1);
    /* negative */
    memcpy(dims, t->dims, nd * sizeof *dims);
    size_t at = gen_below(g, nd ? nd : 1);
    dims[at] = -1 - (int64_t)gen_below(g, 1000);
    if (!nd) dims[1] = -dims[0]; /* [-k, k] */
    gen_dims(g, "dims_negative", mp, t, dims, nd ? nd : 2);
    /* huge, the product fits in int64 */
    memcpy(dims, t->dims, nd * sizeof *dims);
    dims[gen_below(g, nd ? nd : 1)] = (int64_t)1 << (30 + gen_below(g, 20));
    gen_dims(g, "dims_huge", mp, t, dims, nd ? nd : 1);
    /* products that overflow int64 or the byte count; one wraps to exactly 0 bytes */
    static const int64_t overflow[][3] = {
        {(int64_t)1 << 32, (int64_t)1 << 32, 1},
        {INT64_MAX, 2, 1},
        {(int64_t)1 << 62, 4, 1},
        {(int64_t)1 << 61, 1, 8},
        {3037000500, 3037000500, 1},
        {(int64_t)1 << 40, (int64_t)1 << 20, (int64_t)1 << 10},
    };
    memcpy(dims, overflow[gen_below(g, 6)], 3 * sizeof *dims);
    gen_dims(g, "dims_overflow", mp, t, dims, 3);
  }
}

/* Nodes whose output 0 another node's input 0 reads: i reads j's output. */
static void gen_cycles(struct gen *g, Onnx__ModelProto *mp) {
  Onnx__GraphProto *gp = mp->graph;
  int made = 0;
  for (size_t i = 0; i < gp->n_node && made < PER_SEED; i++) {
    Onnx__NodeProto *reader = gp->node[i];
    for (size_t k = 0; k < reader->n_input && made < PER_SEED; k++) {
      for (size_t j = 0; j < gp->n_node; j++) {
        Onnx__NodeProto *writer = gp->node[j];
        if (j == i || !writer->n_output || !writer->n_input ||
            strcmp(writer->output[0], reader->input[k]) != 0 || !reader->n_output ||
            !*reader->output[0])
          continue;
        /* writer now reads what reader writes: writer → reader → writer */
        char *saved = writer->input[0];
        writer->input[0] = reader->output[0];
        gen_emit_model(g, "cycle", mp);
        writer->input[0] = saved;
        made++;
        break;
      }
    }
  }
  /* a node reading its own output */
  if (gp->n_node && gp->node[0]->n_input && gp->node[0]->n_output && *gp->node[0]->output[0]) {
    Onnx__NodeProto *n = gp->node[0];
    char *saved = n->input[0];
    n->input[0] = n->output[0];
    gen_emit_model(g, "cycle", mp);
    n->input[0] = saved;
  }
}

static void gen_dangling(struct gen *g, Onnx__ModelProto *mp) {
  Onnx__GraphProto *gp = mp->graph;
  char name[64];
  for (int v = 0; v < PER_SEED - 1 && gp->n_node; v++) {
    Onnx__NodeProto *n = gp->node[gen_below(g, gp->n_node)];
    if (!n->n_input) continue;
    size_t k = gen_below(g, n->n_input);
    char *saved = n->input[k];
    snprintf(name, sizeof name, "dangling_%d", v);
    n->input[k] = name;
    gen_emit_model(g, "dangling", mp);
    n->input[k] = saved;
  }
  if (gp->n_output) {
    char *saved = gp->output[0]->name;
    gp->output[0]->name = (char *)"no_such_value";
    gen_emit_model(g, "dangling", mp);
    gp->output[0]->name = saved;
  }
}

static void gen_duplicates(struct gen *g, Onnx__ModelProto *mp) {
  Onnx__GraphProto *gp = mp->graph;
  /* two nodes writing one name */
  if (gp->n_node >= 2) {
    for (int v = 0; v < 2; v++) {
      size_t i = gen_below(g, gp->n_node), j = gen_below(g, gp->n_node - 1);
      if (j >= i) j++;
      Onnx__NodeProto *a = gp->node[i], *b = gp->node[j];
      if (!a->n_output || !b->n_output || !*b->output[0]) continue;
      char *saved = a->output[0];
      a->output[0] = b->output[0];
      gen_emit_model(g, "duplicate", mp);
      a->output[0] = saved;
    }
  }
  /* a node writing a graph input's or an initializer's name */
  const char *taken[2] = {gp->n_input ? gp->input[0]->name : NULL,
                          gp->n_initializer ? gp->initializer[0]->name : NULL};
  for (int v = 0; v < 2; v++) {
    if (!taken[v] || !*taken[v] || !gp->n_node) continue;
    Onnx__NodeProto *n = gp->node[gen_below(g, gp->n_node)];
    if (!n->n_output) continue;
    char *saved = n->output[0];
    n->output[0] = (char *)taken[v];
    gen_emit_model(g, "duplicate", mp);
    n->output[0] = saved;
  }
}

/* The declared type of an attribute changed to one whose field the attribute does not hold,
 * or to a number ONNX does not define. */
static void gen_attr_types(struct gen *g, Onnx__ModelProto *mp) {
  Onnx__AttributeProto *attrs[256];
  size_t n = 0;
  Onnx__GraphProto *gp = mp->graph;
  for (size_t i = 0; i < gp->n_node; i++)
    for (size_t k = 0; k < gp->node[i]->n_attribute && n < 256; k++)
      attrs[n++] = gp->node[i]->attribute[k];
  if (!n) return;
  for (int v = 0; v < PER_SEED + 2; v++) {
    Onnx__AttributeProto *ap = attrs[gen_below(g, n)];
    int target;
    switch (v % 3) {
    case 0: target = ap->t ? ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH
                           : ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR; break;
    case 1: target = ap->g ? ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TYPE_PROTO
                           : ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH; break;
    default: target = 17 + (int)gen_below(g, 1000); break; /* not an ONNX attribute type */
    }
    protobuf_c_boolean saved_has = ap->has_type;
    Onnx__AttributeProto__AttributeType saved = ap->type;
    ap->has_type = 1;
    ap->type = (Onnx__AttributeProto__AttributeType)target;
    gen_emit_model(g, "attr_type", mp);
    ap->has_type = saved_has;
    ap->type = saved;
  }
}

static void gen_bitflips(struct gen *g, const uint8_t *buf, size_t len) {
  uint8_t *copy = malloc(len);
  if (!copy) die("out of memory");
  for (int v = 0; v < BITFLIPS_PER_SEED; v++) {
    memcpy(copy, buf, len);
    int flips = 1 + (int)gen_below(g, 8);
    for (int f = 0; f < flips; f++) {
      size_t bit = gen_below(g, len * 8);
      copy[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    gen_emit(g, "bitflip", "any", copy, len);
  }
  free(copy);
}

/* Cut inside the graph field: its length prefix then promises bytes the file lacks. */
static void gen_truncations(struct gen *g, const uint8_t *buf, size_t len) {
  size_t start, end;
  if (!wire_find_field(buf, len, 7, &start, &end) || end - start < 2) return;
  for (int v = 0; v < TRUNCATIONS_PER_SEED; v++)
    gen_emit(g, "truncate", "fail", buf, start + 1 + gen_below(g, end - start - 1));
}

/* ---- nesting ---- */

static void gen_nesting(struct gen *g) {
  /* ModelProto.graph(7) GraphProto.node(1) NodeProto.attribute(5) AttributeProto.g(6) ...:
   * `depth` subgraphs, each (node, attribute, graph), ending on an empty node. */
  static const size_t graph_depths[] = {65, 70, 100, 170, 171, 172, 200, 1000, 10000, 100000,
                                        1000000};
  for (size_t i = 0; i < sizeof graph_depths / sizeof *graph_depths; i++) {
    size_t levels = 1 + 3 * graph_depths[i] + 1;
    uint32_t *seq = malloc(levels * sizeof *seq);
    if (!seq) die("out of memory");
    seq[0] = 7;
    for (size_t k = 1; k < levels; k++) seq[k] = (uint32_t[]){1, 5, 6}[(k - 1) % 3];
    size_t len;
    uint8_t *buf = wire_chain(seq, levels, &len);
    free(seq);
    gen_emit(g, "nesting", "fail", buf, len);
    free(buf);
  }
  /* ModelProto.graph(7) GraphProto.input(11) ValueInfoProto.type(2) TypeProto.sequence_type(4)
   * Sequence.elem_type(1) TypeProto.sequence_type(4) ... */
  static const size_t type_depths[] = {66, 100, 300, 1000, 100000, 2000000};
  for (size_t i = 0; i < sizeof type_depths / sizeof *type_depths; i++) {
    size_t levels = 3 + 2 * type_depths[i];
    uint32_t *seq = malloc(levels * sizeof *seq);
    if (!seq) die("out of memory");
    seq[0] = 7;
    seq[1] = 11;
    seq[2] = 2;
    for (size_t k = 3; k < levels; k++) seq[k] = (k - 3) % 2 == 0 ? 4 : 1;
    size_t len;
    uint8_t *buf = wire_chain(seq, levels, &len);
    free(seq);
    gen_emit(g, "nesting", "fail", buf, len);
    free(buf);
  }
  /* Nested Ifs built as messages: 70 levels, each If's then_branch holding the next If. */
  Onnx__GraphProto *graphs = calloc(71, sizeof *graphs);
  Onnx__NodeProto *nodes = calloc(71, sizeof *nodes);
  Onnx__AttributeProto *attrs = calloc(71 * 2, sizeof *attrs);
  Onnx__NodeProto **node_ptrs = calloc(71, sizeof *node_ptrs);
  Onnx__AttributeProto **attr_ptrs = calloc(71 * 2, sizeof *attr_ptrs);
  Onnx__ValueInfoProto out_vi = ONNX__VALUE_INFO_PROTO__INIT, *out_ptr = &out_vi;
  Onnx__ValueInfoProto in_vi = ONNX__VALUE_INFO_PROTO__INIT, *in_ptr = &in_vi;
  Onnx__OperatorSetIdProto opset = ONNX__OPERATOR_SET_ID_PROTO__INIT, *opset_ptr = &opset;
  char *cond = (char *)"cond", *y = (char *)"y";
  if (!graphs || !nodes || !attrs || !node_ptrs || !attr_ptrs) die("out of memory");
  out_vi.name = y;
  in_vi.name = cond;
  opset.has_version = 1;
  opset.version = 13;
  for (int level = 70; level >= 0; level--) {
    onnx__graph_proto__init(&graphs[level]);
    onnx__node_proto__init(&nodes[level]);
    graphs[level].name = (char *)"g";
    graphs[level].n_node = 1;
    graphs[level].node = &node_ptrs[level];
    node_ptrs[level] = &nodes[level];
    graphs[level].n_output = 1;
    graphs[level].output = &out_ptr;
    nodes[level].op_type = (char *)(level == 70 ? "Identity" : "If");
    nodes[level].n_input = 1;
    nodes[level].input = &cond;
    nodes[level].n_output = 1;
    nodes[level].output = &y;
    if (level < 70) {
      for (int b = 0; b < 2; b++) {
        Onnx__AttributeProto *ap = &attrs[level * 2 + b];
        onnx__attribute_proto__init(ap);
        ap->name = (char *)(b ? "else_branch" : "then_branch");
        ap->has_type = 1;
        ap->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH;
        ap->g = &graphs[b ? 70 : level + 1]; /* else: the leaf (two nested copies: 2^70) */
        attr_ptrs[level * 2 + b] = ap;
      }
      nodes[level].n_attribute = 2;
      nodes[level].attribute = &attr_ptrs[level * 2];
    }
  }
  graphs[0].n_input = 1;
  graphs[0].input = &in_ptr;
  Onnx__ModelProto mp = ONNX__MODEL_PROTO__INIT;
  mp.has_ir_version = 1;
  mp.ir_version = 8;
  mp.graph = &graphs[0];
  mp.n_opset_import = 1;
  mp.opset_import = &opset_ptr;
  gen_emit_model(g, "nesting", &mp);
  free(graphs);
  free(nodes);
  free(attrs);
  free(node_ptrs);
  free(attr_ptrs);
}

/* ---- external data ---- */

struct ext_case {
  const char *location, *offset, *length;
  const char *setup; /* what to put beside the model: see gen_external_setup */
};

/* Files and links in the case folder `dir`; `outside` is a file outside it. */
static void gen_external_setup(const char *dir, const char *setup, const char *outside,
                               const void *data, size_t len) {
  char path[4200];
  if (strstr(setup, "data")) {
    snprintf(path, sizeof path, "%s/w.bin", dir);
    write_file(path, data, len);
  }
  if (strstr(setup, "link")) {
    snprintf(path, sizeof path, "%s/link.bin", dir);
    if (symlink(outside, path) != 0) die("%s: %s", path, strerror(errno));
  }
  if (strstr(setup, "dirlink")) {
    char target[4200];
    snprintf(target, sizeof target, "%s", outside);
    *strrchr(target, '/') = '\0';
    snprintf(path, sizeof path, "%s/dirlink", dir);
    if (symlink(target, path) != 0) die("%s: %s", path, strerror(errno));
  }
  if (strstr(setup, "fifo")) {
    snprintf(path, sizeof path, "%s/fifo", dir);
    if (mkfifo(path, 0600) != 0) die("%s: %s", path, strerror(errno));
  }
  if (strstr(setup, "subdir")) {
    snprintf(path, sizeof path, "%s/sub", dir);
    mkdir(path, 0777);
  }
}

static void gen_external(struct gen *g, Onnx__ModelProto *mp) {
  Onnx__GraphProto *gp = mp->graph;
  Onnx__TensorProto *t = NULL;
  for (size_t i = 0; i < gp->n_initializer && !t; i++)
    if (gp->initializer[i]->has_raw_data && gp->initializer[i]->raw_data.len >= 16)
      t = gp->initializer[i];
  if (!t) die("the external-data seed needs an initializer with raw_data");
  size_t n = t->raw_data.len;
  char len_s[32], past_s[32], short_s[32];
  snprintf(len_s, sizeof len_s, "%zu", n);
  snprintf(past_s, sizeof past_s, "%zu", n + 1);
  snprintf(short_s, sizeof short_s, "%zu", n - 4);
  /* A file outside every case folder, holding the right bytes. */
  char outside[4200];
  snprintf(outside, sizeof outside, "%s/outside/w.bin", g->out);
  char outside_dir[4200];
  snprintf(outside_dir, sizeof outside_dir, "%s/outside", g->out);
  mkdir(outside_dir, 0777);
  write_file(outside, t->raw_data.data, n);
  const struct ext_case cases[] = {
      {"../../outside/w.bin", "0", len_s, "data"},
      {"sub/../../../outside/w.bin", "0", len_s, "data subdir"},
      {outside, "0", len_s, "data"},               /* absolute */
      {"/etc/hostname", NULL, NULL, "data"},       /* absolute, a system file */
      {"link.bin", "0", len_s, "data link"},       /* a symlink pointing outside */
      {"dirlink/w.bin", "0", len_s, "data dirlink"}, /* through a linked folder */
      {"w.bin", "1", len_s, "data"},               /* offset + length past the end */
      {"w.bin", "0", past_s, "data"},              /* length past the end */
      {"w.bin", "99999999", NULL, "data"},         /* offset past the end */
      {"w.bin", "4611686018427387904", "4611686018427387904", "data"}, /* 2^62 + 2^62 */
      {"w.bin", "9223372036854775807", "1", "data"},
      {"w.bin", "0", short_s, "data"},             /* fewer bytes than the dims need */
      {"w.bin", "-5", NULL, "data"},
      {"w.bin", "abc", NULL, "data"},
      {"w.bin", "0", "", "data"},
      {"w.bin", "0", "99999999999999999999999", "data"}, /* past int64 */
      {"missing.bin", NULL, NULL, "data"},
      {"", NULL, NULL, "data"},
      {".", NULL, NULL, "data"},                   /* a folder */
      {"sub", NULL, NULL, "data subdir"},
      {"fifo", NULL, NULL, "data fifo"},           /* would block a plain open() */
      {"/dev/zero", "0", len_s, "data"},
      {NULL, "0", len_s, "data"},                  /* no location at all */
  };
  /* Keep the original fields to restore them. */
  ProtobufCBinaryData raw = t->raw_data;
  protobuf_c_boolean has_raw = t->has_raw_data;
  for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
    Onnx__StringStringEntryProto entries[3], *ptrs[3];
    size_t ne = 0;
    const char *keys[3] = {"location", "offset", "length"};
    const char *values[3] = {cases[c].location, cases[c].offset, cases[c].length};
    for (int k = 0; k < 3; k++) {
      if (!values[k]) continue;
      onnx__string_string_entry_proto__init(&entries[ne]);
      entries[ne].key = (char *)keys[k];
      entries[ne].value = (char *)values[k];
      ptrs[ne] = &entries[ne];
      ne++;
    }
    t->has_raw_data = 0;
    t->raw_data = (ProtobufCBinaryData){0, NULL};
    t->has_data_location = 1;
    t->data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
    t->n_external_data = ne;
    t->external_data = ptrs;
    size_t len = onnx__model_proto__get_packed_size(mp);
    uint8_t *buf = malloc(len);
    if (!buf) die("out of memory");
    onnx__model_proto__pack(mp, buf);
    char dir[4096], path[4200];
    gen_case_dir(g, "external", dir);
    gen_external_setup(dir, cases[c].setup, outside, raw.data, raw.len);
    snprintf(path, sizeof path, "%s/model.onnx", dir);
    write_file(path, buf, len);
    gen_record(g, "external", "fail", path);
    free(buf);
  }
  t->raw_data = raw;
  t->has_raw_data = has_raw;
  t->has_data_location = 0;
  t->n_external_data = 0;
  t->external_data = NULL;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: gen_corrupt OUTDIR SEED.onnx...\n");
    return 2;
  }
  struct gen g = {.out = argv[1], .rng = 8};
  if (mkdir(g.out, 0777) != 0 && errno != EEXIST) die("%s: %s", g.out, strerror(errno));
  char path[4200];
  snprintf(path, sizeof path, "%s/manifest.txt", g.out);
  if (!(g.manifest = fopen(path, "w"))) die("%s: %s", path, strerror(errno));
  bool external_done = false;
  for (int i = 2; i < argc; i++) {
    size_t len;
    uint8_t *buf = read_file(argv[i], &len);
    Onnx__ModelProto *mp = unpack_seed(buf, len, argv[i]);
    gen_bitflips(&g, buf, len);
    gen_truncations(&g, buf, len);
    gen_dims_all(&g, mp);
    gen_cycles(&g, mp);
    gen_dangling(&g, mp);
    gen_duplicates(&g, mp);
    gen_attr_types(&g, mp);
    if (!external_done && mp->graph->n_initializer) {
      bool has_raw = false;
      for (size_t k = 0; k < mp->graph->n_initializer; k++)
        has_raw |= mp->graph->initializer[k]->has_raw_data &&
                   mp->graph->initializer[k]->raw_data.len >= 16;
      if (has_raw) {
        gen_external(&g, mp);
        external_done = true;
      }
    }
    onnx__model_proto__free_unpacked(mp, NULL);
    free(buf);
  }
  gen_nesting(&g);
  if (fclose(g.manifest) != 0) die("%s: write failed", path);
  printf("gen_corrupt: %zu models\n", g.total);
  return 0;
}
