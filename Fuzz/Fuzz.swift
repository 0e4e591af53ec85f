// libFuzzer targets, one per input surface: each hands the fuzzer's bytes to the parser the library
// uses on that file (through a scratch file when the entry point takes a path) and swallows its
// thrown errors, so only crashes, leaks and timeouts are findings. The target is chosen by the
// environment variable CLIPCORE_FUZZ_TARGET (the names in `targets`); scripts/fuzz.sh builds and runs
// this (built only with CLIPCORE_FUZZ=1, with -sanitize=fuzzer,address; main runs libFuzzer's driver).

import Foundation
import Tensor
import NN
import Images
import Models
import Datasets
import Search
import Studies
import Training

/// A scratch folder of this process (in /dev/shm when it exists), for the entry points that take paths.
let scratch: String = {
    let base = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
    let dir = "\(base)/clipcore-fuzz-\(getpid())"
    try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
}()

/// Writes `bytes` to `scratch/name` and returns the path.
func file(_ name: String, _ bytes: UnsafeRawBufferPointer) -> String {
    let path = scratch + "/" + name
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    precondition(fd >= 0, "cannot write \(path)")
    var done = 0
    while done < bytes.count {
        let n = Foundation.write(fd, bytes.baseAddress! + done, bytes.count - done)
        precondition(n > 0, "cannot write \(path)")
        done += n
    }
    close(fd)
    return path
}

/// A folder holding the files `parts` (name, bytes), each written afresh (others removed).
func folder(_ parts: [(String, UnsafeRawBufferPointer)], drop: [String] = []) -> String {
    for name in drop { unlink(scratch + "/" + name) }
    for (name, bytes) in parts { _ = file(name, bytes) }
    return scratch
}

/// `bytes` split at its first 0 byte (two files in one input); the second part is empty without one.
func split(_ bytes: UnsafeRawBufferPointer) -> (UnsafeRawBufferPointer, UnsafeRawBufferPointer) {
    guard let zero = bytes.firstIndex(of: 0) else { return (bytes, UnsafeRawBufferPointer(start: nil, count: 0)) }
    return (UnsafeRawBufferPointer(rebasing: bytes[..<zero]), UnsafeRawBufferPointer(rebasing: bytes[(zero + 1)...]))
}

/// Reads every record of `source`.
func drain(_ source: any ImageTextSource) throws {
    var reader = try source.makeReader()
    while try reader.next() != nil {}
}

/// The tokenizers the `text` target feeds, from the test fixtures (CLIPCORE_FUZZ_FIXTURES, default
/// Tests/Fixtures under the current folder).
let textTokenizers: [(String) -> Void] = {
    let fixtures = ProcessInfo.processInfo.environment["CLIPCORE_FUZZ_FIXTURES"] ?? "Tests/Fixtures"
    do {
        let clip = try CLIPTokenizer.standard()
        let siglip = try SiglipTokenizer.load(directory: fixtures + "/siglip/p8_48", maxLength: 64)
        let bert = try WordPieceTokenizer.load(directory: fixtures + "/text_tokenizers/bert-uncased", maxLength: 64)
        let roberta = try ByteLevelBPETokenizer.load(directory: fixtures + "/text_tokenizers/roberta", maxLength: 64)
        return [{ _ = clip([$0]) }, { _ = siglip([$0]) }, { _ = bert([$0]) }, { _ = roberta([$0]) }]
    } catch {
        fatalError("fuzz target text: cannot load the fixture tokenizers under \(fixtures): \(error)")
    }
}()

