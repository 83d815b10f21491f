import Foundation
import Synchronization

/// Who a user id is, in memory: for event renderers that must name people in their dialect (document 003 names
/// them by e-mail and name) and may not do I/O. Inactive (and free) until a module activates it; then every user
/// who authenticates a request or a realtime connection, or sends a message, is loaded before anything they do
/// can be rendered, so a renderer finds the actors of its events. Bounded: when full, arbitrary entries go.
public final class UserDirectory: Sendable {
    public struct Card: Sendable, Equatable {
        public let id: String
        public let username: String
        public let email: String
        public let displayName: String?
        public let avatar: String?

        /// The name to show: the display name, else the username.
        public var name: String { displayName ?? username }

        init(_ user: User) {
            id = user.id
            username = user.username
            email = user.email
            displayName = user.displayName
            avatar = user.avatar
        }
    }

    private let cards = Mutex<[String: Card]>([:])
    private let active = Atomic<Bool>(false)
    private let capacity: Int
    private let load: @Sendable (String) async -> User?

    init(capacity: Int = 200_000, load: @escaping @Sendable (String) async -> User?) {
        self.capacity = capacity
        self.load = load
    }

    /// Turns the directory on (a module whose dialect names users calls this when it registers).
    public func activate() { active.store(true, ordering: .relaxed) }

    public var isActive: Bool { active.load(ordering: .relaxed) }

    /// The card of a user, from memory only (never blocks).
    public func card(_ userID: String) -> Card? {
        cards.withLock { $0[userID] }
    }

    /// Makes sure a user's card is in memory (a storage read on a miss). Does nothing while inactive.
    public func warm(_ userID: String) async {
        guard isActive, card(userID) == nil, let user = await load(userID) else { return }
        remember(user)
    }

    /// Puts a user's current card in memory (after a change to their name or address, too).
    public func remember(_ user: User) {
        guard isActive else { return }
        cards.withLock { cards in
            if cards.count >= capacity, cards[user.id] == nil, let victim = cards.keys.first { cards[victim] = nil }
            cards[user.id] = Card(user)
        }
    }

    /// Drops a card (the account changed or went away); the next `warm` reads it again.
    public func forget(_ userID: String) {
        _ = cards.withLock { $0.removeValue(forKey: userID) }
    }
}
