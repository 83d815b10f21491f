import Foundation

/// A listener of its own: `host:port` (`0.0.0.0:8080`, `127.0.0.1:0` for a free port, `[::1]:8080`).
public struct ListenAddress: Sendable, Hashable, CustomStringConvertible {
    public let host: String
    public let port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `host:port`; nil when it is not one.
    public init?(_ text: String) {
        guard let colon = text.lastIndex(of: ":") else { return nil }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty, !host.contains(where: \.isWhitespace),
              let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else { return nil }
        self.init(host: host, port: port)
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// Where an API surface is served: a listener of its own, or a path prefix on Parley's main listener (or both:
/// a prefix on its own listener). A profile module takes `listen` and `prefix` options and builds this.
public struct SurfaceMount: Sendable, Hashable, CustomStringConvertible {
    /// Nil: the main listener (`server.host:server.port`).
    public let listen: ListenAddress?
    /// `""` or `/compat/rooms`: prepended to every route and realtime path of the surface.
    public let prefix: String

    /// - Parameters:
    ///   - listen: `host:port`, or empty for the main listener.
    ///   - prefix: empty, or a path starting with `/` (a trailing `/` is dropped).
    /// - Throws: a message for the option that is wrong, for a module's `validate()`.
    public init(listen: String, prefix: String) throws(SurfaceMountError) {
        if listen.isEmpty {
            self.listen = nil
        } else if let address = ListenAddress(listen) {
            self.listen = address
        } else {
            throw SurfaceMountError(option: "listen", message: "expected host:port (e.g. 0.0.0.0:8080), or empty for the main listener")
        }
        var prefix = prefix
        while prefix.hasSuffix("/") { prefix.removeLast() }
        if !prefix.isEmpty {
            guard prefix.hasPrefix("/"), !prefix.contains("?"), !prefix.contains("{"), !prefix.contains(":"),
                  !prefix.contains(where: \.isWhitespace) else {
                throw SurfaceMountError(option: "prefix", message: "expected a path such as /compat/rooms (no captures, query or spaces)")
            }
        }
        self.prefix = prefix
    }

    public var description: String {
        (listen.map { "http://\($0)" } ?? "main listener") + (prefix.isEmpty ? "" : " at \(prefix)")
    }
}

public struct SurfaceMountError: Error, Sendable {
    public let option: String
    public let message: String
}
