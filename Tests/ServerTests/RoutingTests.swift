import Journal
import Testing

@testable import JournalServer

/// Request targets, routes and stream ids from hostile paths.
@Suite struct RoutingTests {
    func match(_ method: HTTPMethod, _ target: String) throws -> Route.Match {
        Route.match(method: method, segments: try RequestTarget(target).segments)
    }

    @Test func routesEveryEndpoint() throws {
        let id = try StreamID("s-1")
        #expect(try match(.get, "/healthz") == .route(.health))
        #expect(try match(.get, "/metrics") == .route(.metrics))
        #expect(try match(.get, "/streams?status=open") == .route(.listStreams))
        #expect(try match(.get, "/streams/") == .route(.listStreams))
        #expect(try match(.post, "/streams") == .route(.createGenerated))
        #expect(try match(.put, "/streams/s-1") == .route(.create(id)))
        #expect(try match(.get, "/streams/s-1") == .route(.info(id)))
        #expect(try match(.head, "/streams/s-1") == .route(.info(id)))
        #expect(try match(.delete, "/streams/s-1") == .route(.delete(id)))
        #expect(try match(.post, "/streams/s-1/chunks?index=3") == .route(.append(id)))
        #expect(try match(.get, "/streams/s-1/chunks?from=2") == .route(.readChunks(id)))
        #expect(try match(.post, "/streams/s-1/batch") == .route(.appendBatch(id)))
        #expect(try match(.post, "/streams/s-1/complete") == .route(.complete(id)))
        #expect(try match(.post, "/streams/s-1/fail") == .route(.fail(id)))
        #expect(try match(.post, "/streams/s-1/cancel") == .route(.cancel(id)))
        #expect(try match(.get, "/streams/s-1/events") == .route(.events(id)))
        #expect(try match(.get, "/streams/s%2D1/events") == .route(.events(id)))
        #expect(try match(.head, "/streams/s-1/events") == .route(.events(id)))
    }

    @Test func wrongMethodsAre405WithAllowAndUnknownPaths404() throws {
        #expect(try match(.other("BREW"), "/streams/a") == .methodNotAllowed(allow: ["GET", "PUT", "DELETE"]))
        #expect(try match(.delete, "/streams/a/events") == .methodNotAllowed(allow: ["GET"]))
        #expect(try match(.post, "/healthz") == .methodNotAllowed(allow: ["GET"]))
        #expect(try match(.get, "/nothing") == .notFound)
        #expect(try match(.get, "/streams/a/b/c") == .notFound)
        #expect(try match(.get, "/") == .notFound)
    }

    @Test(arguments: [
        "/streams/..", "/streams/a..b", "/streams/%2E%2E", "/streams/a%2Fb", "/streams/%FF%FE",
        "/streams/%C3%A9", "/streams/a%00b", "/streams/" + String(repeating: "x", count: 200), "/streams/a%20b",
    ])
    func invalidStreamIDsAre400(_ target: String) throws {
        guard case .invalidStreamID = try match(.get, target) else {
            Issue.record("\(target) was accepted")
            return
        }
    }

    @Test func badPercentEscapesAreRejected() {
        #expect(throws: RequestTarget.DecodingError.self) { try RequestTarget("/streams/%zz") }
        #expect(throws: RequestTarget.DecodingError.self) { try RequestTarget("/streams/a%2") }
        #expect(throws: RequestTarget.DecodingError.self) { try RequestTarget("/streams?x=%FF") }
    }

    @Test func queryParametersAreDecoded() throws {
        let target = try RequestTarget("/streams/a/events?lastEventId=4&from=2&x=a+b%21")
        #expect(target.queryValue("lastEventId") == "4")
        #expect(target.queryValue("x") == "a b!")
        #expect(target.queryValue("missing") == nil)
    }
}
