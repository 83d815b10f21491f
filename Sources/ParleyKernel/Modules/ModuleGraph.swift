import Foundation

/// Why the kernel refuses to boot. Every case names what is wrong and where.
public enum BootError: Error, CustomStringConvertible, Sendable {
    case missingDependency(module: String, requires: String)
    case dependencyCycle([String])
    case routeConflict(method: String, path: String, first: String, second: String)
    case eventConflict(event: String, first: String, second: String)
    case serviceConflict(service: String, first: String, second: String)
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
        case .invalidRoutes(let detail):
            return "invalid routes: \(detail)"
        case .configuration(let detail):
            return detail
        }
    }
}

/// Orders enabled modules so each comes after what it depends on.
public enum ModuleGraph {
    /// Kahn's algorithm; among modules free to go next, the one first in `modules` order goes first, so the
    /// result is stable. Missing required dependencies and cycles are errors naming the modules.
    public static func order(_ modules: [EnabledModule]) throws -> [EnabledModule] {
        let enabled = Set(modules.map(\.id))
        for module in modules {
            for dependency in module.descriptor.dependencies where dependency.isRequired && !enabled.contains(dependency.id) {
                throw BootError.missingDependency(module: module.id, requires: dependency.id)
            }
        }
        // Edges from each dependency to its dependents (optional ones only when enabled).
        var remaining = Dictionary(uniqueKeysWithValues: modules.map { module in
            (module.id, Set(module.descriptor.dependencies.map(\.id).filter { enabled.contains($0) && $0 != module.id }))
        })
        for module in modules where module.descriptor.dependencies.contains(where: { $0.id == module.id }) {
            throw BootError.dependencyCycle([module.id, module.id])
        }
        var ordered: [EnabledModule] = []
        var pending = modules
        while !pending.isEmpty {
            guard let index = pending.firstIndex(where: { remaining[$0.id]?.isEmpty ?? true }) else {
                throw BootError.dependencyCycle(findCycle(in: remaining))
            }
            let next = pending.remove(at: index)
            ordered.append(next)
            for key in remaining.keys { remaining[key]?.remove(next.id) }
            remaining[next.id] = nil
        }
        return ordered
    }

    private static func findCycle(in edges: [String: Set<String>]) -> [String] {
        // Walk dependencies from any blocked module until one repeats; every node left has an unmet edge.
        guard var current = edges.keys.sorted().first else { return [] }
        var path: [String] = []
        while !path.contains(current) {
            path.append(current)
            guard let next = edges[current]?.sorted().first else { break }
            current = next
        }
        if let start = path.firstIndex(of: current) {
            return Array(path[start...]) + [current]
        }
        return path
    }
}
