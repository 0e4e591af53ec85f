// Every @_cdecl function of CAPI against its declaration in include/clipcore.h (the CClipABI module):
// each line takes the header's function type and assigns the Swift function to it, so a parameter or
// result type that differs from the header's fails the build. The functions' names are checked by
// scripts/check-status-codes.py: the header's functions, the @_cdecl names, this list and (given a
// built library) its exported symbols are the same set.

import CClipABI

/// Never called; it exists to be type-checked.
@available(*, unavailable, message: "a compile-time check only")
private func checkFunctionsAgainstHeader() {
    var f0 = CClipABI.clip_version; f0 = CAPI.clip_version
    var f1 = CClipABI.clip_abi_version; f1 = CAPI.clip_abi_version
    var f2 = CClipABI.clip_status_string; f2 = CAPI.clip_status_string
    var f3 = CClipABI.clip_last_error; f3 = CAPI.clip_last_error
    var f4 = CClipABI.clip_model_load; f4 = CAPI.clip_model_load
    var f5 = CClipABI.clip_model_free; f5 = CAPI.clip_model_free
    var f6 = CClipABI.clip_model_embed_dim; f6 = CAPI.clip_model_embed_dim
    var f7 = CClipABI.clip_encode_texts; f7 = CAPI.clip_encode_texts
    var f8 = CClipABI.clip_encode_image_files; f8 = CAPI.clip_encode_image_files
    var f9 = CClipABI.clip_encode_rgb8; f9 = CAPI.clip_encode_rgb8
    var f10 = CClipABI.clip_loss; f10 = CAPI.clip_loss
    var f11 = CClipABI.clip_mine; f11 = CAPI.clip_mine
    var f12 = CClipABI.clip_elip_load; f12 = CAPI.clip_elip_load
    var f13 = CClipABI.clip_elip_free; f13 = CAPI.clip_elip_free
    var f14 = CClipABI.clip_rerank; f14 = CAPI.clip_rerank
    var f15 = CClipABI.clip_num_threads; f15 = CAPI.clip_num_threads
    var f16 = CClipABI.clip_set_num_threads; f16 = CAPI.clip_set_num_threads
    var f17 = CClipABI.clip_linear_precision; f17 = CAPI.clip_linear_precision
    var f18 = CClipABI.clip_set_linear_precision; f18 = CAPI.clip_set_linear_precision
    var f19 = CClipABI.clip_runtime_info; f19 = CAPI.clip_runtime_info
    var f20 = CClipABI.clip_model_kind; f20 = CAPI.clip_model_kind
    var f21 = CClipABI.clip_model_embedding_dim; f21 = CAPI.clip_model_embedding_dim
    var f22 = CClipABI.clip_model_image_size; f22 = CAPI.clip_model_image_size
    var f23 = CClipABI.clip_model_context_length; f23 = CAPI.clip_model_context_length
    var f24 = CClipABI.clip_model_load_ex; f24 = CAPI.clip_model_load_ex
    var f25 = CClipABI.clip_model_linear_precision; f25 = CAPI.clip_model_linear_precision
    var f26 = CClipABI.clip_zeroshot_weights; f26 = CAPI.clip_zeroshot_weights
    var f27 = CClipABI.clip_evaluate; f27 = CAPI.clip_evaluate
    _ = (f0, f1, f2, f3, f4, f5, f6, f7, f8, f9, f10, f11, f12, f13, f14, f15, f16, f17, f18, f19, f20, f21, f22, f23, f24, f25,
         f26, f27)
}
