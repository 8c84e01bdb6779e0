import Foundation

/// Progress for work that takes more than a moment, on standard error so
/// standard output stays clean for scripts: a line per step, and on a
/// terminal a spinner with the elapsed time while a step runs.
public final class Progress: @unchecked Sendable {
    private let lock = NSLock()
    private let interactive: Bool
    private let quiet: Bool
    private var spinner: Task<Void, Never>?

    public init(quiet: Bool = false) {
        self.quiet = quiet
        self.interactive = isatty(STDERR_FILENO) == 1
    }

    func write(_ text: String) {
        lock.lock()
        defer { lock.unlock() }
        FileHandle.standardError.write(Data(text.utf8))
    }

    /// Runs `work` as a named step and reports how long it took.
    public func step<T>(_ title: String, _ work: () async throws -> T) async rethrows -> T {
        guard !quiet else { return try await work() }
        let clock = ContinuousClock()
        let start = clock.now
        if interactive {
            let frames = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"]
            spinner = Task { [weak self] in
                var index = 0
                while !Task.isCancelled {
                    self?.write("\r\(frames[index % frames.count]) \(title) \((clock.now - start).components.seconds) s  ")
                    index += 1
                    try? await Task.sleep(for: .milliseconds(100))
                }
            }
        } else {
            write("==> \(title)\n")
        }
        defer { spinner?.cancel(); spinner = nil }
        do {
            let result = try await work()
            finish(title, start: start, clock: clock, ok: true)
            return result
        } catch {
            finish(title, start: start, clock: clock, ok: false)
            throw error
        }
    }

    private func finish(_ title: String, start: ContinuousClock.Instant, clock: ContinuousClock, ok: Bool) {
        spinner?.cancel()
        let elapsed = clock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        if interactive {
            write("\r\(ok ? "✓" : "✗") \(title) (\(String(format: "%.1f", seconds)) s)\u{1B}[K\n")
        } else if !ok || seconds >= 1 {
            write("    \(ok ? "done" : "failed") in \(String(format: "%.1f", seconds)) s\n")
        }
    }

    /// A line of information between steps.
    public func note(_ text: String) {
        guard !quiet else { return }
        write(text + "\n")
    }
}
