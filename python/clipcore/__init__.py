"""clipcore for Python: CLIP, SigLIP and ELIP through libclipcore.so (ctypes).

NumPy arrays in and out; every failure of the library raises ClipError, which
carries the library's message (clip_last_error) and status code.

    import clipcore
    model = clipcore.Model("path/to/model-folder")
    texts = model.encode_texts(["a photo of a cat"])      # [1, dim] float32, L2-normalised
    images = model.encode_image_files(["cat.png"])        # [1, dim] float32
    value, grad_images, grad_texts = clipcore.loss(images, texts, logit_scale=100.0)
    ids, scores = clipcore.mine(images, texts, k=1)       # [n_texts, k] int64, float32
    elip = model.elip("mapper.safetensors")
    scores, order = elip.rerank("a photo of a cat", ["a.png", "b.png"])

Which library: $CLIPCORE_LIB when it is set (and then no other); else the
libclipcore.so inside this package (`pip install ./python` builds it and puts
it there); else a repository build (.build-lib/release/libclipcore.so in a
parent folder, for a checkout used in place); else the system loader. `library_path` says which
one was loaded. Importing raises ImportError when that library's
clip_abi_version() is not ABI_VERSION, the C ABI this binding is written for.

`raw` is the loaded library itself (a ctypes.CDLL) with every clip_* function
declared (argtypes, restype) as include/clipcore.h states it: for callers who
manage their own buffers. Its functions return status codes; they raise
nothing.
"""
import ctypes as _ctypes
import os as _os
from ctypes import util as _ctypes_util
from pathlib import Path as _Path
from typing import Iterable as _Iterable
from typing import Iterator as _Iterator
from typing import Tuple as _Tuple
from typing import Optional as _Optional
from typing import Union as _Union

import numpy as _np

__all__ = [
    "Model", "ELIP", "ClipError", "LoadOptions",
    "loss", "mine", "linear_precision", "set_linear_precision",
    "version", "runtime_info", "status_string", "library_path", "raw", "ABI_VERSION",
    "OK", "ERR_INVALID_ARGUMENT", "ERR_IO", "ERR_FORMAT", "ERR_SHAPE", "ERR_UNSUPPORTED",
    "ERR_OUT_OF_MEMORY", "ERR_INTERNAL",
    "LOSS_INFONCE", "LOSS_SIGMOID", "MODEL_CLIP", "MODEL_SIGLIP", "MODEL_TEXT", "MODEL_DUAL_ENCODER",
    "LINEAR_DEFAULT", "LINEAR_FLOAT32", "LINEAR_INT16", "LINEAR_INT8", "LINEAR_BF16",
    "PREPROCESSING_PIL", "PREPROCESSING_TORCHVISION",
]

# Status codes (CLIP_OK, CLIP_ERR_* of include/clipcore.h; scripts/check-status-codes.py checks this line).
OK, ERR_INVALID_ARGUMENT, ERR_IO, ERR_FORMAT, ERR_SHAPE, ERR_UNSUPPORTED, ERR_OUT_OF_MEMORY, ERR_INTERNAL = 0, -1, -2, -3, -4, -5, -6, -7
# Pair losses of loss() (CLIP_LOSS_*).
LOSS_INFONCE, LOSS_SIGMOID = 0, 1
# Model kinds of Model.kind (CLIP_MODEL_*).
MODEL_CLIP, MODEL_SIGLIP, MODEL_TEXT, MODEL_DUAL_ENCODER = 1, 2, 3, 4
# Linear-layer precisions (CLIP_LINEAR_*): LINEAR_DEFAULT is a model that follows the process-wide one.
LINEAR_DEFAULT, LINEAR_FLOAT32, LINEAR_INT16, LINEAR_INT8, LINEAR_BF16 = -1, 0, 1, 2, 3
# Image preprocessings of Model(preprocessing=...) (CLIP_PREPROCESSING_*): PIL's (the default), or torchvision's
# (transformers 5's default CLIPImageProcessor / SiglipImageProcessor).
PREPROCESSING_PIL, PREPROCESSING_TORCHVISION = 0, 1
_PREPROCESSINGS = {"pil": PREPROCESSING_PIL, "torchvision": PREPROCESSING_TORCHVISION}
# The C ABI this binding is written for (CLIP_ABI_VERSION of include/clipcore.h); the library must match.
ABI_VERSION = 1

_PathLike = _Union[str, bytes, _os.PathLike]


