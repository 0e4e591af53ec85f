// Errors from model configuration, inputs and preprocessing.

/// A problem with a model folder, its configuration or an input, with a message a user can act on.
public struct ModelError: Error, CustomStringConvertible, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
