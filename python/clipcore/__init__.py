"""clipcore for Python: a ctypes binding of libclipcore.so (CLIP, SigLIP, ELIP).

NumPy arrays in and out; every failure raises ClipError carrying the library's
message (clip_last_error) and status code.

    import clipcore
    model = clipcore.Model("path/to/model-folder")
    texts = model.encode_texts(["a photo of a cat"])        # (1, dim) float32
    images = model.encode_image_files(["cat.png"])            # (1, dim)
    ids, scores = clipcore.mine(images, texts, k=1)
    elip = model.elip("mapper.safetensors")
    scores, order = elip.rerank("a photo of a cat", ["a.png", "b.png"])

The library is found through $CLIPCORE_LIB, then beside this file, then the
repository's build folder (.build-lib/release), then the system loader. Importing
raises ImportError when that library's clip_abi_version() is not ABI_VERSION, the C
ABI this binding is written for.
"""
import ctypes
import ctypes.util
import os
from pathlib import Path

import numpy as np

__all__ = ["ClipError", "Model", "ELIP", "LoadOptions", "loss", "mine", "version", "runtime_info", "status_string", "library_path", "ABI_VERSION",
           "LOSS_INFONCE", "LOSS_SIGMOID", "MODEL_CLIP", "MODEL_SIGLIP", "LINEAR_DEFAULT", "LINEAR_FLOAT32", "LINEAR_INT16"]

OK, ERR_INVALID_ARGUMENT, ERR_IO, ERR_FORMAT, ERR_SHAPE, ERR_UNSUPPORTED, ERR_OUT_OF_MEMORY, ERR_INTERNAL = 0, -1, -2, -3, -4, -5, -6, -7
LOSS_INFONCE, LOSS_SIGMOID = 0, 1
# The C ABI this binding is written for (CLIP_ABI_VERSION of include/clipcore.h); the library must match.
ABI_VERSION = 1


class ClipError(RuntimeError):
    """A failed library call: `code` is the status (CLIP_ERR_*), the message is clip_last_error()."""

    def __init__(self, code, message):
        super().__init__(f"{message} [{status_string(code)}]")
        self.code = code
        self.message = message


def _candidates():
    env = os.environ.get("CLIPCORE_LIB")
    if env:
        yield env
    here = Path(__file__).resolve().parent
    yield str(here / "libclipcore.so")
    for root in (here, *here.parents):
        yield str(root / ".build-lib" / "release" / "libclipcore.so")
    found = ctypes.util.find_library("clipcore")
    if found:
        yield found


def _load():
    errors = []
    for path in _candidates():
        if os.path.sep in path and not os.path.exists(path):
            continue
        try:
            return ctypes.CDLL(path), path
        except OSError as e:
            errors.append(f"{path}: {e}")
    raise OSError("libclipcore.so not found (set CLIPCORE_LIB or build it with scripts/build-lib.sh)"
                  + ("; " + "; ".join(errors) if errors else ""))


def _check_abi(lib, path):
    try:
        fn = lib.clip_abi_version
    except AttributeError:
        found = "no clip_abi_version (it is not a libclipcore.so of C ABI version 1 or later)"
    else:
        fn.restype, fn.argtypes = _c.c_int32, []
        abi = fn()
        if abi == ABI_VERSION:
            return
        found = f"C ABI version {abi}"
    raise ImportError(f"{path} has {found}, but this clipcore binding ({__file__}) is written for C ABI version "
                      f"{ABI_VERSION}: use the library and binding of one clipcore release "
                      "(rebuild with scripts/build-lib.sh, or set CLIPCORE_LIB to the matching library)")