class ClipError(RuntimeError):
    """A failed library call.

    code: the status code (ERR_INVALID_ARGUMENT, ERR_IO, ...; CLIP_ERR_* in C).
    message: the library's message (clip_last_error), which names the file,
    key or argument at fault. str(error) is the message followed by
    status_string(code) in brackets.
    """

    def __init__(self, code: int, message: str) -> None:
        """An error with status `code` and the library's `message`."""
        super().__init__(f"{message} [{status_string(code)}]")
        self.code = code
        self.message = message


# MARK: - Loading the library

def _candidates() -> _Iterator[str]:
    here = _Path(__file__).resolve().parent
    yield str(here / "libclipcore.so")
    for root in (here, *here.parents):
        yield str(root / ".build-lib" / "release" / "libclipcore.so")
    found = _ctypes_util.find_library("clipcore")
    if found:
        yield found


def _load() -> _Tuple[_ctypes.CDLL, str]:
    env = _os.environ.get("CLIPCORE_LIB")
    if env:
        try:
            return _ctypes.CDLL(env), env
        except OSError as e:
            raise OSError(f"CLIPCORE_LIB={env} does not load: {e}") from None
    errors = []
    for path in _candidates():
        if _os.path.sep in path and not _os.path.exists(path):
            continue
        try:
            return _ctypes.CDLL(path), path
        except OSError as e:
            errors.append(f"{path}: {e}")
    raise OSError("libclipcore.so not found (reinstall clipcore with pip install ./python from a clipcore "
                  "checkout, or set CLIPCORE_LIB to the library; scripts/build-lib.sh builds it)"
                  + ("; " + "; ".join(errors) if errors else ""))


def _check_abi(lib: _ctypes.CDLL, path: str) -> None:
    try:
        fn = lib.clip_abi_version
    except AttributeError:
        found = "no clip_abi_version (it is not a libclipcore.so of C ABI version 1 or later)"
    else:
        fn.restype, fn.argtypes = _ctypes.c_int32, []
        abi = fn()
        if abi == ABI_VERSION:
            return
        found = f"C ABI version {abi}"
    raise ImportError(f"{path} has {found}, but this clipcore binding ({__file__}) is written for C ABI version "
                      f"{ABI_VERSION}: use the library and binding of one clipcore release "
                      "(reinstall with pip install ./python, or set CLIPCORE_LIB to the matching library)")


_fp, _i64p, _u8p = _ctypes.POINTER(_ctypes.c_float), _ctypes.POINTER(_ctypes.c_int64), _ctypes.POINTER(_ctypes.c_uint8)
_i32p, _voidpp = _ctypes.POINTER(_ctypes.c_int32), _ctypes.POINTER(_ctypes.c_void_p)
_strs = _ctypes.POINTER(_ctypes.c_char_p)


def _declare(lib: _ctypes.CDLL) -> None:
    """Sets argtypes and restype of every clip_* function the binding calls, as the header declares them."""
    c = _ctypes
    for name, restype, argtypes in [
        ("clip_version", c.c_char_p, []),
        ("clip_runtime_info", c.c_char_p, []),
        ("clip_last_error", c.c_char_p, []),
        ("clip_status_string", c.c_char_p, [c.c_int]),
        ("clip_model_load", c.c_int, [c.c_char_p, _voidpp]),
        ("clip_model_load_ex", c.c_int, [c.c_char_p, c.c_void_p, _voidpp]),
        ("clip_model_free", None, [c.c_void_p]),
        ("clip_model_embed_dim", c.c_int, [c.c_void_p]),
        ("clip_model_kind", c.c_int, [c.c_void_p, _i32p]),
        ("clip_model_embedding_dim", c.c_int, [c.c_void_p, _i32p]),
        ("clip_model_image_size", c.c_int, [c.c_void_p, _i32p]),
        ("clip_model_context_length", c.c_int, [c.c_void_p, _i32p]),
        ("clip_model_linear_precision", c.c_int, [c.c_void_p, _i32p]),
        ("clip_encode_texts", c.c_int, [c.c_void_p, _strs, c.c_int64, _fp]),
        ("clip_encode_image_files", c.c_int, [c.c_void_p, _strs, c.c_int64, _fp]),
        ("clip_encode_rgb8", c.c_int, [c.c_void_p, _u8p, c.c_int64, c.c_int32, c.c_int32, _fp]),
        ("clip_loss", c.c_int, [c.c_int, _fp, _fp, c.c_int64, c.c_int64, c.c_float, c.c_float, _fp, _fp, _fp]),
        ("clip_mine", c.c_int, [_fp, c.c_int64, _fp, c.c_int64, c.c_int64, c.c_int64, _i64p, _fp]),
        ("clip_elip_load", c.c_int, [c.c_void_p, c.c_char_p, _voidpp]),
        ("clip_elip_free", None, [c.c_void_p]),
        ("clip_rerank", c.c_int, [c.c_void_p, c.c_char_p, _strs, c.c_int64, _fp, _i64p]),
        ("clip_linear_precision", c.c_int32, []),
        ("clip_set_linear_precision", c.c_int, [c.c_int32]),
        ("clip_num_threads", c.c_int32, []),
        ("clip_set_num_threads", c.c_int32, [c.c_int32]),
        ("clip_zeroshot_weights", c.c_int, [c.c_void_p, _strs, c.c_int64, _strs, c.c_int64, _fp]),
        ("clip_evaluate", c.c_int, [c.c_void_p, c.c_char_p, c.c_char_p, c.c_char_p, _strs]),
    ]:
        fn = getattr(lib, name)
        fn.restype, fn.argtypes = restype, argtypes


