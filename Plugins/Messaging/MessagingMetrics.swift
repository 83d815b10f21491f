import Foundation
import Metrics

/// Messaging's own metrics, through swift-metrics (the kernel installs the Prometheus backend before modules
/// register). Handles are made once: a send pays no label building or lookup.
struct MessagingMetrics: Sendable {
    /// What a client asked for: `parley_messages_received_total{kind=...}`.
    enum Kind: String, CaseIterable, Sendable {
        case message, edit, delete, reaction, receipt, typing
    }

    private let counters: [Kind: Counter]

    init() {
        counters = Dictionary(uniqueKeysWithValues: Kind.allCases.map {
            ($0, Counter(label: "parley_messages_received_total", dimensions: [("kind", $0.rawValue)]))
        })
    }

    func received(_ kind: Kind) {
        counters[kind]?.increment()
    }
}
