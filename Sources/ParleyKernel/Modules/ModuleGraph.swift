import Foundation

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
