// The HTTP layer of `clip serve` on Hummingbird 2: routes, the bearer-token check, request slots and metrics,
// graceful shutdown on SIGTERM/SIGINT (swift-service-lifecycle through Hummingbird's runService).

import Foundation
import Hummingbird
import Logging
import NIOCore
import Tensor

/// Where and how the server listens.
public struct ServeOptions: Sendable {
    public var host = "127.0.0.1"
    /// 0: a free port (printed when listening).
    public var port = 1234
    /// When set, every route but /health needs `Authorization: Bearer KEY`.
    public var apiKey: String?
    public var limits = ServeLimits()

    public init() {}
}

/// The service behind its routes.
public final class ServeServer: @unchecked Sendable {
    public let service: KnnService
    public let options: ServeOptions
    /// The service's metrics.
    public var metrics: ServeMetrics { service.metrics }

    public init(service: KnnService, options: ServeOptions) {
        self.service = service
        self.options = options
    }

    /// Serves until SIGTERM or SIGINT, then lets the requests in flight finish (their queued queries included) and
    /// returns. `onListening` gets the bound port.
    public func run(onListening: @escaping @Sendable (Int) -> Void = { _ in }) async throws {
        var logger = Logger(label: "clip-serve")
        logger.logLevel = .warning
        let app = Application(
            router: makeRouter(),
            configuration: .init(address: .hostname(options.host, port: options.port), serverName: "clipcore"),
            onServerRunning: { channel in onListening(channel.localAddress?.port ?? -1) },
            logger: logger)
        try await app.runService(gracefulShutdownSignals: [.sigterm, .sigint])
        service.batcher.drain(timeout: 30)
        service.batcher.stop()
    }

    // MARK: - Routes

    func makeRouter() -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        router.add(middleware: GateMiddleware(server: self))
        router.get("/health") { _, _ in Self.text("ok") }
        router.get("/metrics") { [self] _, _ in
            Self.respond(200, metrics.text(queueDepth: service.batcher.depth), type: "text/plain; version=0.0.4")
        }
        router.get("/") { _, _ in Self.respond(200, SearchPage.html, type: "text/html; charset=utf-8") }
        router.get("/info") { [self] _, _ in Self.json(200, infoJSON) }
        router.get("/indices-list") { [self] _, _ in Self.json(200, service.indicesListJSON) }
        router.post("/knn-service") { [self] request, _ in
            let body = try await collect(request)
            let answer = try await service.knn(body: body, host: Self.host(request))
            var response = Self.json(200, answer.json)
            for (name, value) in answer.headers {
                if let n = HTTPFields.Element.Name(name) { response.headers[n] = value }
            }
            return response
        }
        router.post("/metadata") { [self] request, _ in
            Self.json(200, try service.metadata(body: try await collect(request), host: Self.host(request)).json)
        }
        router.get("/image") { [self] request, _ in try image(request) }
        return router
    }

    /// The request's Host (HTTP/1.1's header, as `authority`), for absolute result URLs; nil when absent or not
    /// a plain host[:port].
    static func host(_ request: Request) -> String? {
        guard let h = request.head.authority, !h.isEmpty, h.utf8.count <= 255,
              h.unicodeScalars.allSatisfy({ CharacterSet.alphanumerics.contains($0) && $0.isASCII || ".-:[]".unicodeScalars.contains($0) })
        else { return nil }
        return h
    }

    var infoJSON: String {
        "{\"indices\": \(service.indicesListJSON), \"elip\": \(service.hasMapper), \"batching\": \(options.limits.batching), "
            + "\"max_results\": \(options.limits.maxResults), \"max_rerank_k\": \(options.limits.maxRerankK), "
            + "\"version\": \(JSONText.quoted(ClipCoreVersion.string))}"
    }

    func collect(_ request: Request) async throws -> [UInt8] {
        do {
            let buffer = try await request.body.collect(upTo: options.limits.maxBodyBytes)
            return Array(buffer.readableBytesView)
        } catch is NIOTooManyBytesError {
            metrics.refused("body")
            throw APIError(413, "the request body is larger than \(options.limits.maxBodyBytes) bytes")
        }
    }

    /// `GET /image?index=NAME&path=REL`: a file under the index's image root, else 404.
    func image(_ request: Request) throws -> Response {
        let q = request.uri.queryParameters
        guard let name = q.get("index"), let path = q.get("path"),
              let ix = service.indices.first(where: { $0.name == name }), let guardian = ix.images,
              let file = guardian.resolve(path), let data = FileManager.default.contents(atPath: file) else {
            throw APIError.notFound("no such image")
        }
        let ext = (file as NSString).pathExtension.lowercased()
        let type = ["png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "webp": "image/webp", "gif": "image/gif"][ext]
            ?? "application/octet-stream"
        var response = Response(status: .ok, headers: [.contentType: type],
                                body: .init(byteBuffer: ByteBuffer(bytes: data)))
        response.headers[.cacheControl] = "max-age=3600"
        return response
    }

    // MARK: - Responses

    static func respond(_ status: Int, _ body: String, type: String) -> Response {
        Response(status: .init(code: status), headers: [.contentType: type], body: .init(byteBuffer: ByteBuffer(string: body)))
    }

    static func json(_ status: Int, _ body: String) -> Response { respond(status, body, type: "application/json") }
    static func text(_ body: String) -> Response { respond(200, body, type: "text/plain; charset=utf-8") }

    static func error(_ e: APIError) -> Response {
        var r = json(e.status, e.json)
        if let s = e.retryAfter { r.headers[.retryAfter] = String(s) }
        return r
    }
}

