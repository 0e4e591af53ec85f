// An answer of the service that is an error: an HTTP status and a message naming the problem.

import Foundation
import Tensor

/// A request the service refuses, with its HTTP status; the body is `{"error": message}`.
public struct APIError: Error, Equatable, CustomStringConvertible, Sendable {
    public var status: Int
    public var message: String
    /// Seconds a client should wait before retrying (429 and 503).
    public var retryAfter: Int?

    public init(_ status: Int, _ message: String, retryAfter: Int? = nil) {
        self.status = status
        self.message = message
        self.retryAfter = retryAfter
    }

    public var description: String { "\(status): \(message)" }

    /// `{"error": "…"}`.
    public var json: String { "{\"error\": \(JSONText.quoted(message))}" }

    public static func badRequest(_ message: String) -> APIError { APIError(400, message) }
    public static func notFound(_ message: String) -> APIError { APIError(404, message) }

    /// An error from the library: bad input (an undecodable image, a wrong dimension) is the client's (400),
    /// anything else the server's (500).
    public static func from(_ error: any Error) -> APIError {
        if let e = error as? APIError { return e }
        if let e = error as? ClipError {
            switch e.kind {
            case .invalidArgument, .format, .shape, .unsupported: return APIError(400, e.message)
            default: return APIError(500, e.message)
            }
        }
        return APIError(500, "internal error: \(error)")
    }
}
