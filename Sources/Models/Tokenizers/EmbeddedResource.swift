// Data files compiled into the library (CCodecs/resources.S), inflated on use.

import Tensor
import CCodecs

/// A gzip'ed text file embedded in the library.
enum EmbeddedResource {
    /// open_clip's `bpe_simple_vocab_16e6.txt`: the standard CLIP BPE merges.
    case clipMerges
    /// Python's `html.unescape` tables (`Tools/gen_html_entities.py`).
    case html5Entities

    var fileName: String {
        switch self {
        case .clipMerges: return "bpe_simple_vocab_16e6.txt.gz"
        case .html5Entities: return "html5_entities.txt.gz"
        }
    }

    /// The file's text, inflated.
    /// - Throws: `ClipError.internal` when the embedded bytes do not inflate (a broken build).
    func text() throws -> String {
        var size = 0
        let gz: UnsafePointer<UInt8>? = switch self {
        case .clipMerges: cc_clip_bpe_vocab_gz(&size)
        case .html5Entities: cc_html5_entities_gz(&size)
        }
        var out: UnsafeMutablePointer<UInt8>?
        var outSize = 0
        guard let gz, cc_gunzip(gz, size, &out, &outSize) == 0, let out else {
            throw ClipError.internal("the embedded \(fileName) could not be inflated")
        }
        defer { cc_free(out) }
        return String(decoding: UnsafeBufferPointer(start: out, count: outSize), as: UTF8.self)
    }
}
