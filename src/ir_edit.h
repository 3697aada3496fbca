/* Editing helpers the passes share. */
#ifndef TQT_IR_EDIT_H
#define TQT_IR_EDIT_H

#include "ir.h"
#include "ir_names.h"

/* Deep copies (names, attributes, nested subgraphs; tensor data shared). Subgraphs of the copy get
 * `owner` as their parent. NULL when out of memory. */
struct tqt_node *tqt_node_clone(struct tqt_arena *a, const struct tqt_node *n,
                                struct tqt_graph *owner);
struct tqt_graph *tqt_graph_clone(struct tqt_arena *a, const struct tqt_graph *g,
                                  struct tqt_graph *parent);
/* A model of its own holding a copy of m's main graph, opsets and metadata (tensor data and
 * strings shared: m must outlive it and not change its tensors' bytes), for a rewrite that must
 * leave m as it is (Q/DQ inserted into one of them). NULL when out of memory. */
struct tqt_model *tqt_model_clone(const struct tqt_model *m);

/* Renames, through map (old name → new name, values are const char *), the inputs and outputs
 * of these nodes and the uses of those names inside their subgraphs (where a subgraph does not
 * define the name itself). Returns 0 or -1 when out of memory. */
int tqt_nodes_rename(struct tqt_arena *a, struct tqt_node **nodes, size_t n,
                     const struct tqt_name_map *map);
/* Renames the uses (node inputs, also in nested subgraphs) in g of names g does not define. */
int tqt_graph_rename_uses(struct tqt_arena *a, struct tqt_graph *g,
                          const struct tqt_name_map *map);

/* Replaces node `at` of g by the n given nodes (n may be 0). Returns 0 or -1. */
int tqt_graph_nodes_splice(struct tqt_arena *a, struct tqt_graph *g, size_t at,
                           struct tqt_node *const *nodes, size_t n);
/* Drops the nodes whose remove[i] is set, keeping the order of the rest. */
void tqt_graph_nodes_compact(struct tqt_graph *g, const bool *remove);
/* The node of g (not of its subgraphs) that writes `name`, or NULL: a scan, for a few lookups. */
struct tqt_node *tqt_graph_producer(const struct tqt_graph *g, const char *name);
/* The initializer of g called name that no input of g overrides, or NULL. */
struct tqt_tensor *tqt_graph_constant(const struct tqt_graph *g, const char *name);
/* The type g declares for a value (its inputs, value_info, outputs), or NULL. */
const struct tqt_type *tqt_graph_value_type(const struct tqt_graph *g, const char *name);
/* How many node inputs of g and of its subgraphs read name, plus one if it is an output of g. */
size_t tqt_graph_readers(const struct tqt_graph *g, const char *name);

/* The one node of g that reads name, its index in *index, when nothing else does (no other
 * node, no body, not a graph output); NULL otherwise. */
struct tqt_node *tqt_graph_only_reader(const struct tqt_graph *g, const char *name, size_t *index);

/* Every value and node name of the model (all graphs and functions) into used. 0 or -1. */
int tqt_names_collect(struct tqt_model *m, struct tqt_name_map *used);
/* stem, or stem_1, stem_2, ... whichever is not in used yet; recorded in used. NULL on OOM. */
const char *tqt_name_fresh(struct tqt_arena *a, struct tqt_name_map *used, const char *stem);

#endif
