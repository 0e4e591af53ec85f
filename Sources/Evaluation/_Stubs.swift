// TEMPORARY: stand-ins until the linear probe and k-NN/clustering branches merge.
import Tensor
public struct LinearProbe: Sendable { public var validationFraction = 0.2; public var seed: UInt64 = 0; public init() {}
  public func run(train: LabelledFeatures, test: LabelledFeatures) throws -> LinearProbeResult { throw ClipError.unsupported("stub") } }
public struct LinearProbeResult: Sendable { public var scores: ClassificationScores; public var lambda: Double; public var c: Double; public var validationTop1: Double; public var sweep: [Double]; public var iterations: Int }
