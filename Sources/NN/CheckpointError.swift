// Errors from reading, writing and loading checkpoints.

/// A checkpoint problem, with a message that names the file and tensor.
public struct CheckpointError: Error, CustomStringConvertible, Equatable {
    public enum Kind: Equatable, Sendable {
        case io, header, tensor, dtype, stateDict
    }
    public let kind: Kind
    public let message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }
}
