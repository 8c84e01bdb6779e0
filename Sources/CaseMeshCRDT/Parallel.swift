import Foundation

/// Work spread over every core, for callers outside Swift concurrency (they
/// block their thread until the work is done).
public enum Parallel {
    /// `body(0..<count)` run on as many threads as there are cores, results
    /// in order. One item runs on the calling thread.
    public static func map<T: Sendable>(_ count: Int, _ body: @Sendable (Int) -> T) -> [T] {
        if count <= 1 { return count == 1 ? [body(0)] : [] }
        let slots = UnsafeMutableBufferPointer<T?>.allocate(capacity: count)
        slots.initialize(repeating: nil)
        defer { slots.deinitialize(); slots.deallocate() }
        nonisolated(unsafe) let shared = slots
        DispatchQueue.concurrentPerform(iterations: count) { index in
            shared[index] = body(index)  // each iteration writes only its own slot
        }
        return slots.map { $0! }
    }
}
