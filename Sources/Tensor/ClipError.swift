// The one error type of clipcore: a kind (mapped one to one onto the C status
// codes) and a message that names the file, key or argument.

/// A clipcore failure, with a message a user can act on.
public struct ClipError: Error, CustomStringConvertible, Equatable, Sendable {
    /// What went wrong; each kind has its own C status code (`CLIP_ERR_*`).
    public enum Kind: String, Equatable, Sendable, CaseIterable {
        /// A caller's argument or setting is out of range, missing or unknown.
        case invalidArgument
        /// A file or folder is missing, unreadable or cannot be written.
        case io
        /// A file's contents are malformed (bad JSON, a corrupt header, a wrong layout).
        case format
        /// Tensor shapes or sizes do not fit together.
        case shape
        /// Well-formed input this library does not handle (a model type, a dtype, a mode).
        case unsupported
        /// An allocation failed.
        case outOfMemory
        /// A failure inside clipcore or a library under it.
        case `internal`
    }

    public let kind: Kind
    public let message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }

    /// The same kind with `prefix: ` in front of the message (a file or context name).
    public func prefixed(_ prefix: String) -> ClipError { ClipError(kind, "\(prefix): \(message)") }

    /// The kind of the `ClipError` that `body` throws; nil when it returns or throws another error.
    public static func kind<T>(thrownBy body: () throws -> T) -> Kind? {
        do {
            _ = try body()
            return nil
        } catch {
            return (error as? ClipError)?.kind
        }
    }

    // MARK: - Constructors by kind

    public static func invalidArgument(_ message: String) -> ClipError { ClipError(.invalidArgument, message) }
    public static func io(_ message: String) -> ClipError { ClipError(.io, message) }
    public static func format(_ message: String) -> ClipError { ClipError(.format, message) }
    public static func shape(_ message: String) -> ClipError { ClipError(.shape, message) }
    public static func unsupported(_ message: String) -> ClipError { ClipError(.unsupported, message) }
    public static func outOfMemory(_ message: String) -> ClipError { ClipError(.outOfMemory, message) }
    public static func `internal`(_ message: String) -> ClipError { ClipError(.internal, message) }
}