_c = ctypes
_lib, library_path = _load()
_check_abi(_lib, library_path)
_fp, _i64p, _u8p = _c.POINTER(_c.c_float), _c.POINTER(_c.c_int64), _c.POINTER(_c.c_uint8)
_strs = _c.POINTER(_c.c_char_p)
for name, res, args in [
    ("clip_version", _c.c_char_p, []),
    ("clip_runtime_info", _c.c_char_p, []),
    ("clip_last_error", _c.c_char_p, []),
    ("clip_status_string", _c.c_char_p, [_c.c_int]),
    ("clip_model_load", _c.c_int, [_c.c_char_p, _c.POINTER(_c.c_void_p)]),
    ("clip_model_free", None, [_c.c_void_p]),
    ("clip_model_embed_dim", _c.c_int, [_c.c_void_p]),
    ("clip_encode_texts", _c.c_int, [_c.c_void_p, _strs, _c.c_int64, _fp]),
    ("clip_encode_image_files", _c.c_int, [_c.c_void_p, _strs, _c.c_int64, _fp]),
    ("clip_encode_rgb8", _c.c_int, [_c.c_void_p, _u8p, _c.c_int64, _c.c_int32, _c.c_int32, _fp]),
    ("clip_loss", _c.c_int, [_c.c_int, _fp, _fp, _c.c_int64, _c.c_int64, _c.c_float, _c.c_float, _fp, _fp, _fp]),
    ("clip_mine", _c.c_int, [_fp, _c.c_int64, _fp, _c.c_int64, _c.c_int64, _c.c_int64, _i64p, _fp]),
    ("clip_elip_load", _c.c_int, [_c.c_void_p, _c.c_char_p, _c.POINTER(_c.c_void_p)]),
    ("clip_elip_free", None, [_c.c_void_p]),
    ("clip_rerank", _c.c_int, [_c.c_void_p, _c.c_char_p, _strs, _c.c_int64, _fp, _i64p]),
    ("clip_linear_precision", _c.c_int32, []),
    ("clip_set_linear_precision", _c.c_int, [_c.c_int32]),
    ("clip_model_kind", _c.c_int, [_c.c_void_p, _c.POINTER(_c.c_int32)]),
    ("clip_model_embedding_dim", _c.c_int, [_c.c_void_p, _c.POINTER(_c.c_int32)]),
    ("clip_model_image_size", _c.c_int, [_c.c_void_p, _c.POINTER(_c.c_int32)]),
    ("clip_model_context_length", _c.c_int, [_c.c_void_p, _c.POINTER(_c.c_int32)]),
    ("clip_model_linear_precision", _c.c_int, [_c.c_void_p, _c.POINTER(_c.c_int32)]),
    ("clip_model_load_ex", _c.c_int, [_c.c_char_p, _c.c_void_p, _c.POINTER(_c.c_void_p)]),
    ("clip_num_threads", _c.c_int32, []),
    ("clip_set_num_threads", _c.c_int32, [_c.c_int32]),
]:
    fn = getattr(_lib, name)
    fn.restype, fn.argtypes = res, args
raw = _lib  # the functions themselves, for callers that need the C signatures


def _check(rc):
    if rc < 0:
        raise ClipError(rc, _lib.clip_last_error().decode("utf-8", "replace"))
    return rc


def _cstrings(items):
    encoded = [s.encode("utf-8") if isinstance(s, str) else os.fsencode(s) for s in items]
    return (_c.c_char_p * len(encoded))(*encoded)


def _f32(a, name, ndim=2):
    a = np.ascontiguousarray(a, dtype=np.float32)
    if a.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-dimensional, got shape {a.shape}")
    return a


def version():
    """The library version, 'MAJOR.MINOR.PATCH'."""
    return _lib.clip_version().decode()


def runtime_info():
    """What computes the numbers: clipcore's kernel path, the OpenBLAS kernel, thread counts."""
    return _lib.clip_runtime_info().decode()


def status_string(code):
    """The library's description of a status code ('ok', 'invalid argument', 'I/O error', ...);
    'unknown status' for a value that is no status code."""
    code = int(code)
    if not -2**31 <= code < 2**31:
        return "unknown status"
    return _lib.clip_status_string(code).decode()


MODEL_CLIP, MODEL_SIGLIP = 1, 2   # clip_model_kind (CLIP_MODEL_*)
LINEAR_DEFAULT = -1               # a handle that follows the process-wide precision (CLIP_LINEAR_DEFAULT)


class LoadOptions(_c.Structure):
    """clip_load_options of include/clipcore.h."""
    _fields_ = [("struct_size", _c.c_uint32), ("num_threads", _c.c_int32), ("linear_precision", _c.c_int32)]


