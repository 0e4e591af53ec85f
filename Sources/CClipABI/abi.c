// The released ABI of include/clipcore.h, pinned at compile time: enum values never change, and
// clip_load_options keeps its layout (new fields only at the end). A header edit that breaks either
// fails the build here. The module itself is the header; this file adds no code.

#include <stddef.h>

#include "clipcore.h"

_Static_assert(CLIP_OK == 0 && CLIP_ERR_INVALID_ARGUMENT == -1 && CLIP_ERR_IO == -2 && CLIP_ERR_FORMAT == -3
               && CLIP_ERR_SHAPE == -4 && CLIP_ERR_UNSUPPORTED == -5 && CLIP_ERR_OUT_OF_MEMORY == -6
               && CLIP_ERR_INTERNAL == -7, "status codes never change");
_Static_assert(CLIP_LOSS_INFONCE == 0 && CLIP_LOSS_SIGMOID == 1, "loss kinds never change");
_Static_assert(CLIP_LINEAR_DEFAULT == -1 && CLIP_LINEAR_FLOAT32 == 0 && CLIP_LINEAR_INT16 == 1
               && CLIP_LINEAR_INT8 == 2 && CLIP_LINEAR_BF16 == 3, "linear precisions never change");
_Static_assert(CLIP_PRECISION_STRICT == 0 && CLIP_PRECISION_FALLBACK == 1, "precision fallbacks never change");
_Static_assert(CLIP_MODEL_CLIP == 1 && CLIP_MODEL_SIGLIP == 2 && CLIP_MODEL_TEXT == 3 && CLIP_MODEL_DUAL_ENCODER == 4,
               "model kinds never change");
_Static_assert(CLIP_PREPROCESSING_PIL == 0 && CLIP_PREPROCESSING_TORCHVISION == 1, "preprocessings never change");
_Static_assert(CLIP_ABI_VERSION == 1, "a new ABI version is a deliberate change: update this line with it");
_Static_assert(CLIP_VERSION_NUMBER == CLIP_VERSION_MAJOR * 10000 + CLIP_VERSION_MINOR * 100 + CLIP_VERSION_PATCH
               && CLIP_VERSION_MINOR < 100 && CLIP_VERSION_PATCH < 100, "CLIP_VERSION_NUMBER encodes the version");
_Static_assert(offsetof(clip_load_options, struct_size) == 0 && offsetof(clip_load_options, num_threads) == 4
               && offsetof(clip_load_options, linear_precision) == 8 && offsetof(clip_load_options, preprocessing) == 12
               && offsetof(clip_load_options, precision_fallback) == 16,
               "clip_load_options fields keep their offsets");
_Static_assert(sizeof(clip_load_options) >= 16, "clip_load_options only grows");