/// Before every route: the bearer token (all but /health and the static page, which holds no data), a request slot (all but /health and /metrics; 429 when
/// none is free); after it: errors as JSON, and the request counted in the metrics.
struct GateMiddleware: RouterMiddleware {
    typealias Context = BasicRequestContext
    let server: ServeServer

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = DispatchTime.now().uptimeNanoseconds
        let path = request.uri.path
        let route = ServeMetrics.route(path)
        var response: Response
        do {
            response = try await gate(request, path: path, context: context, next: next)
        } catch let e as APIError {
            if e.status == 503 { server.metrics.refused("queue") }
            response = ServeServer.error(e)
        } catch let e as any HTTPResponseError {
            response = ServeServer.error(APIError(Int(e.status.code), "\(e.status.reasonPhrase)"))
        } catch {
            response = ServeServer.error(APIError.from(error))
        }
        server.metrics.record(route: route, status: Int(response.status.code),
                              seconds: Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        return response
    }

    private func gate(_ request: Request, path: String, context: Context,
                      next: (Request, Context) async throws -> Response) async throws -> Response {
        if path == "/health" || path == "/" { return try await next(request, context) }
        if let key = server.options.apiKey {
            let given = request.headers[.authorization] ?? ""
            guard Self.bearerMatches(given, key: key) else {
                var r = ServeServer.error(APIError(401, "missing or wrong bearer token (Authorization: Bearer KEY)"))
                r.headers[.wwwAuthenticate] = "Bearer"
                return r
            }
        }
        if path == "/metrics" { return try await next(request, context) }
        guard server.metrics.enter(limit: server.options.limits.maxInFlight) else {
            server.metrics.refused("in_flight")
            throw APIError(429, "too many requests in flight (\(server.options.limits.maxInFlight)); retry later", retryAfter: 1)
        }
        defer { server.metrics.leave() }
        return try await next(request, context)
    }

    /// `Authorization: Bearer KEY`, the scheme in any case (RFC 9110: auth schemes are case-insensitive).
    static func bearerMatches(_ header: String, key: String) -> Bool {
        let scheme = header.prefix(7)
        guard scheme.lowercased() == "bearer " else { return false }
        return constantTimeEqual(String(header.dropFirst(7)), key)
    }

    static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        var diff = UInt8(x.count == y.count ? 0 : 1)
        for i in 0..<min(x.count, y.count) { diff |= x[i] ^ y[i] }
        return diff == 0
    }
}
