/// A number as HTTP fields, query parameters and SSE event ids carry it: one or more ASCII
/// digits (`1*DIGIT`), leading zeros allowed. Shared by the SSE resume rules and the server's
/// parser, so that "0001" means 1 everywhere, whatever the number of zeros.
package enum DecimalNumber: Equatable {
    /// The value: below 10^18, which keeps the index arithmetic done on it (`+ 1`, sums
    /// with counts) far from `Int`'s range.
    case value(Int)
    /// Digits only, but more than 18 of them after the leading zeros.
    case tooLarge

    /// Nil when `text` is empty or holds anything but ASCII digits (no sign, no space).
    package init?(_ text: some StringProtocol) {
        let digits = text.utf8
        guard !digits.isEmpty, digits.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else {
            return nil
        }
        let significant = digits.drop { $0 == UInt8(ascii: "0") }
        guard significant.count <= 18 else {
            self = .tooLarge
            return
        }
        var value = 0
        for digit in significant { value = value * 10 + Int(digit - UInt8(ascii: "0")) }
        self = .value(value)
    }
}
