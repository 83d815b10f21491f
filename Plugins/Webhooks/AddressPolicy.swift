import Foundation
import NIOPosix
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where outgoing webhooks may point: http(s) URLs only, and (unless the manifest allows it) never at an address
/// of this host or its private network (SSRF: a channel admin must not make the server probe its own network).
/// Checked when a webhook is registered and again before every delivery, since DNS answers may change.
enum AddressPolicy {
    /// A URL a webhook may be registered with: the parts a delivery needs.
    struct Target: Sendable, Equatable {
        let url: String
        let host: String
        let port: Int
        let isHTTPS: Bool
    }

    static let maxURLBytes = 2048

    /// Syntax only (no DNS): an absolute http or https URL with a host, without credentials or a fragment.
    static func parse(_ text: String) -> Result<Target, PolicyError> {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty else { return .failure(.syntax("must not be empty")) }
        guard trimmed.utf8.count <= maxURLBytes else { return .failure(.syntax("must be at most \(maxURLBytes) bytes")) }
        guard let components = URLComponents(string: trimmed), let scheme = components.scheme?.lowercased() else {
            return .failure(.syntax("must be an absolute URL (http:// or https://)"))
        }
        guard scheme == "http" || scheme == "https" else { return .failure(.syntax("must be an http or https URL")) }
        guard var host = components.host, !host.isEmpty else { return .failure(.syntax("must name a host")) }
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard components.user == nil, components.password == nil else {
            return .failure(.syntax("must not carry credentials (use the signature to authenticate deliveries)"))
        }
        guard components.fragment == nil else { return .failure(.syntax("must not have a fragment")) }
        let port = components.port ?? (scheme == "https" ? 443 : 80)
        guard (1...65_535).contains(port) else { return .failure(.syntax("has an invalid port")) }
        return .success(Target(url: trimmed, host: host.lowercased(), port: port, isHTTPS: scheme == "https"))
    }

    enum PolicyError: Error, Equatable, CustomStringConvertible {
        case syntax(String)
        case unresolvable(String)
        case privateAddress(host: String, address: String)

        var description: String {
            switch self {
            case .syntax(let message): return message
            case .unresolvable(let host): return "host '\(host)' does not resolve"
            case .privateAddress(let host, let address):
                return "host '\(host)' resolves to \(address), a loopback, private or link-local address "
                    + "(allowed only with modules.webhooks.allow_private_addresses)"
            }
        }
    }

    /// Resolves the target's host and refuses it when any of its addresses is not public (a name with one public
    /// and one private address could be steered to the private one). nil when the target may be called.
    static func check(_ target: Target, allowPrivate: Bool) async -> PolicyError? {
        if allowPrivate { return nil }
        let addresses: [IPAddress]
        if let literal = IPAddress(literal: target.host) {
            addresses = [literal]
        } else {
            addresses = (try? await resolve(target.host)) ?? []
            if addresses.isEmpty { return .unresolvable(target.host) }
        }
        if let refused = addresses.first(where: { !$0.isPublic }) {
            return .privateAddress(host: target.host, address: refused.description)
        }
        return nil
    }

    /// Every address `getaddrinfo` gives for `host`, on NIO's blocking pool (it may wait on a DNS server).
    static func resolve(_ host: String) async throws -> [IPAddress] {
        try await NIOThreadPool.singleton.runIfActive {
            var hints = addrinfo()
            hints.ai_family = AF_UNSPEC
            #if canImport(Glibc)
            hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
            #else
            hints.ai_socktype = SOCK_STREAM
            #endif
            var list: UnsafeMutablePointer<addrinfo>?
            guard getaddrinfo(host, nil, &hints, &list) == 0, let first = list else { return [] }
            defer { freeaddrinfo(first) }
            var found: [IPAddress] = []
            var cursor: UnsafeMutablePointer<addrinfo>? = first
            while let entry = cursor {
                if let address = entry.pointee.ai_addr {
                    switch Int32(address.pointee.sa_family) {
                    case AF_INET:
                        address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { v4 in
                            var raw = v4.pointee.sin_addr
                            found.append(IPAddress(bytes: withUnsafeBytes(of: &raw) { Array($0) }))
                        }
                    case AF_INET6:
                        address.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { v6 in
                            var raw = v6.pointee.sin6_addr
                            found.append(IPAddress(bytes: withUnsafeBytes(of: &raw) { Array($0) }))
                        }
                    default:
                        break
                    }
                }
                cursor = entry.pointee.ai_next
            }
            return found
        }
    }
}

