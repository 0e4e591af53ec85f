// TEMPORARY: stand-ins until the linear probe and k-NN/clustering branches merge.
import Tensor
public struct LinearProbe: Sendable { public var validationFraction = 0.2; public var seed: UInt64 = 0; public init() {}
  public func run(train: LabelledFeatures, test: LabelledFeatures) throws -> LinearProbeResult { throw ClipError.unsupported("stub") } }
public struct LinearProbeResult: Sendable { public var scores: ClassificationScores; public var lambda: Double; public var c: Double; public var validationTop1: Double; public var sweep: [Double]; public var iterations: Int }
public struct KNNEvaluation: Sendable { public var temperature = 0.07; public var ks = [1, 10, 20, 200]; public init() {}
  public func run(train: LabelledFeatures, test: LabelledFeatures) throws -> [KNNResult] { throw ClipError.unsupported("stub") } }
public struct KNNResult: Sendable { public var k: Int; public var scores: ClassificationScores }
public struct ClusteringEvaluation: Sendable { public var seed: Int64 = 1234; public var iterations = 20; public init() {}
  public func run(_ f: LabelledFeatures) throws -> ClusteringResult { throw ClipError.unsupported("stub") } }
public struct ClusteringResult: Sendable { public var nmi: Double; public var ami: Double }
