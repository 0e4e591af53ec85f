// Data files embedded in the library (resources/): the standard CLIP BPE merges
// (open_clip's bpe_simple_vocab_16e6.txt.gz) and the HTML entity tables of
// Python's html.unescape (html5_entities.txt.gz, made by Tools/gen_html_entities.py).
    .section .rodata
    .global cc_clip_vocab_start
    .global cc_clip_vocab_end
    .balign 16
cc_clip_vocab_start:
    .incbin "bpe_simple_vocab_16e6.txt.gz"
cc_clip_vocab_end:
    .byte 0
    .global cc_html5_entities_start
    .global cc_html5_entities_end
    .balign 16
cc_html5_entities_start:
    .incbin "html5_entities.txt.gz"
cc_html5_entities_end:
    .byte 0
    .section .note.GNU-stack,"",@progbits
