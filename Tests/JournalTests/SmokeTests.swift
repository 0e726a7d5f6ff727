import TestSupport
import Testing

@testable import Journal

@Suite struct SmokeTests {
    @Test func createAppendReadReopen() throws {
        let path = TestDirectory().file("smoke.sj")
        let journal = try Journal(path: path)
        let id = try journal.createStream(StreamID("s1"), metadata: ["model": "m"])
        for i in 0..<200 { try journal.append("chunk \(i)", to: id) }
        try journal.complete(id)
        var cursor = try journal.chunks(of: id, from: 63)
        let texts = try cursor.collect().map(\.text)
        #expect(texts == (63..<200).map { "chunk \($0)" })
        try journal.close()

        let again = try Journal(path: path)
        #expect(again.recoveryReport.snapshotOffset != nil)
        #expect(try again.info(id).status == .completed)
        #expect(try again.info(id).chunkCount == 200)
        var all = try again.chunks(of: id)
        #expect(try all.collect().map(\.text) == (0..<200).map { "chunk \($0)" })
        try again.close()
    }
}
