/* onnx-tqt: the public header of the library behind the onnx-tqt command. */
#ifndef TQT_H
#define TQT_H

#include "arena.h"
#include "diag.h"
#include "ir.h"
#include "interp.h"
#include "onnx_io.h"

#endif
