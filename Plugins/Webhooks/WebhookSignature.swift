import Crypto
import Foundation

/// The signature every delivery carries, after Stripe's: `Parley-Signature: t=<unix seconds>,v1=<hex>`, where
/// `v1` is HMAC-SHA256, keyed with the webhook's secret (its UTF-8 bytes), over `"<t>.<body>"`. The timestamp is
/// signed with the body so that a captured delivery cannot be replayed later; receivers reject an old `t`.
/// Each attempt is signed anew (a retry carries a fresh `t`, the same body and the same delivery id).
enum WebhookSignature {
    static let header = "Parley-Signature"

    static func sign(body: String, secret: String, timestamp: Int64) -> String {
        "t=\(timestamp),v1=\(digest(body: body, secret: secret, timestamp: timestamp))"
    }

    static func digest(body: String, secret: String, timestamp: Int64) -> String {
        let key = SymmetricKey(data: Data(secret.utf8))
        let mac = HMAC<SHA256>.authenticationCode(for: Data("\(timestamp).\(body)".utf8), using: key)
        return mac.map { String(format: "%02x", $0) }.joined()
    }

    /// The receiver's check, as the documented recipe does it (used by the tests): the header's `v1` matches
    /// (compared in constant time) and `t` is within `tolerance` seconds of `now`.
    static func verify(header: String, body: String, secret: String, now: Int64, tolerance: Int64 = 300) -> Bool {
        var timestamp: Int64?
        var signatures: [String] = []
        for part in header.split(separator: ",") {
            let pair = part.split(separator: "=", maxSplits: 1).map(String.init)
            guard pair.count == 2 else { continue }
            if pair[0] == "t" { timestamp = Int64(pair[1]) } else if pair[0] == "v1" { signatures.append(pair[1]) }
        }
        guard let timestamp, abs(now - timestamp) <= tolerance else { return false }
        let expected = Array(digest(body: body, secret: secret, timestamp: timestamp).utf8)
        return signatures.contains { candidate in
            let given = Array(candidate.utf8)
            guard given.count == expected.count else { return false }
            return zip(given, expected).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
        }
    }

    /// A new secret: 32 random bytes, hex (`whsec_` marks what it is where it is pasted).
    static func newSecret() -> String {
        "whsec_" + SymmetricKey(size: .bits256).withUnsafeBytes { Data($0) }.map { String(format: "%02x", $0) }.joined()
    }
}

/// When a failed delivery is tried again: exponential backoff with jitter. Attempt `n` (1-based) that failed
/// waits `initial * 2^(n-1)`, capped at `maximum`, then scaled by a random factor in [0.5, 1] ("equal jitter":
/// receivers that failed together do not retry together, and no wait is shorter than half its step).
struct RetrySchedule: Sendable {
    let initialSeconds: Double
    let maximumSeconds: Double
    let maxAttempts: Int

    /// The un-jittered wait after the `attempt`-th failure.
    func step(after attempt: Int) -> Double {
        let exponent = Double(max(0, min(attempt - 1, 62)))
        return min(maximumSeconds, initialSeconds * pow(2, exponent))
    }

    /// The wait in milliseconds after the `attempt`-th failure, or nil when no attempt is left (the delivery failed).
    func delayMilliseconds(after attempt: Int, jitter: Double = Double.random(in: 0...1)) -> Int64? {
        guard attempt < maxAttempts else { return nil }
        let factor = 0.5 + 0.5 * min(max(jitter, 0), 1)
        return Int64((step(after: attempt) * factor * 1000).rounded())
    }
}
