extension JSON {
    /// The compact UTF-8 serialization, object keys in sorted order.
    public func serialized() -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(256)
        write(to: &output)
        return output
    }

    /// The compact serialization as a string.
    public var text: String { String(decoding: serialized(), as: UTF8.self) }

    /// Appends the compact serialization to `output`.
    public func write(to output: inout [UInt8]) {
        switch self {
        case .null: output.append(contentsOf: "null".utf8)
        case .bool(let value): output.append(contentsOf: (value ? "true" : "false").utf8)
        case .integer(let value): output.append(contentsOf: String(value).utf8)
        case .double(let value): output.append(contentsOf: value.description.utf8)
        case .string(let value): JSON.writeString(value, to: &output)
        case .array(let elements):
            JSON.writeArray(elements, to: &output) { element, output in element.write(to: &output) }
        case .object(let members):
            JSON.writeObject(members, to: &output) { value, output in value.write(to: &output) }
        }
    }

    /// Appends an array of `elements`, each written by `writeElement`: for elements that are not
    /// `JSON` trees but know how to write themselves (inlinable, as `writeObject` below).
    @inlinable
    public static func writeArray<Elements: Sequence>(
        _ elements: Elements, to output: inout [UInt8],
        writeElement: (Elements.Element, inout [UInt8]) -> Void
    ) {
        output.append(UInt8(ascii: "["))
        var first = true
        for element in elements {
            if !first { output.append(UInt8(ascii: ",")) }
            first = false
            writeElement(element, &output)
        }
        output.append(UInt8(ascii: "]"))
    }

    /// Appends an object of `members`, keys in sorted order, each value written by `writeValue`:
    /// for values that are not `JSON` trees but know how to write themselves. Inlinable, so that
    /// it is specialised for the caller's value type (unspecialised, its generic metadata
    /// lookups and sort cost more than the writing).
    @inlinable
    public static func writeObject<Value>(
        _ members: [String: Value], to output: inout [UInt8],
        writeValue: (Value, inout [UInt8]) -> Void
    ) {
        output.append(UInt8(ascii: "{"))
        for (position, member) in members.sorted(by: { $0.key < $1.key }).enumerated() {
            if position > 0 { output.append(UInt8(ascii: ",")) }
            writeString(member.key, to: &output)
            output.append(UInt8(ascii: ":"))
            writeValue(member.value, &output)
        }
        output.append(UInt8(ascii: "}"))
    }

    /// Appends `value` as a JSON string literal, escaping what RFC 8259 requires.
    public static func writeString(_ value: String, to output: inout [UInt8]) {
        output.append(UInt8(ascii: "\""))
        // The common case, nothing to escape, checked and copied on the contiguous bytes.
        let copied = value.utf8.withContiguousStorageIfAvailable { bytes -> Bool in
            for byte in bytes where byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") { return false }
            output.append(contentsOf: bytes)
            return true
        }
        if copied == true {
            output.append(UInt8(ascii: "\""))
            return
        }
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "\""): output.append(contentsOf: [0x5C, 0x22])
            case UInt8(ascii: "\\"): output.append(contentsOf: [0x5C, 0x5C])
            case 0x0A: output.append(contentsOf: [0x5C, UInt8(ascii: "n")])
            case 0x0D: output.append(contentsOf: [0x5C, UInt8(ascii: "r")])
            case 0x09: output.append(contentsOf: [0x5C, UInt8(ascii: "t")])
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                output.append(contentsOf: [0x5C, UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"), hex[Int(byte >> 4)], hex[Int(byte & 0xF)]])
            default: output.append(byte)
            }
        }
        output.append(UInt8(ascii: "\""))
    }
}