/// The targets by name: each parses one input.
let targets: [String: (UnsafeRawBufferPointer) throws -> Void] = [
    "safetensors": { b in _ = try SafeTensorsFile(path: file("model.safetensors", b)).tensors() },
    "elip-mapper": { b in _ = try ELIPMapper.load(path: file("mapper.safetensors", b)) },
    "clip-config": { b in _ = try CLIPConfig.load(path: file("config.json", b)) },
    "siglip-config": { b in _ = try SiglipConfig.load(path: file("config.json", b)) },
    "preprocessor-config": { b in _ = try ImageProcessorConfig.load(path: file("preprocessor_config.json", b)) },
    "elip-yaml": { b in _ = try ELIPConfig.parse(String(decoding: b, as: UTF8.self)) },
    "contrastive-yaml": { b in _ = try ContrastiveConfig.parse(String(decoding: b, as: UTF8.self)) },
    "study-yaml": { b in _ = try StudyConfig(yaml: String(decoding: b, as: UTF8.self)) },
    "png": { b in _ = try RGBImage(png: [UInt8](b)) },
    "jpeg": { b in _ = try RGBImage(jpeg: [UInt8](b)) },
    // vocab.json, a 0 byte, merges.txt
    "bpe-files": { b in
        let (vocab, merges) = split(b)
        let dir = folder([("vocab.json", vocab), ("merges.txt", merges)], drop: ["tokenizer.json", "vocab.txt"])
        _ = try? CLIPTokenizer.load(directory: dir)
        _ = try ByteLevelBPETokenizer.load(directory: dir, maxLength: 64)
    },
    "tokenizer-json": { b in
        let dir = folder([("tokenizer.json", b)], drop: ["vocab.json", "merges.txt", "vocab.txt"])
        _ = try? CLIPTokenizer.load(directory: dir)
        _ = try? ByteLevelBPETokenizer.load(directory: dir, maxLength: 64)
        _ = try WordPieceTokenizer.load(directory: dir, maxLength: 64)
    },
    "spiece": { b in
        let sp = try SentencePiece(try SentencePieceModel(bytes: [UInt8](b)))
        _ = sp.encode("A photo of a cat, 2 dogs and ünïcödé.")
    },
    "vocab-txt": { b in
        let dir = folder([("vocab.txt", b)], drop: ["tokenizer.json", "vocab.json", "merges.txt"])
        _ = try WordPieceTokenizer.load(directory: dir, maxLength: 64).encode("A photo of a cat, unaffable ünïcödé.")
    },
    "text": { b in
        let text = String(decoding: b, as: UTF8.self)
        for encode in textTokenizers { encode(text) }
    },
    "jsonl": { b in try drain(JSONLSource(path: file("data.jsonl", b))) },
    "csv": { b in try drain(CSVSource(path: file("data.csv", b), checkImages: false)) },
    // ELIPTrainer.readBatchFile's reading, with the config's default columns and separator.
    "elip-batch-csv": { b in
        _ = try RowOrderedPairs(source: CSVSource(path: file("batches.csv", b), imageColumn: "filepath", textColumn: "title",
                                                  separator: 0x09))
    },
    "tar": { b in try drain(WebDatasetSource(shards: [file("shard.tar", b)])) },
    "karpathy": { b in try drain(KarpathySource(path: file("dataset_coco.json", b), checkImages: false)) },
    "coco": { b in try drain(COCOCaptionsSource(path: file("captions.json", b), checkImages: false)) },
    "faiss-index": { b in _ = try VectorIndex.read(bytes: [UInt8](b), name: "index.faiss") },
]

let selected: (UnsafeRawBufferPointer) throws -> Void = {
    let name = ProcessInfo.processInfo.environment["CLIPCORE_FUZZ_TARGET"] ?? ""
    guard let t = targets[name] else {
        fputs("CLIPCORE_FUZZ_TARGET must be one of: \(targets.keys.sorted().joined(separator: " "))\n", stderr)
        exit(2)
    }
    return t
}()

/// Chooses the target and loads what it keeps (the `text` target's tokenizers) before the first input,
/// outside the per-input timeout.
@_cdecl("LLVMFuzzerInitialize")
public func fuzzInitialize(_ argc: UnsafeMutablePointer<CInt>?, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>?) -> CInt {
    _ = selected
    if ProcessInfo.processInfo.environment["CLIPCORE_FUZZ_TARGET"] == "text" { _ = textTokenizers }
    _ = scratch
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    do { try selected(bytes) } catch {}
    return 0
}

@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<CInt>,
                         _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt

/// The executable's entry point: SwiftPM links an executable target's `main` to `<module>_main`, so
/// this hands the command line to libFuzzer's driver (the `main` libFuzzer would otherwise supply).
@_cdecl("ClipFuzz_main")
public func clipFuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var argc = argc
    var argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzzOne(data, size) }
}
