import Foundation
import Logging

/// `logging.format: json`: one JSON object per line on standard output — `time`, `level`, `label`, `message`,
/// `source`, then every metadata value (the request id, module, user, connection) as a field of its own.
public struct JSONLogHandler: LogHandler {
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    let label: String

    public init(label: String) {
        self.label = label
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    private static let time = Date.ISO8601FormatStyle(includingFractionalSeconds: true, timeZone: .gmt)
    private static let reserved: Set<String> = ["time", "level", "label", "message", "source"]

    public func log(event: LogEvent) {
        var fields = metadata
        if let provided = metadataProvider?.get() { fields.merge(provided) { _, new in new } }
        if let extra = event.metadata { fields.merge(extra) { _, new in new } }
        var line = "{\"time\":\(JSONBody.quoted(Date().formatted(Self.time))),\"level\":\(JSONBody.quoted(event.level.rawValue))"
        line += ",\"label\":\(JSONBody.quoted(label)),\"message\":\(JSONBody.quoted(event.message.description))"
        line += ",\"source\":\(JSONBody.quoted(event.source))"
        for (key, value) in fields.sorted(by: { $0.key < $1.key }) {
            line += ",\(JSONBody.quoted(Self.reserved.contains(key) ? "meta_" + key : key)):\(JSONBody.quoted(value.description))"
        }
        line += "}\n"
        FileHandle.standardOutput.write(Data(line.utf8))
    }
}
