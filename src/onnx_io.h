/* ONNX files ⇄ IR. The only public entry points that know the file format. */
#ifndef TQT_ONNX_IO_H
#define TQT_ONNX_IO_H

#include <stdbool.h>
#include <stddef.h>

#include "ir.h"

/* Deepest nesting of subgraphs (If/Loop/Scan bodies) the loader accepts. */
#define TQT_GRAPH_DEPTH_MAX 64

/* Loads an ONNX model file. External data stays on disk until tqt_tensor_data() asks for it.
 * On failure *out is NULL and d names the file and what was wrong. */
enum tqt_status tqt_model_load(const char *path, struct tqt_model **out, struct tqt_diag *d);
/* The same from memory; base_dir resolves external data ("." when NULL), name is for messages. */
enum tqt_status tqt_model_load_buffer(const void *buf, size_t len, const char *name,
                                      const char *base_dir, struct tqt_model **out,
                                      struct tqt_diag *d);

/* Loads a serialized TensorProto file (the ONNX test-data input_K.pb / output_K.pb form) into a
 * tensor carved from arena; external data resolves against the file's folder. */
enum tqt_status tqt_tensor_load(const char *path, struct tqt_arena *a, struct tqt_tensor **out,
                                struct tqt_diag *d);

struct tqt_value;

/* Loads a serialized SequenceProto or OptionalProto file (the ONNX test-data form of sequence
 * and optional values; `type`, a sequence or optional type, says which) into out, which owns
 * its data until tqt_value_release(). A sequence of tensors becomes a SEQUENCE value (an empty
 * one takes its element type from `type`), an optional its content: a tensor, a sequence, or
 * kind NONE when empty. Sequences of sequences, maps and sparse tensors are UNSUPPORTED. */
enum tqt_status tqt_value_load(const char *path, const struct tqt_type *type,
                               struct tqt_value *out, struct tqt_diag *d);

/* The tensor's bytes, reading external data on first use (from 64 KiB on mapped from the file,
 * copy on write, until the arena is destroyed: the file must stay in place and unchanged
 * meanwhile; smaller tensors are copied into the arena).
 * NULL and a diagnostic naming tensor and file on failure. */
const void *tqt_tensor_data(struct tqt_tensor *t, struct tqt_arena *a, struct tqt_diag *d);

enum tqt_external_mode {
  TQT_EXTERNAL_AUTO = 0, /* external data only when the model would pass protobuf's 2 GB limit */
  TQT_EXTERNAL_ALWAYS,   /* tensors of at least external_min_bytes go to OUT.data */
  TQT_EXTERNAL_NEVER,
};

struct tqt_save_options {
  enum tqt_external_mode external;
  size_t external_min_bytes; /* 0 means 1024 */
};

/* Writes the model to a temporary file beside path and renames it into place, so a failure leaves
 * no partial file. External data (if any) goes to "<basename of path>.data" in the same folder. */
enum tqt_status tqt_model_save(struct tqt_model *m, const char *path,
                               const struct tqt_save_options *o, struct tqt_diag *d);

#endif