class Model:
    """A CLIP or SigLIP folder in Hugging Face layout. Safe to share between threads.

    num_threads: None keeps the thread count; n > 0 sets it for the whole process (it is not
    per model). linear_precision: None follows the process-wide precision (set_linear_precision);
    LINEAR_FLOAT32 or LINEAR_INT16 pins this model's calls to it.
    """

    def __init__(self, directory, num_threads=None, linear_precision=None):
        handle = _c.c_void_p()
        opts = LoadOptions(_c.sizeof(LoadOptions), 0 if num_threads is None else num_threads,
                           LINEAR_DEFAULT if linear_precision is None else linear_precision)
        _check(_lib.clip_model_load_ex(os.fsencode(directory), _c.byref(opts), _c.byref(handle)))
        self._handle = handle
        self.dim = self._int(_lib.clip_model_embedding_dim)

    def _int(self, fn):
        value = _c.c_int32()
        _check(fn(self._ptr(), _c.byref(value)))
        return value.value

    @property
    def kind(self):
        """MODEL_CLIP or MODEL_SIGLIP."""
        return self._int(_lib.clip_model_kind)

    @property
    def embedding_dim(self):
        """Floats per embedding (the same as `dim`)."""
        return self._int(_lib.clip_model_embedding_dim)

    @property
    def image_size(self):
        """Side of the square images the vision tower takes."""
        return self._int(_lib.clip_model_image_size)

    @property
    def context_length(self):
        """Text context length in tokens (longer texts are truncated)."""
        return self._int(_lib.clip_model_context_length)

    @property
    def linear_precision(self):
        """This model's own precision (LINEAR_FLOAT32 / LINEAR_INT16), or LINEAR_DEFAULT."""
        return self._int(_lib.clip_model_linear_precision)

    def close(self):
        if getattr(self, "_handle", None):
            _lib.clip_model_free(self._handle)
            self._handle = None

    def __del__(self):
        self.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _ptr(self):
        if not self._handle:
            raise ClipError(ERR_INVALID_ARGUMENT, "the model is closed")
        return self._handle

    def encode_texts(self, texts):
        """(n, dim) float32 L2-normalised text embeddings."""
        texts = list(texts)
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        _check(_lib.clip_encode_texts(self._ptr(), _cstrings(texts), len(texts), out.ctypes.data_as(_fp)))
        return out

    def encode_image_files(self, paths):
        """(n, dim) float32 embeddings of PNG or JPEG files (recognised by content)."""
        paths = list(paths)
        out = np.empty((len(paths), self.dim), dtype=np.float32)
        _check(_lib.clip_encode_image_files(self._ptr(), _cstrings(paths), len(paths), out.ctypes.data_as(_fp)))
        return out

    def encode_rgb8(self, pixels):
        """(n, dim) embeddings of uint8 images shaped (n, H, W, 3) or (H, W, 3)."""
        a = np.ascontiguousarray(pixels, dtype=np.uint8)
        if a.ndim == 3:
            a = a[None]
        if a.ndim != 4 or a.shape[3] != 3:
            raise ValueError(f"pixels must be (n, H, W, 3) uint8, got shape {a.shape}")
        out = np.empty((a.shape[0], self.dim), dtype=np.float32)
        _check(_lib.clip_encode_rgb8(self._ptr(), a.ctypes.data_as(_u8p), a.shape[0], a.shape[1], a.shape[2],
                                     out.ctypes.data_as(_fp)))
        return out

    def elip(self, mapper_path):
        """An ELIP re-ranker from a mapper file that fits this model."""
        return ELIP(self, mapper_path)


class ELIP:
    """A prompt mapper bound to a model; re-ranks candidate images for a text query."""

    def __init__(self, model, mapper_path):
        handle = _c.c_void_p()
        _check(_lib.clip_elip_load(model._ptr(), os.fsencode(mapper_path), _c.byref(handle)))
        self._handle = handle
        self.model = model

    def close(self):
        if getattr(self, "_handle", None):
            _lib.clip_elip_free(self._handle)
            self._handle = None

    def __del__(self):
        self.close()

    def rerank(self, query, image_paths):
        """(scores (n,), order (n,)): guided scores per candidate, and indices by descending score."""
        paths = list(image_paths)
        scores = np.empty(len(paths), dtype=np.float32)
        order = np.empty(len(paths), dtype=np.int64)
        _check(_lib.clip_rerank(self._handle, query.encode("utf-8"), _cstrings(paths), len(paths),
                                scores.ctypes.data_as(_fp), order.ctypes.data_as(_i64p)))
        return scores, order


LINEAR_FLOAT32, LINEAR_INT16 = 0, 1


def linear_precision():
    """The linear-layer precision in force: LINEAR_FLOAT32 (default) or LINEAR_INT16."""
    return _lib.clip_linear_precision()


def set_linear_precision(precision):
    """Sets it for the process: LINEAR_INT16 encodes faster, within cosine 0.9999 of float32."""
    _check(_lib.clip_set_linear_precision(precision))


def loss(image_emb, text_emb, logit_scale, logit_bias=0.0, kind=LOSS_INFONCE):
    """(loss, grad_image, grad_text) of n matching pairs; logit_scale is the multiplier itself."""
    i, t = _f32(image_emb, "image_emb"), _f32(text_emb, "text_emb")
    if i.shape != t.shape:
        raise ValueError(f"image_emb {i.shape} and text_emb {t.shape} must have the same shape")
    value = _c.c_float()
    gi, gt = np.empty_like(i), np.empty_like(t)
    _check(_lib.clip_loss(kind, i.ctypes.data_as(_fp), t.ctypes.data_as(_fp), i.shape[0], i.shape[1],
                          logit_scale, logit_bias, _c.byref(value), gi.ctypes.data_as(_fp), gt.ctypes.data_as(_fp)))
    return value.value, gi, gt


def mine(image_emb, text_emb, k):
    """(ids (n_texts, k) int64, scores (n_texts, k) float32): each text's k best images, best first."""
    i, t = _f32(image_emb, "image_emb"), _f32(text_emb, "text_emb")
    if i.shape[1] != t.shape[1]:
        raise ValueError(f"dimensions differ: images {i.shape[1]}, texts {t.shape[1]}")
    ids = np.empty((t.shape[0], max(k, 0)), dtype=np.int64)
    scores = np.empty((t.shape[0], max(k, 0)), dtype=np.float32)
    _check(_lib.clip_mine(i.ctypes.data_as(_fp), i.shape[0], t.ctypes.data_as(_fp), t.shape[0], i.shape[1], k,
                          ids.ctypes.data_as(_i64p), scores.ctypes.data_as(_fp)))
    return ids, scores
