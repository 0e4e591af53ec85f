// safetensors: round trips, validation errors, atomic writes, sharded folders, state dicts.

import Testing
import Foundation
import Tensor
import Autograd
import NN

/// A fresh temporary folder, removed at the end of the test.
final class TempDir {
    let path: String
    init() throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("clipcore-nn-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
    func file(_ name: String) -> String { path + "/" + name }
}

/// A safetensors file made from a header dictionary and a data section, byte for byte.
func rawSafeTensors(header: String, data: [UInt8], lengthOverride: UInt64? = nil) -> [UInt8] {
    let h = Array(header.utf8)
    var len = (lengthOverride ?? UInt64(h.count)).littleEndian
    return withUnsafeBytes(of: &len) { Array($0) } + h + data
}

@Suite struct SafeTensorsTests {
    @Test func roundTripKeepsValuesShapesAndMetadata() throws {
        let dir = try TempDir()
        var g = RandomGenerator(seed: 9)
        let a = Tensor.randn([3, 5], generator: &g), b = Tensor.randn([7], generator: &g)
        let scalar = Tensor(scalar: 2.5), empty = Tensor.zeros([0, 4])
        try SafeTensors.write([("a", a), ("b.weight", b.transposed(0, 0)), ("s", scalar), ("e", empty),
                               ("t", a.transposed())], metadata: ["format": "pt", "note": "quote \" and \\ and é"],
                              to: dir.file("x.safetensors"))
        let f = try SafeTensorsFile(path: dir.file("x.safetensors"))
        #expect(f.metadata == ["format": "pt", "note": "quote \" and \\ and é"])
        #expect(try f.tensor("a").toArray() == a.toArray())
        #expect(try f.tensor("b.weight").toArray() == b.toArray())
        #expect(try f.tensor("s").shape == [] && f.tensor("s").item == 2.5)
        #expect(try f.tensor("e").shape == [0, 4])
        #expect(try f.tensor("t").toArray() == a.transposed().toArray())
        #expect(ClipError.kind { try f.tensor("missing") } == .format)
    }

    @Test func halfPrecisionAndIntegersConvertToFloat() throws {
        let dir = try TempDir()
        // F16 1.0, -2.0; BF16 0.5, 3.0; I64 7, -1.
        let header = #"{"h":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},"b":{"dtype":"BF16","shape":[2],"data_offsets":[4,8]},"i":{"dtype":"I64","shape":[2],"data_offsets":[8,24]}}"#
        var data: [UInt8] = [0x00, 0x3C, 0x00, 0xC0, 0x00, 0x3F, 0x40, 0x40]
        for v in [Int64(7), Int64(-1)] { withUnsafeBytes(of: v.littleEndian) { data += $0 } }
        try Data(rawSafeTensors(header: header, data: data)).write(to: URL(fileURLWithPath: dir.file("h.safetensors")))
        let f = try SafeTensorsFile(path: dir.file("h.safetensors"))
        #expect(try f.tensor("h").toArray() == [1, -2])
        #expect(try f.tensor("b").toArray() == [0.5, 3])
        #expect(try f.tensor("i").toArray() == [7, -1])
    }

