import Foundation

/// Why the kernel refuses to boot. Every case names what is wrong and where.
public enum BootError: Error, CustomStringConvertible, Sendable {
    case missingDependency(module: String, requires: String)
    case dependencyCycle([String])
    case routeConflict(method: String, path: String, first: String, second: String)
    case eventConflict(event: String, first: String, second: String)
    case serviceConflict(service: String, first: String, second: String)
    case missingService(service: String, module: String)
    case conflict(what: String, name: String, first: String, second: String)
    case unknownRateLimitPolicy(policy: String, known: [String])
    case invalidRoutes(String)
    case configuration(String)

    public var description: String {
        switch self {
        case .missingDependency(let module, let requires):
            return "module '\(module)' requires module '\(requires)', which is not enabled in modules:"
        case .dependencyCycle(let cycle):
            return "module dependency cycle: \(cycle.joined(separator: " -> "))"
        case .routeConflict(let method, let path, let first, let second):
            return "route conflict: \(method) \(path) is registered by both '\(first)' and '\(second)'"
        case .eventConflict(let event, let first, let second):
            return "realtime event conflict: '\(event)' is handled by both '\(first)' and '\(second)'"
        case .serviceConflict(let service, let first, let second):
            return "service conflict: \(service) is provided by both '\(first)' and '\(second)'"
        case .missingService(let service, let module):
            return "module '\(module)' needs \(service), which no enabled module provides (declare the provider in its dependencies)"
        case .conflict(let what, let name, let first, let second):
            return "\(what) conflict: \(name) is registered by both '\(first)' and '\(second)'"
        case .unknownRateLimitPolicy(let policy, let known):
            return "rate_limits.policies.\(policy): unknown policy; known policies: \(known.joined(separator: ", "))"
        case .invalidRoutes(let detail):
            return "invalid routes: \(detail)"
        case .configuration(let detail):
            return detail
        }
    }
}
