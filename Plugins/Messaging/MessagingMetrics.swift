import Foundation
import Metrics
import ParleyKernel

/// Messaging's own metrics, through swift-metrics (the kernel installs the Prometheus backend before modules
/// register). Handles are made once: a send pays no label building or lookup.
struct MessagingMetrics: Sendable {
    /// What a client asked for: `parley_messages_received_total{kind=...}`.
    enum Kind: String, CaseIterable, Sendable {
        case message, edit, delete, reaction, receipt, typing

        var index: Int {
            switch self {
            case .message: 0
            case .edit: 1
            case .delete: 2
            case .reaction: 3
            case .receipt: 4
            case .typing: 5
            }
        }
    }

    /// Indexed by the kind's position in `allCases` (no hashing per message).
    private let counters: [Counter]

    init() {
        counters = Kind.allCases.map { Counter(label: "parley_messages_received_total", dimensions: [("kind", $0.rawValue)]) }
    }

    func received(_ kind: Kind) {
        counters[kind.index].increment()
        // The operator console's "messages per second".
        if kind == .message { ActivityMeter.shared.count("messages") }
    }
}