_lib, library_path = _load()
_check_abi(_lib, library_path)
_declare(_lib)
raw = _lib


# MARK: - Helpers

def _check(rc: int) -> int:
    if rc < 0:
        raise ClipError(rc, _lib.clip_last_error().decode("utf-8", "replace"))
    return rc


def _cstrings(items: list) -> "_ctypes.Array[_ctypes.c_char_p]":
    encoded = [s.encode("utf-8") if isinstance(s, str) else _os.fsencode(s) for s in items]
    return (_ctypes.c_char_p * len(encoded))(*encoded)


def _f32(a: _np.ndarray, name: str, ndim: int = 2) -> _np.ndarray:
    a = _np.ascontiguousarray(a, dtype=_np.float32)
    if a.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-dimensional, got shape {a.shape}")
    return a


# MARK: - The library

def version() -> str:
    """The library's version, 'MAJOR.MINOR.PATCH'."""
    return _lib.clip_version().decode()


def runtime_info() -> str:
    """What computes the numbers: clipcore's kernel path, the OpenBLAS kernel, thread counts."""
    return _lib.clip_runtime_info().decode()


def status_string(code: int) -> str:
    """The library's description of a status code ('ok', 'invalid argument', 'I/O error', ...).

    'unknown status' for a value that is no status code.
    """
    code = int(code)
    if not -2**31 <= code < 2**31:
        return "unknown status"
    return _lib.clip_status_string(code).decode()


def linear_precision() -> int:
    """The process-wide linear-layer precision: LINEAR_FLOAT32 (the default), LINEAR_INT16, LINEAR_INT8 or LINEAR_BF16."""
    return _lib.clip_linear_precision()


def set_linear_precision(precision: int) -> None:
    """Sets the process-wide linear-layer precision, for models loaded with linear_precision=None.

    LINEAR_INT16 and LINEAR_BF16 encode faster within cosine 0.9999 of
    float32, LINEAR_INT8 fastest within cosine 0.999. Raises ClipError
    ERR_INVALID_ARGUMENT for a value that is no LINEAR_* precision, and
    ERR_UNSUPPORTED for one this CPU has no kernel for (LINEAR_BF16 needs
    AVX512_BF16, LINEAR_INT8 AVX2); nothing changes then.
    """
    _check(_lib.clip_set_linear_precision(precision))


# MARK: - Models

class LoadOptions(_ctypes.Structure):
    """clip_load_options of include/clipcore.h, as clip_model_load_ex takes it.

    struct_size: sizeof(LoadOptions); num_threads: 0 keeps the process's
    thread count; linear_precision: LINEAR_DEFAULT or a LINEAR_* precision;
    preprocessing: PREPROCESSING_PIL or PREPROCESSING_TORCHVISION;
    precision_fallback: 0 (a precision this CPU cannot run fails the load) or
    1 (the model computes in float32 instead).
    Model(...) fills it in; build one yourself only for raw calls.
    """
    _fields_ = [("struct_size", _ctypes.c_uint32), ("num_threads", _ctypes.c_int32),
                ("linear_precision", _ctypes.c_int32), ("preprocessing", _ctypes.c_int32),
                ("precision_fallback", _ctypes.c_int32)]


