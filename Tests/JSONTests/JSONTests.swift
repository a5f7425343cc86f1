import Testing

@testable import JSON

@Suite struct JSONParserTests {
    @Test func parsesEveryKindOfValue() throws {
        let value = try JSONParser.parse(#" {"a": [1, -2.5e3, true, false, null, "x"], "b": {"c": {}}, "d": []} "#)
        #expect(
            value
                == .object([
                    "a": .array([.integer(1), .double(-2500), .bool(true), .bool(false), .null, .string("x")]),
                    "b": .object(["c": .object([:])]),
                    "d": .array([]),
                ]))
    }

    @Test func decodesEscapesAndSurrogatePairs() throws {
        let value = try JSONParser.parse(#""q\"b\\s\/n\nt\tu\u00e9\ud83d\ude00""#)
        #expect(value == .string("q\"b\\s/n\nt\tué\u{1F600}"))
    }

    @Test func keepsUTF8Text() throws {
        #expect(try JSONParser.parse(Array("\"Zoë ✂️\"".utf8)) == .string("Zoë ✂️"))
    }

    @Test func integersBeyond64BitsBecomeDoubles() throws {
        #expect(try JSONParser.parse("9223372036854775807") == .integer(.max))
        #expect(try JSONParser.parse("9223372036854775808") == .double(9_223_372_036_854_775_808))
    }

    @Test(arguments: [
        "", " ", "{", "[1,]", "{\"a\":1,}", "{\"a\" 1}", "{a:1}", "'x'", "01", "1.", ".5", "-", "1e", "+1",
        "tru", "nul", "[1 2]", "\"unterminated", "\"tab\there\"", "\"\\x\"", "\"\\ud83d\"", "\"\\ude00\"",
        "{\"a\":1,\"a\":2}", "1 2", "[] x", "1e999", "\"\\u12G4\"",
    ])
    func rejectsMalformedText(_ text: String) {
        #expect(throws: JSONParseError.self) { try JSONParser.parse(text) }
    }

    @Test func rejectsInvalidUTF8() {
        #expect(throws: JSONParseError.self) { try JSONParser.parse([0x22, 0xC3, 0x28, 0x22]) }
        #expect(throws: JSONParseError.self) { try JSONParser.parse([0x22, 0xED, 0xA0, 0x80, 0x22]) }  // encoded surrogate
    }

    @Test func limitsNesting() throws {
        let deepest = String(repeating: "[", count: JSONParser.maximumDepth) + String(repeating: "]", count: JSONParser.maximumDepth)
        _ = try JSONParser.parse(deepest)
        let tooDeep = "[" + deepest + "]"
        #expect(throws: JSONParseError.self) { try JSONParser.parse(tooDeep) }
    }

    @Test func reportsWhereItStopped() {
        #expect(throws: JSONParseError(reason: "expected ',' or ']'", offset: 3)) { try JSONParser.parse("[1 2]") }
    }
}

@Suite struct JSONSerializerTests {
    @Test func writesCompactTextWithSortedKeys() {
        let value = JSON.object(["b": .array([.integer(-1), .double(0.5), .null]), "a": .bool(true), "c": .string("x")])
        #expect(value.text == #"{"a":true,"b":[-1,0.5,null],"c":"x"}"#)
    }

    @Test func escapesWhatJSONRequires() {
        #expect(JSON.string("\"\\\n\r\t\u{01}\u{1F}é/").text == #""\"\\\n\r\t\u0001\u001fé/""#)
    }

    @Test(arguments: [
        #"{"services":[{"available_slots":["2026-12-01T09:30:00Z"],"service_id":"a","service_name":"A"}]}"#,
        #"["\u0000",-0.125,1e+300,{"":{}}]"#,
        #""\ud83d\ude00 \u2028""#,
    ])
    func parsingWhatItWroteGivesTheSameValue(_ text: String) throws {
        let value = try JSONParser.parse(text)
        #expect(try JSONParser.parse(value.serialized()) == value)
    }
}

/// JSON merge patch: the examples of RFC 7396, appendix A.
@Suite struct JSONMergePatchTests {
    @Test(arguments: [
        (#"{"a":"b"}"#, #"{"a":"c"}"#, #"{"a":"c"}"#),
        (#"{"a":"b"}"#, #"{"b":"c"}"#, #"{"a":"b","b":"c"}"#),
        (#"{"a":"b"}"#, #"{"a":null}"#, #"{}"#),
        (#"{"a":"b","b":"c"}"#, #"{"a":null}"#, #"{"b":"c"}"#),
        (#"{"a":["b"]}"#, #"{"a":"c"}"#, #"{"a":"c"}"#),
        (#"{"a":"c"}"#, #"{"a":["b"]}"#, #"{"a":["b"]}"#),
        (#"{"a":{"b":"c"}}"#, #"{"a":{"b":"d","c":null}}"#, #"{"a":{"b":"d"}}"#),
        (#"{"a":[{"b":"c"}]}"#, #"{"a":[1]}"#, #"{"a":[1]}"#),
        (#"["a","b"]"#, #"["c","d"]"#, #"["c","d"]"#),
        (#"{"a":"b"}"#, #"["c"]"#, #"["c"]"#),
        (#"{"a":"foo"}"#, "null", "null"),
        (#"{"a":"foo"}"#, #""bar""#, #""bar""#),
        (#"{"e":null}"#, #"{"a":1}"#, #"{"a":1,"e":null}"#),
        (#"[1,2]"#, #"{"a":"b","c":null}"#, #"{"a":"b"}"#),
        ("{}", #"{"a":{"bb":{"ccc":null}}}"#, #"{"a":{"bb":{}}}"#),
    ])
    func appliesAsTheRFCsExamplesSay(target: String, patch: String, result: String) throws {
        #expect(try JSONParser.parse(target).mergePatched(with: try JSONParser.parse(patch)) == (try JSONParser.parse(result)))
    }
}
