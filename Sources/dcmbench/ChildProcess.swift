import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// What a finished child process cost: wall time, exit status and its own peak resident set size.
struct ChildResult {
    var seconds: Double
    var status: Int32
    /// Peak resident set size from `wait4`, in bytes. Not the child's alone: posix_spawn starts the child in the
    /// parent's address space (vfork), whose size Linux folds into the child's maximum at exec. Use GNU time for memory.
    var maxRSS: Int
}

/// Runs commands with `posix_spawn` and `wait4`, timing each child on the monotonic clock.
enum ChildProcess {
    /// Runs `arguments[0]` (an absolute path) with the rest as arguments; stdout goes to `stdoutPath`
    /// (default /dev/null), stderr is inherited.
    static func run(_ arguments: [String], stdoutPath: String = "/dev/null", environment: [String: String] = [:]) throws -> ChildResult {
        precondition(!arguments.isEmpty)
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, stdoutPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)

        var env = ProcessInfo.processInfo.environment
        for (key, value) in environment { env[key] = value }
        let argv = arguments.map { strdup($0) } + [nil]
        let envp = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for p in argv { free(p) }
            for p in envp { free(p) }
        }
        let start = monotonicSeconds()
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, arguments[0], &actions, nil, argv, envp)
        guard rc == 0 else {
            throw BenchError("cannot start \(arguments[0]): \(String(cString: strerror(rc)))")
        }
        var status: Int32 = 0
        var usage = rusage()
        while wait4(pid, &status, 0, &usage) < 0 {
            guard errno == EINTR else { throw BenchError("wait4 failed: \(String(cString: strerror(errno)))") }
        }
        let seconds = monotonicSeconds() - start
        // WEXITSTATUS / WIFEXITED are macros: decode by hand (exit code in bits 8-15, signal in bits 0-6).
        let exitCode = (status & 0x7F) == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
        return ChildResult(seconds: seconds, status: exitCode, maxRSS: Int(usage.ru_maxrss) * 1024)
    }
}

/// A failure of the benchmark harness itself (missing tool, failed child).
struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Seconds on the monotonic clock.
func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// Runs `body` `repeats` times and returns the shortest time: the machine is shared, so the best run
/// is the one least disturbed by others.
func bestOf(_ repeats: Int, _ body: () throws -> Double) rethrows -> Double {
    var best = Double.infinity
    for _ in 0..<max(1, repeats) { best = min(best, try body()) }
    return best
}

/// Times one call of `body`.
func timed(_ body: () throws -> Void) rethrows -> Double {
    let start = monotonicSeconds()
    try body()
    return monotonicSeconds() - start
}

/// The path of the running executable, to re-invoke it for measurements in a fresh process.
func currentExecutablePath() -> String {
    var buffer = [CChar](repeating: 0, count: 4096)
    let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
    if n > 0 { return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) }
    return CommandLine.arguments[0]
}

/// Whether a file exists and is executable.
func isExecutable(_ path: String) -> Bool { access(path, X_OK) == 0 }