class Model:
    """A CLIP or SigLIP model folder in Hugging Face layout, loaded by the library.

    The folder holds config.json (its model_type picks CLIP or SigLIP),
    model.safetensors, the tokenizer files and preprocessor_config.json.
    Embeddings are L2-normalised float32 rows of `dim` floats (the attribute
    `dim`, an int). A Model is safe to share between threads (the library
    serialises the calls on one model, and each call uses every core).
    close() frees it; so does leaving a `with` block, or garbage collection.

    Raises ClipError when the folder cannot be loaded: ERR_IO for a missing
    file, ERR_FORMAT for a malformed one, ERR_INVALID_ARGUMENT for a bad
    option.
    """

    dim: int

    def __init__(self, directory: _PathLike, num_threads: _Optional[int] = None,
                 linear_precision: _Optional[int] = None, preprocessing: _Union[str, int] = "pil",
                 precision_fallback: bool = False) -> None:
        """Loads the model folder `directory`.

        num_threads: None keeps the thread count; n > 0 sets it for the whole
        process (it is not per model).
        linear_precision: None follows the process-wide precision
        (set_linear_precision); a LINEAR_* precision pins this model's calls
        to it: ClipError ERR_UNSUPPORTED when this CPU has no kernel for it,
        unless precision_fallback is true (the model then computes in float32).
        preprocessing: "pil" (PREPROCESSING_PIL, the default: transformers'
        CLIPImageProcessorPil) or "torchvision" (PREPROCESSING_TORCHVISION:
        transformers 5's default CLIPImageProcessor / SiglipImageProcessor);
        ClipError ERR_UNSUPPORTED when the folder's preprocessing has no
        torchvision form, ERR_INVALID_ARGUMENT for another value.
        """
        handle = _ctypes.c_void_p()
        if isinstance(preprocessing, str):
            if preprocessing not in _PREPROCESSINGS:
                raise ClipError(ERR_INVALID_ARGUMENT,
                                f"preprocessing {preprocessing!r} is not one of {', '.join(map(repr, _PREPROCESSINGS))}")
            preprocessing = _PREPROCESSINGS[preprocessing]
        opts = LoadOptions(_ctypes.sizeof(LoadOptions), 0 if num_threads is None else num_threads,
                           LINEAR_DEFAULT if linear_precision is None else linear_precision, preprocessing,
                           1 if precision_fallback else 0)
        _check(_lib.clip_model_load_ex(_os.fsencode(directory), _ctypes.byref(opts), _ctypes.byref(handle)))
        self._handle = handle
        self.dim = self._int(_lib.clip_model_embedding_dim)

    def _int(self, fn: "_ctypes._CFuncPtr") -> int:
        value = _ctypes.c_int32()
        _check(fn(self._ptr(), _ctypes.byref(value)))
        return value.value

    def _ptr(self) -> _ctypes.c_void_p:
        if not getattr(self, "_handle", None):
            raise ClipError(ERR_INVALID_ARGUMENT, "the model is closed")
        return self._handle

    @property
    def kind(self) -> int:
        """MODEL_CLIP, MODEL_SIGLIP, MODEL_TEXT (a text-only encoder) or MODEL_DUAL_ENCODER."""
        return self._int(_lib.clip_model_kind)

    @property
    def embedding_dim(self) -> int:
        """Floats per embedding (the same as `dim`)."""
        return self._int(_lib.clip_model_embedding_dim)

    @property
    def image_size(self) -> int:
        """Side in pixels of the square images the vision tower takes (preprocessing resizes and crops to it)."""
        return self._int(_lib.clip_model_image_size)

    @property
    def context_length(self) -> int:
        """Text context length in tokens (longer texts are truncated)."""
        return self._int(_lib.clip_model_context_length)

    @property
    def linear_precision(self) -> int:
        """This model's own precision, LINEAR_FLOAT32 or LINEAR_INT16, or LINEAR_DEFAULT when it follows the process's."""
        return self._int(_lib.clip_model_linear_precision)

    def encode_texts(self, texts: _Iterable[str]) -> _np.ndarray:
        """Text embeddings: [n, dim] float32, L2-normalised, one row per text.

        Texts longer than context_length tokens are truncated. Raises ClipError
        (ERR_INVALID_ARGUMENT) for an empty list.
        """
        texts = list(texts)
        out = _np.empty((len(texts), self.dim), dtype=_np.float32)
        _check(_lib.clip_encode_texts(self._ptr(), _cstrings(texts), len(texts), out.ctypes.data_as(_fp)))
        return out

    def encode_image_files(self, paths: _Iterable[_PathLike]) -> _np.ndarray:
        """Image embeddings of PNG or JPEG files: [n, dim] float32, L2-normalised, one row per file.

        The format is recognised by content, not by extension. Raises ClipError:
        ERR_IO for a missing file, ERR_FORMAT for a damaged one,
        ERR_UNSUPPORTED for a file that is no PNG or JPEG.
        """
        paths = list(paths)
        out = _np.empty((len(paths), self.dim), dtype=_np.float32)
        _check(_lib.clip_encode_image_files(self._ptr(), _cstrings(paths), len(paths), out.ctypes.data_as(_fp)))
        return out

    def encode_rgb8(self, pixels: _np.ndarray) -> _np.ndarray:
        """Image embeddings of decoded pixels: [n, dim] float32, L2-normalised.

        pixels: [n, height, width, 3] or [height, width, 3] uint8 RGB (converted
        with numpy.ascontiguousarray); every image of a batch has the same size.
        They are resized and normalised as the model's preprocessing says.
        """
        a = _np.ascontiguousarray(pixels, dtype=_np.uint8)
        if a.ndim == 3:
            a = a[None]
        if a.ndim != 4 or a.shape[3] != 3:
            raise ValueError(f"pixels must be [n, height, width, 3] uint8, got shape {a.shape}")
        out = _np.empty((a.shape[0], self.dim), dtype=_np.float32)
        _check(_lib.clip_encode_rgb8(self._ptr(), a.ctypes.data_as(_u8p), a.shape[0], a.shape[1], a.shape[2],
                                     out.ctypes.data_as(_fp)))
        return out

    def zeroshot_weights(self, class_names: _Iterable[str], templates: _Optional[_Iterable[str]] = None) -> _np.ndarray:
        """Zero-shot class embeddings: [n_classes, dim] float32, each row the L2-normalised mean of the
        normalised embeddings of the class's prompts. templates: strings with a "{c}" slot; None gives
        OpenAI's 80 ImageNet templates. Image embeddings score classes by inner product with the rows.
        """
        names = list(class_names)
        out = _np.empty((len(names), self.dim), dtype=_np.float32)
        t = None if templates is None else list(templates)
        _check(_lib.clip_zeroshot_weights(self._ptr(), _cstrings(names), len(names),
                                          None if t is None else _cstrings(t), 0 if t is None else len(t),
                                          out.ctypes.data_as(_fp)))
        return out

    def evaluate(self, task: str, dataset: _PathLike, **options: object) -> dict:
        """Runs one task of `clip eval` ("zeroshot", "linear-probe", "knn", "cluster", "retrieval") on a
        dataset folder; returns the result in CLIP_benchmark's format (dataset, model, task, metrics, ...).
        options: templates ("openai", "one" or a file), classnames (a file), split, cache (the feature
        cache folder), seed, dataset_name.
        """
        import json
        out = _ctypes.c_char_p()
        opts = json.dumps({k: (_os.fspath(v) if isinstance(v, _os.PathLike) else v) for k, v in options.items()})
        _check(_lib.clip_evaluate(self._ptr(), task.encode("utf-8"), _os.fsencode(dataset), opts.encode("utf-8"),
                                  _ctypes.cast(_ctypes.byref(out), _strs)))
        return json.loads(out.value.decode("utf-8"))

    def elip(self, mapper_path: _PathLike) -> "ELIP":
        """An ELIP re-ranker: the prompt mapper in `mapper_path` (safetensors), bound to this model.

        Raises ClipError: ERR_IO or ERR_FORMAT for the file, ERR_SHAPE when the
        mapper's widths do not fit this model.
        """
        return ELIP(self, mapper_path)

    def close(self) -> None:
        """Frees the model; later calls raise ClipError. Closing twice is harmless."""
        if getattr(self, "_handle", None):
            _lib.clip_model_free(self._handle)
            self._handle = None

    def __del__(self) -> None:
        self.close()

    def __enter__(self) -> "Model":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ELIP:
    """An ELIP prompt mapper bound to a model: re-ranks candidate images for a text query.

    The mapper turns the query's text embedding into prompt tokens for the
    vision tower; each candidate image is encoded again with them, and its
    score is the query's similarity to that guided embedding. Make one with
    Model.elip(mapper_path); it keeps its model (the attribute `model`) alive.
    """

    model: Model

    def __init__(self, model: Model, mapper_path: _PathLike) -> None:
        """Loads the mapper in `mapper_path` for `model` (see Model.elip)."""
        handle = _ctypes.c_void_p()
        _check(_lib.clip_elip_load(model._ptr(), _os.fsencode(mapper_path), _ctypes.byref(handle)))
        self._handle = handle
        self.model = model

    def rerank(self, query: str, image_paths: _Iterable[_PathLike]) -> _Tuple[_np.ndarray, _np.ndarray]:
        """Re-ranks image files for `query`: (scores, order).

        scores: [n] float32, the guided score of each candidate, in the order
        given; order: [n] int64, the candidates' indices by descending score.
        """
        if not getattr(self, "_handle", None):
            raise ClipError(ERR_INVALID_ARGUMENT, "the ELIP re-ranker is closed")
        paths = list(image_paths)
        scores = _np.empty(len(paths), dtype=_np.float32)
        order = _np.empty(len(paths), dtype=_np.int64)
        _check(_lib.clip_rerank(self._handle, query.encode("utf-8"), _cstrings(paths), len(paths),
                                scores.ctypes.data_as(_fp), order.ctypes.data_as(_i64p)))
        return scores, order

    def close(self) -> None:
        """Frees the mapper; later calls raise ClipError. Closing twice is harmless."""
        if getattr(self, "_handle", None):
            _lib.clip_elip_free(self._handle)
            self._handle = None

    def __del__(self) -> None:
        self.close()

    def __enter__(self) -> "ELIP":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# MARK: - Losses and mining

