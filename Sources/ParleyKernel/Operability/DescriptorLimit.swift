#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Logging

/// Every connection is a file descriptor, and many systems start a process with a soft limit of 1,024 while
/// allowing far more (the hard limit). `parley serve` raises its soft limit to the hard one at startup, as
/// nginx's `worker_rlimit_nofile` or Go's runtime do, so the hard limit is the only one an operator sets.
public enum DescriptorLimit {
    /// The soft and hard limits after raising the soft one as far as allowed; nil if they cannot be read.
    @discardableResult
    public static func raise(logger: Logger) -> (soft: UInt64, hard: UInt64)? {
        var limits = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limits) == 0 else { return nil }
        let before = UInt64(limits.rlim_cur)
        if limits.rlim_cur < limits.rlim_max {
            var raised = limits
            raised.rlim_cur = limits.rlim_max
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 {
                limits = raised
            } else {
                logger.warning("could not raise the open-file limit from \(before) to \(limits.rlim_max): errno \(errno)")
            }
        }
        let soft = UInt64(limits.rlim_cur), hard = UInt64(limits.rlim_max)
        if soft != before { logger.info("open-file limit raised from \(before) to \(soft) (the hard limit)") }
        if soft < 4096 {
            logger.warning("open-file limit is \(soft): each connection takes one; raise the hard limit (ulimit -Hn, LimitNOFILE=) for more")
        }
        return (soft, hard)
    }
}
