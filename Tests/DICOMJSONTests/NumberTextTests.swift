import Testing
@testable import DICOMJSON

@Suite struct NumberTextTests {
    @Test func decimalStringToJSONNumber() {
        #expect(NumberText.jsonNumber(decimalString: "1.50") == "1.50")
        #expect(NumberText.jsonNumber(decimalString: "-1.25E-2") == "-1.25E-2")
        #expect(NumberText.jsonNumber(decimalString: "+1e+3") == "1e+3")
        #expect(NumberText.jsonNumber(decimalString: ".5") == "0.5")
        #expect(NumberText.jsonNumber(decimalString: "-.5e2") == "-0.5e2")
        #expect(NumberText.jsonNumber(decimalString: "5.") == "5")
        #expect(NumberText.jsonNumber(decimalString: "000.25") == "0.25")
        for invalid in ["", ".", "-", "e5", "1e", "1e+", "abc", "1.2.3", "1 2", "0x1p3", "inf", "nan", "1,5"] {
            #expect(NumberText.jsonNumber(decimalString: Substring(invalid)) == nil, "\(invalid)")
        }
    }

    @Test func integerStringToJSONNumber() {
        #expect(NumberText.jsonNumber(integerString: "+0012") == "12")
        #expect(NumberText.jsonNumber(integerString: "-0") == "0")
        #expect(NumberText.jsonNumber(integerString: "-2147483648") == "-2147483648")
        for invalid in ["", "+", "1.0", "1e3", "12a", "99999999999999999999"] {
            #expect(NumberText.jsonNumber(integerString: Substring(invalid)) == nil, "\(invalid)")
        }
    }

    @Test func jsonNumberToDecimalStringFitsSixteenCharacters() {
        #expect(NumberText.decimalString(jsonNumber: "1.50") == "1.50")
        #expect(NumberText.decimalString(jsonNumber: "12345678.1234567") == "12345678.1234567")  // exactly 16
        #expect(NumberText.decimalString(jsonNumber: "3.14159265358979323846") == "3.14159265358979")
        #expect(NumberText.decimalString(jsonNumber: "0.10000000000000000555") == "0.1")
        #expect(NumberText.decimalString(jsonNumber: "123456789012345678") == "1.23456789012e17")
        #expect(NumberText.decimalString(jsonNumber: "-0.000000000000000001234") == "-1.234e-18")
        #expect(NumberText.decimalString(jsonNumber: "1e400") == nil)
        for literal in ["3.14159265358979323846", "-0.000000000000000001234", "123456789012345678", "2.2250738585072014e-308"] {
            let text = NumberText.decimalString(jsonNumber: literal)
            #expect((text?.utf8.count ?? 99) <= 16, "\(literal) -> \(text ?? "nil")")
        }
    }

    @Test func jsonNumberToInteger() {
        #expect(NumberText.integer(jsonNumber: "65535", as: UInt16.self) == 65535)
        #expect(NumberText.integer(jsonNumber: "65536", as: UInt16.self) == nil)
        #expect(NumberText.integer(jsonNumber: "-1", as: UInt16.self) == nil)
        #expect(NumberText.integer(jsonNumber: "1e3", as: Int32.self) == 1000)
        #expect(NumberText.integer(jsonNumber: "-2.0", as: Int32.self) == -2)
        #expect(NumberText.integer(jsonNumber: "2.5", as: Int32.self) == nil)
        #expect(NumberText.integer(jsonNumber: "18446744073709551615", as: UInt64.self) == .max)
        #expect(NumberText.integer(jsonNumber: "-9223372036854775808", as: Int64.self) == .min)
    }
}
