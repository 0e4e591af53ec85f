// Access to the committed fixtures under Tests/Fixtures, and the comparisons the parity tests share
// (a support target of ModelTests and ImagesTests, never linked into the library).

import Foundation
import Tensor
import NN

public enum Fixtures {
    /// Tests/Fixtures, found from this source file's location.
    public static let root: String = {
        var url = URL(fileURLWithPath: #filePath)
        url.deleteLastPathComponent()          // TestSupport
        url.deleteLastPathComponent()          // Tests
        return url.appendingPathComponent("Fixtures").path
    }()

    public static func path(_ relative: String) -> String { root + "/" + relative }

    /// The tensors of `expected.safetensors` in a fixture folder.
    public static func expected(_ folder: String) throws -> SafeTensorsFile {
        try SafeTensorsFile(path: path(folder + "/expected.safetensors"))
    }
}

/// Largest absolute difference.
public func maxAbsDiff(_ a: Tensor, _ b: Tensor) -> Float {
    guard a.shape == b.shape else { return .infinity }
    return zip(a.toArray(), b.toArray()).reduce(0) { max($0, abs($1.0 - $1.1)) }
}

/// ‖a − b‖ / ‖b‖.
public func relativeError(_ a: Tensor, _ b: Tensor) -> Float {
    guard a.shape == b.shape else { return .infinity }
    var num = 0.0, den = 0.0
    for (x, y) in zip(a.toArray(), b.toArray()) {
        num += Double(x - y) * Double(x - y)
        den += Double(y) * Double(y)
    }
    return Float((num / max(den, 1e-30)).squareRoot())
}

/// Integer ids from a float tensor read out of a fixture.
public func indices(_ t: Tensor) -> Indices {
    Indices(shape: t.shape, values: t.toArray().map { Int($0) })
}

/// ‖a‖₂.
public func norm(_ a: Tensor) -> Float {
    Float(a.toArray().reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot())
}
