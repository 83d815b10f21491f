import Foundation
import HTTPTypes
import HummingbirdWSClient
import Logging
import ParleyKernel
import Synchronization

/// A WebSocket client for tests: send frames, await frames by event name, see whether the server closed it.
public final class WebSocketTestClient: Sendable {
    private let incoming: AsyncStream<JSONValue>
    private let incomingContinuation: AsyncStream<JSONValue>.Continuation
    private let outgoing: AsyncStream<String>.Continuation
    private let buffered = FrameBuffer()
    private let task: Task<WebSocketCloseFrame?, any Error>
    private let pump: Task<Void, Never>

    public init(url: String, headers: HTTPFields = [:]) {
        let (incoming, incomingContinuation) = AsyncStream.makeStream(of: JSONValue.self)
        let (outgoingStream, outgoing) = AsyncStream.makeStream(of: String.self)
        self.incoming = incoming
        self.incomingContinuation = incomingContinuation
        self.outgoing = outgoing
        let buffered = self.buffered
        pump = Task {
            for await frame in incoming { buffered.frames.withLock { $0.append(frame) } }
        }
        var logger = Logger(label: "ws-test")
        logger.logLevel = .error
        task = Task {
            defer { incomingContinuation.finish() }
            return try await WebSocketClient.connect(url: url, configuration: .init(additionalHeaders: headers), logger: logger) { inbound, outbound, _ in
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        for try await message in inbound.messages(maxSize: 1 << 20) {
                            guard case .text(let text) = message else { continue }
                            buffered.texts.withLock { $0.append(text) }
                            if let value = try? JSONDecoder().decode(JSONValue.self, from: Data(text.utf8)) {
                                incomingContinuation.yield(value)
                            }
                        }
                        incomingContinuation.finish()
                    }
                    group.addTask {
                        for await text in outgoingStream { try await outbound.write(.text(text)) }
                        try await outbound.close(.normalClosure, reason: nil)
                    }
                    try await group.next()
                    group.cancelAll()
                }
            }
        }
    }

    public func send(_ event: String, _ data: JSONValue, ack: Int? = nil) throws {
        var frame: [String: JSONValue] = ["event": .string(event), "data": data]
        if let ack { frame["ack"] = .number(Double(ack)) }
        sendRaw(String(decoding: try JSONEncoder().encode(JSONValue.object(frame)), as: UTF8.self))
    }

    public func sendRaw(_ text: String) {
        outgoing.yield(text)
    }

    /// The next frame matching `predicate` (earlier non-matching frames stay for later calls); nil on timeout.
    public func next(timeout: Duration = .seconds(5), where predicate: @escaping @Sendable (JSONValue) -> Bool) async -> JSONValue? {
        await Self.poll(timeout: timeout) { [buffered] in Self.take(from: buffered.frames, where: predicate) }
    }

    public func next(event: String, timeout: Duration = .seconds(5)) async -> JSONValue? {
        await next(timeout: timeout) { $0["event"]?.string == event }
    }

    public func ack(_ id: Int, timeout: Duration = .seconds(5)) async -> JSONValue? {
        await next(timeout: timeout) { $0["ack"]?.int == id }
    }

    /// The next text frame, as sent, matching `predicate` (e.g. a Socket.IO packet); earlier ones stay. Nil on timeout.
    public func nextText(timeout: Duration = .seconds(5), where predicate: @escaping @Sendable (String) -> Bool) async -> String? {
        await Self.poll(timeout: timeout) { [buffered] in Self.take(from: buffered.texts, where: predicate) }
    }

    private static func take<T: Sendable>(from list: borrowing Mutex<[T]>, where predicate: (T) -> Bool) -> T? {
        list.withLock { items -> T? in
            guard let index = items.firstIndex(where: predicate) else { return nil }
            return items.remove(at: index)
        }
    }

    private static func poll<T>(timeout: Duration, _ attempt: () -> T?) async -> T? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let item = attempt() { return item }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return nil
    }

    /// Frames received and not yet taken by `next`.
    public var pending: [JSONValue] { buffered.frames.withLock { $0 } }

    /// Waits for the connection to end; returns the server's close frame if any.
    public func closed(timeout: Duration = .seconds(5)) async -> (closed: Bool, frame: WebSocketCloseFrame?) {
        await withTaskGroup(of: (Bool, WebSocketCloseFrame?).self) { group in
            group.addTask { [task] in
                let frame = try? await task.value
                return (true, frame)
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return (false, nil)
            }
            let result = await group.next() ?? (false, nil)
            group.cancelAll()
            return result
        }
    }

    /// Whether connecting failed outright (e.g. the upgrade was refused).
    public func failed(timeout: Duration = .seconds(5)) async -> Bool {
        switch await Task { [task] in await task.result }.value {
        case .failure: return true
        case .success: return false
        }
    }

    public func close() {
        outgoing.finish()
    }
}

final class FrameBuffer: Sendable {
    let frames = Mutex<[JSONValue]>([])
    /// Every text frame as received (Socket.IO packets are not JSON), taken separately by `nextText`.
    let texts = Mutex<[String]>([])
}