    /// Each malformed file is rejected with a message naming the problem (and the tensor when there is one).
    @Test(arguments: [
        ("truncated", [UInt8](repeating: 0, count: 5), "too short"),
        ("lying length", rawSafeTensors(header: "{}", data: [], lengthOverride: 1 << 40), "exceeds the file"),
        ("bad json", rawSafeTensors(header: "{\"a\": [", data: []), "JSON"),
        ("not object", rawSafeTensors(header: "[1, 2]", data: []), "not a JSON object"),
        ("out of range", rawSafeTensors(header: #"{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#,
                                        data: [UInt8](repeating: 0, count: 8)), "'w'"),
        ("overlap", rawSafeTensors(header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#,
                                   data: [UInt8](repeating: 0, count: 12)), "overlap"),
        ("dtype x shape", rawSafeTensors(header: #"{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#,
                                         data: [UInt8](repeating: 0, count: 8)), "needs 12 bytes"),
        ("unknown dtype", rawSafeTensors(header: #"{"w":{"dtype":"Q4","shape":[1],"data_offsets":[0,1]}}"#,
                                         data: [0]), "unsupported dtype"),
        ("negative shape", rawSafeTensors(header: #"{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,0]}}"#,
                                          data: []), "shape"),
        ("reversed offsets", rawSafeTensors(header: #"{"w":{"dtype":"U8","shape":[0],"data_offsets":[4,0]}}"#,
                                            data: [0, 0, 0, 0]), "data_offsets"),
        ("bad metadata", rawSafeTensors(header: #"{"__metadata__":{"k":1}}"#, data: []), "__metadata__"),
        // absurd shapes: the element count or the byte count overflows (both once trapped while the
        // message was made), or the shape asks for far more than the file holds
        ("elements overflow", rawSafeTensors(header: #"{"w":{"dtype":"F32","shape":[1099511627776,1099511627776],"data_offsets":[0,0]}}"#,
                                             data: []), "too large"),
        ("bytes overflow", rawSafeTensors(header: #"{"w":{"dtype":"F32","shape":[2147483648,2147483648],"data_offsets":[0,0]}}"#,
                                          data: []), "too large"),
        ("absurd but fits Int", rawSafeTensors(header: #"{"w":{"dtype":"F32","shape":[65536,65536],"data_offsets":[0,4]}}"#,
                                               data: [0, 0, 0, 0]), "'w'"),
    ])
    func malformedFilesAreClearErrors(_ name: String, _ bytes: [UInt8], _ phrase: String) throws {
        let dir = try TempDir()
        try Data(bytes).write(to: URL(fileURLWithPath: dir.file("bad.safetensors")))
        do {
            _ = try SafeTensorsFile(path: dir.file("bad.safetensors"))
            Issue.record("\(name): accepted")
        } catch let e as ClipError {
            #expect(e.message.contains(phrase), "\(name): \(e.message)")
            #expect(e.kind == (name == "unknown dtype" ? .unsupported : .format), "\(name): \(e.kind)")
        }
    }

    @Test func missingFileAndFolderAreClearErrors() throws {
        #expect(ClipError.kind { try SafeTensorsFile(path: "/nonexistent/model.safetensors") } == .io)
        let dir = try TempDir()
        #expect(ClipError.kind { try Checkpoint(path: dir.path) } == .io)
        #expect(ClipError.kind { try SafeTensorsFile(path: dir.path) } == .io)
    }

    @Test func failedWriteLeavesTheOldFileIntact() throws {
        let dir = try TempDir()
        let target = dir.file("m.safetensors")
        try SafeTensors.write([("x", Tensor([1, 2, 3], shape: [3]))], to: target)
        // A repeated name fails before anything is written.
        #expect(ClipError.kind {
            try SafeTensors.write([("y", Tensor.zeros([2])), ("y", Tensor.zeros([2]))], to: target)
        } == .invalidArgument)
        // An unwritable folder fails without touching the target.
        #expect(ClipError.kind {
            try SafeTensors.write([("y", Tensor.zeros([2]))], to: "/nonexistent-dir/m.safetensors")
        } == .io)
        #expect(try SafeTensorsFile(path: target).tensor("x").toArray() == [1, 2, 3])
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0 != "m.safetensors" }
        #expect(leftovers.isEmpty)
    }

    @Test func mappedTensorsAreCopyOnWrite() throws {
        let dir = try TempDir()
        let target = dir.file("c.safetensors")
        try SafeTensors.write([("x", Tensor([1, 2, 3, 4], shape: [4]))], to: target)
        let f = try SafeTensorsFile(path: target)
        let t = try f.tensor("x")
        t.data[0] = 99                                    // an optimizer writing in place
        #expect(try SafeTensorsFile(path: target).tensor("x").toArray() == [1, 2, 3, 4])
    }

    @Test func shardedFoldersLoad() throws {
        let dir = try TempDir()
        try SafeTensors.write([("a.weight", Tensor([1, 2], shape: [2]))], to: dir.file("model-00001-of-00002.safetensors"))
        try SafeTensors.write([("b.weight", Tensor([3], shape: [1]))], to: dir.file("model-00002-of-00002.safetensors"))
        let index = #"{"metadata": {}, "weight_map": {"a.weight": "model-00001-of-00002.safetensors", "b.weight": "model-00002-of-00002.safetensors"}}"#
        try index.write(toFile: dir.file("model.safetensors.index.json"), atomically: true, encoding: .utf8)
        let c = try Checkpoint(path: dir.path)
        #expect(Set(c.keys) == ["a.weight", "b.weight"])
        #expect(try c.tensor("b.weight").toArray() == [3])
        // An index naming a tensor its shard lacks is an error.
        let bad = #"{"weight_map": {"a.weight": "model-00002-of-00002.safetensors"}}"#
        try bad.write(toFile: dir.file("model.safetensors.index.json"), atomically: true, encoding: .utf8)
        #expect(ClipError.kind { try Checkpoint(path: dir.path) } == .format)
    }
}

@Suite struct StateDictTests {
    final class Tiny: Module {
        let fc = Linear(3, 2)
        let norm = LayerNorm(2)
        override init() {
            super.init()
            register("fc", fc)
            register("norm", norm)
        }
    }

    @Test func strictLoadListsEveryProblemByFullKey() throws {
        let m = Tiny()
        let tensors: [String: Tensor] = [
            "fc.weight": Tensor.zeros([2, 4]),         // wrong shape
            "norm.weight": Tensor.ones([2]),
            "extra.bias": Tensor.zeros([1]),           // unexpected
        ]                                              // fc.bias and norm.bias missing
        let before = m.fc.weight.value.toArray()
        do {
            try m.load(tensors)
            Issue.record("strict load accepted a mismatched state dict")
        } catch let e as ClipError {
            #expect(e.kind == .format)
            for key in ["fc.weight", "fc.bias", "norm.bias", "extra.bias", "[2, 3]", "[2, 4]"] {
                #expect(e.message.contains(key), "message lacks \(key): \(e.message)")
            }
        }
        #expect(m.fc.weight.value.toArray() == before)  // nothing assigned
    }

    @Test func saveAndLoadRoundTrip() throws {
        let dir = try TempDir()
        let a = ParameterInitialization.seeded(1) { Tiny() }
        let b = ParameterInitialization.seeded(2) { Tiny() }
        #expect(a.fc.weight.value.toArray() != b.fc.weight.value.toArray())
        try a.save(to: dir.file("tiny.safetensors"), metadata: ["step": "3"])
        let report = try b.load(Checkpoint(path: dir.file("tiny.safetensors")))
        #expect(report.isClean)
        for (x, y) in zip(a.stateDict(), b.stateDict()) {
            #expect(x.key == y.key && x.tensor.toArray() == y.tensor.toArray())
        }
        // Non-strict loading reports what it skipped.
        let partial = try b.load(["fc.weight": Tensor.zeros([2, 3]), "other": Tensor.zeros([1])], strict: false)
        #expect(partial.unexpected == ["other"])
        #expect(partial.missing == ["fc.bias", "norm.weight", "norm.bias"])
        #expect(b.fc.weight.value.toArray() == [Float](repeating: 0, count: 6))
    }
}
