//! The report layer's own options, so `report` never reads the command line or the
//! configuration: `config` builds [`OutputOptions`] from its `OutputConfig`.

/// When to draw progress (`--progress`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgressWhen {
    /// A bar on a terminal, a plain line every ~10 s otherwise; none with -q.
    Auto,
    /// As auto, even with -q.
    Always,
    /// No progress output.
    Never,
}

/// How much goes to stderr, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputOptions {
    /// Progress display.
    pub progress: ProgressWhen,
    /// Print nothing when the exit code is 0.
    pub quiet: bool,
    /// 0 = info, 1 = debug, 2+ = trace.
    pub verbosity: u8,
    /// One JSON object per log line.
    pub json_logs: bool,
}
