import Foundation
import Logging

/// The configuration of a module that mounts a surface: its `listen` and `prefix` options (named so in the
/// manifest). `mount()` checks them; call it from `validate()` so a bad value is a configuration error naming it.
public protocol SurfaceConfiguration: ModuleConfiguration {
    var listen: String { get }
    var prefix: String { get }
}

extension SurfaceConfiguration {
    public func mount() throws -> SurfaceMount {
        do {
            return try SurfaceMount(listen: listen, prefix: prefix)
        } catch {
            throw ConfigOptionError(OptionKey(stringValue: error.option), error.message)
        }
    }
}

private struct OptionKey: CodingKey {
    let stringValue: String
    init(stringValue: String) { self.stringValue = stringValue }
    var intValue: Int? { nil }
    init?(intValue: Int) { nil }
}

extension APIError {
    /// Any error a service throws, as the client-facing error a surface renders in its own envelope: what the
    /// kernel middleware does for `/api/v1`, for handlers that answer errors themselves (realtime frames).
    public static func from(_ error: any Error, logger: Logger) -> APIError {
        switch error {
        case let error as APIError: return error
        case let error as DecodingError: return APIError.from(error)
        case StorageError.uniqueViolation: return APIError.conflict("Resource already exists")
        case StorageError.foreignKeyViolation: return APIError.notFound("A referenced resource does not exist")
        default:
            logger.error("surface handler failed: \(error)")
            return .internalError()
        }
    }
}

extension RateLimiter {
    /// Charges one realtime action of a user to a policy, as `/api/v1`'s event router does; throws the 429.
    public func charge(_ policy: String, userID: String) throws {
        guard let decision = take(policy: policy, key: "user:\(userID)"), !decision.allowed else { return }
        ParleyMetrics.rateLimited(policy: policy)
        throw decision.error
    }
}
