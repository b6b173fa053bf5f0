import Foundation
import Testing
@testable import MovieLens

@Suite("Tokenizer and number parsing")
struct ParsingTests {
    func fields(_ text: String, dialect: Dialect = .csv) throws -> [String] {
        let bytes = Array(text.utf8)
        return try bytes.withUnsafeBufferPointer { b in
            let t = CSVTokenizer(bytes: b, dialect: dialect)
            _ = try t.nextRecord(from: 0, end: b.count)
            return t.fields.all.map { t.string($0) ?? "<invalid>" }
        }
    }

    @Test("RFC 4180 quoting: commas, doubled quotes, newlines inside quotes, CRLF")
    func quoting() throws {
        #expect(try fields("1,\"American President, The (1995)\",Comedy\r\n") == ["1", "American President, The (1995)", "Comedy"])
        #expect(try fields("7,\"Say \"\"Hi\"\"\",x\n") == ["7", "Say \"Hi\"", "x"])
        #expect(try fields("\"a\nb\",c") == ["a\nb", "c"])
        #expect(try fields("a,,c\n") == ["a", "", "c"])
        #expect(try fields("a,b,\n") == ["a", "b", ""])
        #expect(try fields("1::Toy Story (1995)::Animation\n", dialect: .doubleColon) == ["1", "Toy Story (1995)", "Animation"])
        #expect(try fields("196\t242\t3\t881250949\n", dialect: .tab) == ["196", "242", "3", "881250949"])
    }

    @Test("tokenizer failures are typed")
    func failures() throws {
        #expect(throws: TokenizeFailure.self) { try fields("1,\"never closed\n2,3") }
        #expect(throws: TokenizeFailure.self) { try fields("1,\"x\"y,2\n") }
    }

    @Test("numbers straight from bytes")
    func numbers() {
        func dec(_ s: String) -> Double? { Array(s.utf8).withUnsafeBufferPointer { NumberParsing.decimal($0, 0, $0.count) } }
        func int(_ s: String) -> Int64? { Array(s.utf8).withUnsafeBufferPointer { NumberParsing.integer($0, 0, $0.count) } }
        func date(_ s: String) -> Int64? { Array(s.utf8).withUnsafeBufferPointer { NumberParsing.dateTime($0, 0, $0.count) } }
        #expect(dec("4.0") == 4 && dec("3.5") == 3.5 && dec("5") == 5 && dec(".5") == 0.5 && dec("-0.25") == -0.25)
        #expect(dec("0.02500") == 0.025 && dec("1e-3") == 0.001 && dec("1.00000") == 1)
        #expect(dec("") == nil && dec("abc") == nil && dec("4.0x") == nil && dec(".") == nil && dec("1e") == nil)
        #expect(int("964982703") == 964_982_703 && int("-3") == -3 && int("") == nil && int("12a") == nil && int(" 1") == nil)
        #expect(date("2005-04-02 23:53:47") == 1_112_486_027)
        #expect(date("1970-01-01 00:00:00") == 0)
        #expect(date("2005-13-02 23:53:47") == nil && date("2005-04-02") == nil)
    }

    @Test("titles give years; genre lists split")
    func movies() {
        #expect(Movie.year(inTitle: "Toy Story (1995)") == 1995)
        #expect(Movie.year(inTitle: "Babylon 5 ") == nil)
        #expect(Movie.year(inTitle: "Stranger Things (2016-)") == 2016)
        #expect(Movie.year(inTitle: "Movie (1995) ") == 1995)
        #expect(Movie.genres(from: "Adventure|Sci-Fi|Film-Noir") == ["Adventure", "Sci-Fi", "Film-Noir"])
        #expect(Movie.genres(from: "(no genres listed)").isEmpty)
    }

    @Test("newline counting matches a byte loop")
    func newlineCount() {
        var g = SeededTestGenerator(seed: 3)
        for length in [0, 1, 7, 8, 9, 63, 64, 1000] {
            let bytes = (0..<length).map { _ in g.next() % 4 == 0 ? UInt8(10) : UInt8(65 + g.next() % 20) }
            let expected = bytes.filter { $0 == 10 }.count
            #expect(bytes.withUnsafeBufferPointer { countNewlines($0) } == expected)
        }
    }
}

/// A tiny deterministic generator for test inputs.
struct SeededTestGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed &+ 0x9E37_79B9_7F4A_7C15 }
    mutating func next() -> UInt64 {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return state >> 33
    }
}
