import DICOMCore
import Foundation

/// Runs `body` `iterations` times and prints the time per call, plus throughput for `bytes` per call.
func measure(_ label: String, iterations: Int, bytes: Int, _ body: () -> Int) {
    var sink = 0
    for _ in 0..<min(1000, iterations) { sink &+= body() }  // warm up
    let start = DispatchTime.now().uptimeNanoseconds
    for _ in 0..<iterations { sink &+= body() }
    let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start)
    let perCall = elapsed / Double(iterations)
    let megabytesPerSecond = Double(bytes) / perCall * 1e9 / 1e6
    print(label.padding(toLength: 58, withPad: " ", startingAt: 0)
          + String(format: "%9.1f ns/value  %8.1f MB/s", perCall, megabytesPerSecond) + (sink == 42 ? " " : ""))
}

let cyrillic = try SpecificCharacterSet(terms: ["ISO_IR 144"])
let russian = Data(try cyrillic.encode("Иванов^Иван", vr: .PN))
let russianArray = [UInt8](russian)
let longRussian = Data(try cyrillic.encode(String(repeating: "Иванов Иван Петрович, улица Ленина 1. ", count: 1700), vr: .LT))
let japanese = try SpecificCharacterSet(terms: ["", "ISO 2022 IR 87"])
let japaneseName = Data(try japanese.encode("Yamada^Tarou=山田^太郎=やまだ^たろう", vr: .PN))
let korean = try SpecificCharacterSet(terms: ["", "ISO 2022 IR 149"])
let koreanName = Data(try korean.encode("Hong^Gildong=洪^吉洞=홍^길동", vr: .PN))
let gb18030 = try SpecificCharacterSet(terms: ["GB18030"])
let chineseName = Data(try gb18030.encode("Wang^XiaoDong=王^小东", vr: .PN))
let utf8Name = Data("Асанбеков^Үмүт".utf8)
let latin1 = try SpecificCharacterSet(terms: ["ISO_IR 100"])
let asciiName = Data("Smith^John^Q".utf8)
let n = 1_000_000

print("decode")
measure("ISO_IR 144 \"Иванов^Иван\" (11 B, Data)", iterations: n, bytes: russian.count) { cyrillic.decode(russian, vr: .PN).utf8.count }
measure("ISO_IR 144 \"Иванов^Иван\" (11 B, [UInt8])", iterations: n, bytes: russian.count) { cyrillic.decode(russianArray, vr: .PN).utf8.count }
measure("ISO_IR 144 LT, \(longRussian.count / 1024) KiB", iterations: 2000, bytes: longRussian.count) { cyrillic.decode(longRussian, vr: .LT).utf8.count }
measure("ISO_IR 100 ASCII name (12 B)", iterations: n, bytes: asciiName.count) { latin1.decode(asciiName, vr: .PN).utf8.count }
measure("ISO_IR 192 \"Асанбеков^Үмүт\" (\(utf8Name.count) B)", iterations: n, bytes: utf8Name.count) { SpecificCharacterSet.utf8.decode(utf8Name, vr: .PN).utf8.count }
measure("ISO 2022 IR 87 Example H.3-1 (\(japaneseName.count) B)", iterations: n / 10, bytes: japaneseName.count) { japanese.decode(japaneseName, vr: .PN).utf8.count }
measure("ISO 2022 IR 149 Example I.2-1 (\(koreanName.count) B)", iterations: n / 10, bytes: koreanName.count) { korean.decode(koreanName, vr: .PN).utf8.count }
measure("GB18030 Example K.1-1 (\(chineseName.count) B)", iterations: n / 10, bytes: chineseName.count) { gb18030.decode(chineseName, vr: .PN).utf8.count }
measure("PersonName from ISO_IR 144 bytes", iterations: n, bytes: russian.count) { cyrillic.decodePersonName(russian).alphabetic.givenName.utf8.count }
print("encode")
measure("ISO_IR 144 \"Иванов^Иван\"", iterations: n, bytes: russian.count) { (try? cyrillic.encode("Иванов^Иван", vr: .PN).count) ?? 0 }
measure("ISO 2022 IR 87 Example H.3-1", iterations: n / 10, bytes: japaneseName.count) { (try? japanese.encode("Yamada^Tarou=山田^太郎=やまだ^たろう", vr: .PN).count) ?? 0 }
measure("GB18030 Example K.1-1", iterations: n / 10, bytes: chineseName.count) { (try? gb18030.encode("Wang^XiaoDong=王^小东", vr: .PN).count) ?? 0 }
print("baseline")
measure("String(decoding:as: UTF8) of the 21-byte UTF-8 form", iterations: n, bytes: 21) { String(decoding: Array("Иванов^Иван".utf8), as: UTF8.self).utf8.count }
