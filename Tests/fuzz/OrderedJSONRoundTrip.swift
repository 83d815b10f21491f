import Foundation

/// The ordered JSON encoder against Foundation's decoder: any JSON document Foundation reads as a `JSONValue`,
/// encoded by `OrderedJSONEncoder`, reads back as the same value.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let data = Data(UnsafeRawBufferPointer(start: start, count: count))
    guard let value = try? JSONDecoder().decode(JSONValue.self, from: data) else { return 0 }
    guard let encoded = try? OrderedJSONEncoder().encode(value) else {
        fatalError("OrderedJSONEncoder refused a value Foundation decoded: \(value)")
    }
    guard let again = try? JSONDecoder().decode(JSONValue.self, from: encoded) else {
        fatalError("Foundation cannot read what OrderedJSONEncoder wrote: \(String(decoding: encoded, as: UTF8.self))")
    }
    precondition(again == value, "round trip changed \(value) into \(again)")
    return 0
}