def loss(image_emb: _np.ndarray, text_emb: _np.ndarray, logit_scale: float, logit_bias: float = 0.0,
         kind: int = LOSS_INFONCE) -> _Tuple[float, _np.ndarray, _np.ndarray]:
    """The pair loss of n matching pairs and its gradients: (loss, grad_image, grad_text).

    image_emb, text_emb: [n, dim] float32 (row i of each is a pair).
    logit_scale: the multiplier itself (CLIP's logit_scale.exp(), e.g. 100.0);
    logit_bias: added to every logit (SigLIP's bias).
    kind: LOSS_INFONCE (CLIP's symmetric cross-entropy) or LOSS_SIGMOID (SigLIP's).
    grad_image, grad_text: [n, dim] float32, d loss / d embeddings.
    """
    i, t = _f32(image_emb, "image_emb"), _f32(text_emb, "text_emb")
    if i.shape != t.shape:
        raise ValueError(f"image_emb {i.shape} and text_emb {t.shape} must have the same shape")
    value = _ctypes.c_float()
    gi, gt = _np.empty_like(i), _np.empty_like(t)
    _check(_lib.clip_loss(kind, i.ctypes.data_as(_fp), t.ctypes.data_as(_fp), i.shape[0], i.shape[1],
                          logit_scale, logit_bias, _ctypes.byref(value), gi.ctypes.data_as(_fp), gt.ctypes.data_as(_fp)))
    return value.value, gi, gt


def mine(image_emb: _np.ndarray, text_emb: _np.ndarray, k: int) -> _Tuple[_np.ndarray, _np.ndarray]:
    """Each text's k most similar images (inner product), best first: (ids, scores).

    image_emb: [n_images, dim] float32; text_emb: [n_texts, dim] float32.
    ids: [n_texts, k] int64 row indices into image_emb; scores: [n_texts, k]
    float32. Raises ClipError (ERR_INVALID_ARGUMENT) unless 1 <= k <= n_images.
    """
    i, t = _f32(image_emb, "image_emb"), _f32(text_emb, "text_emb")
    if i.shape[1] != t.shape[1]:
        raise ValueError(f"dimensions differ: images {i.shape[1]}, texts {t.shape[1]}")
    ids = _np.empty((t.shape[0], max(k, 0)), dtype=_np.int64)
    scores = _np.empty((t.shape[0], max(k, 0)), dtype=_np.float32)
    _check(_lib.clip_mine(i.ctypes.data_as(_fp), i.shape[0], t.ctypes.data_as(_fp), t.shape[0], i.shape[1], k,
                          ids.ctypes.data_as(_i64p), scores.ctypes.data_as(_fp)))
    return ids, scores
