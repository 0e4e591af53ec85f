// The standard CLIP BPE merges (open_clip's bpe_simple_vocab_16e6.txt.gz), embedded.
    .section .rodata
    .global cc_clip_vocab_start
    .global cc_clip_vocab_end
    .balign 16
cc_clip_vocab_start:
    .incbin "bpe_simple_vocab_16e6.txt.gz"
cc_clip_vocab_end:
    .byte 0
    .section .note.GNU-stack,"",@progbits