/// An IPv4 (4 bytes) or IPv6 (16 bytes) address, network order.
struct IPAddress: Sendable, Equatable, CustomStringConvertible {
    let bytes: [UInt8]

    init(bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// A literal address (`127.0.0.1`, `::1`), or nil for a name.
    init?(literal: String) {
        var v4 = in_addr()
        if inet_pton(AF_INET, literal, &v4) == 1 {
            bytes = withUnsafeBytes(of: &v4) { Array($0) }
            return
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, literal, &v6) == 1 {
            bytes = withUnsafeBytes(of: &v6) { Array($0) }
            return
        }
        return nil
    }

    var description: String {
        if bytes.count == 4 { return bytes.map(String.init).joined(separator: ".") }
        var groups: [String] = []
        for index in stride(from: 0, to: 16, by: 2) { groups.append(String(UInt16(bytes[index]) << 8 | UInt16(bytes[index + 1]), radix: 16)) }
        return groups.joined(separator: ":")
    }

    /// Whether the first `bits` bits equal those of `prefix`.
    private func within(_ prefix: [UInt8], _ bits: Int) -> Bool {
        for bit in 0..<bits {
            let mask = UInt8(0x80) >> UInt8(bit % 8)
            if bytes[bit / 8] & mask != prefix[bit / 8] & mask { return false }
        }
        return true
    }

    /// Routable on the public internet: not this host, not a private, shared, link-local, multicast, reserved or
    /// documentation range (RFC 6890's special-purpose registries); IPv6 forms that embed an IPv4 address are
    /// judged by that address.
    var isPublic: Bool {
        if bytes.count == 4 {
            let blocked: [([UInt8], Int)] = [
                ([0, 0, 0, 0], 8), ([10, 0, 0, 0], 8), ([100, 64, 0, 0], 10), ([127, 0, 0, 0], 8), ([169, 254, 0, 0], 16),
                ([172, 16, 0, 0], 12), ([192, 0, 0, 0], 24), ([192, 0, 2, 0], 24), ([192, 88, 99, 0], 24), ([192, 168, 0, 0], 16),
                ([198, 18, 0, 0], 15), ([198, 51, 100, 0], 24), ([203, 0, 113, 0], 24), ([224, 0, 0, 0], 4), ([240, 0, 0, 0], 4),
            ]
            return !blocked.contains { within($0.0, $0.1) }
        }
        guard bytes.count == 16 else { return false }
        // ::ffff:a.b.c.d (mapped), 64:ff9b::a.b.c.d (NAT64), ::a.b.c.d (compatible, deprecated).
        let mapped: [UInt8] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF]
        let nat64: [UInt8] = [0, 0x64, 0xFF, 0x9B, 0, 0, 0, 0, 0, 0, 0, 0]
        if Array(bytes[0..<12]) == mapped || Array(bytes[0..<12]) == nat64 {
            return IPAddress(bytes: Array(bytes[12..<16])).isPublic
        }
        if bytes[0..<12].allSatisfy({ $0 == 0 }) { return false }  // ::, ::1 and the IPv4-compatible block
        let blocked: [([UInt8], Int)] = [
            ([0xFC] + Array(repeating: 0, count: 15), 7),         // unique local
            ([0xFE, 0x80] + Array(repeating: 0, count: 14), 10),  // link-local
            ([0xFE, 0xC0] + Array(repeating: 0, count: 14), 10),  // site-local (deprecated)
            ([0xFF] + Array(repeating: 0, count: 15), 8),         // multicast
            ([0x20, 0x01, 0x0D, 0xB8] + Array(repeating: 0, count: 12), 32),  // documentation
            ([0x01, 0x00] + Array(repeating: 0, count: 14), 64),  // discard-only
        ]
        return !blocked.contains { within($0.0, $0.1) }
    }
}
