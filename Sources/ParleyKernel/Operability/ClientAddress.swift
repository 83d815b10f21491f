import Foundation
import Synchronization

/// The client's IP address for rate limiting: the socket's peer, unless that peer is a proxy the manifest
/// trusts, in which case the nearest `X-Forwarded-For` hop that is not itself a trusted proxy. Without
/// trusted proxies the header is ignored, so clients cannot pick their own key.
public struct ClientAddress: Sendable {
    let trusted: [Matcher]

    public init(trustedProxies: [String]) {
        trusted = trustedProxies.compactMap(Matcher.init)
    }

    public func resolve(socket: String?, forwardedFor: String?) -> String {
        guard let socket else { return "unknown" }
        guard !trusted.isEmpty, isTrusted(socket), let forwardedFor else { return socket }
        let hops = forwardedFor.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        // Right to left: the rightmost entries were added by our own proxies.
        for hop in hops.reversed() where !isTrusted(hop) { return hop }
        return hops.first ?? socket
    }

    func isTrusted(_ address: String) -> Bool { trusted.contains { $0.matches(address) } }

    /// An exact address (IPv4 or IPv6) or an IPv4 CIDR block.
    struct Matcher: Sendable {
        let exact: String?
        let network: UInt32
        let mask: UInt32

        init?(_ text: String) {
            let parts = text.split(separator: "/", maxSplits: 1).map(String.init)
            if parts.count == 1 {
                guard Self.ipv4(parts[0]) != nil || parts[0].contains(":") else { return nil }
                exact = parts[0].lowercased()
                network = 0
                mask = 0
                return
            }
            guard let base = Self.ipv4(parts[0]), let bits = Int(parts[1]), (0...32).contains(bits) else { return nil }
            exact = nil
            mask = bits == 0 ? 0 : UInt32.max << (32 - UInt32(bits))
            network = base & mask
        }

        func matches(_ address: String) -> Bool {
            if let exact { return exact == address.lowercased() }
            guard let value = Self.ipv4(address) else { return false }
            return value & mask == network
        }

        static func ipv4(_ text: String) -> UInt32? {
            let octets = text.split(separator: ".", omittingEmptySubsequences: false)
            guard octets.count == 4 else { return nil }
            var value: UInt32 = 0
            for octet in octets {
                guard let byte = UInt8(octet) else { return nil }
                value = value << 8 | UInt32(byte)
            }
            return value
        }
    }
}

/// Which policy each rate-limited route uses; routes not listed fall under `default`.
public final class RateLimitRoutes: Sendable {
    struct Rule: Sendable {
        let listener: String
        let method: String
        let segments: [Substring]
        let policy: String
    }

    private let rules = Mutex<[Rule]>([])

    public init() {}

    func add(policy: String, listener: String = "main", method: String, path: String) {
        let segments = path.split(separator: "/")
        rules.withLock { $0.append(Rule(listener: listener, method: method, segments: segments, policy: policy)) }
    }

    /// The policy for a concrete request path (`{captures}` match any one segment).
    func policy(listener: String = "main", method: String, path: String) -> String? {
        let segments = path.split(separator: "/")
        return rules.withLock { rules in
            rules.first { rule in
                rule.listener == listener && rule.method == method && rule.segments.count == segments.count
                    && zip(rule.segments, segments).allSatisfy { $0.first == "{" || $0 == $1 }
            }?.policy
        }
    }
}
