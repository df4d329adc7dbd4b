//! Human-facing output: a progress bar (or plain lines) on stderr, and a timestamped text log.

use std::fs::{File, OpenOptions};
use std::io::{IsTerminal, LineWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::{LogError, MetricSink};

/// Bar layout: elapsed, bar, step/total, then the message set by [`ConsoleProgress::step`].
const BAR_TEMPLATE: &str = "{elapsed_precise} [{wide_bar}] {pos}/{len} | {msg} | eta {eta}";

/// Training progress on stderr.
///
/// When stderr is a terminal this is an indicatif bar showing step/total, loss, learning
/// rate, tokens/s and ETA. Otherwise (CI, `nohup`, redirected output) it prints a plain line
/// on the first step, every `every_steps` steps and on the last step:
///
/// ```text
/// step  120/1000 | loss 1.2345 | lr 3.00e-4 | 12,345 tok/s | eta 1m23s
/// ```
pub struct ConsoleProgress {
    bar: Option<ProgressBar>,
    total_steps: u64,
    start_step: u64,
    every_steps: u64,
    started: Instant,
    last_step: u64,
    finished: bool,
}

impl ConsoleProgress {
    /// total_steps for the bar; `start_step` when resuming (0 for a fresh run). Uses an
    /// indicatif bar with ETA, step/total, loss and tokens/s when stderr is a terminal;
    /// otherwise plain lines every `every_steps` steps.
    pub fn new(total_steps: u64, start_step: u64, every_steps: u64) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let style = ProgressStyle::with_template(BAR_TEMPLATE)
                .unwrap_or_else(|_| ProgressStyle::default_bar());
            let bar =
                ProgressBar::with_draw_target(Some(total_steps), ProgressDrawTarget::stderr())
                    .with_style(style)
                    .with_position(start_step);
            // The ETA must reflect this session's speed, not the jump to `start_step`.
            bar.reset_eta();
            bar
        });
        Self::with_bar(bar, total_steps, start_step, every_steps)
    }

    /// Plain-line progress regardless of the terminal (used by tests and `--no-progress`).
    pub fn plain(total_steps: u64, start_step: u64, every_steps: u64) -> Self {
        Self::with_bar(None, total_steps, start_step, every_steps)
    }

    fn with_bar(
        bar: Option<ProgressBar>,
        total_steps: u64,
        start_step: u64,
        every_steps: u64,
    ) -> Self {
        ConsoleProgress {
            bar,
            total_steps,
            start_step,
            every_steps: every_steps.max(1),
            started: Instant::now(),
            last_step: start_step,
            finished: false,
        }
    }

    /// Called each optimizer step with that step's numbers. Returns the progress line of this
    /// step when it is one to keep (the first, every `every_steps`-th and the last), whether or not
    /// a bar shows it, so the caller can write it to the run's text log.
    pub fn step(&mut self, step: u64, loss: f64, lr: f64, tokens_per_s: f64) -> Option<String> {
        self.last_step = step;
        let first = step == self.start_step + 1;
        let keep = first || step.is_multiple_of(self.every_steps) || step >= self.total_steps;
        let line = keep.then(|| {
            let eta = self.eta_secs(step).map_or_else(|| "?".to_string(), human_duration);
            self.plain_line(step, loss, lr, tokens_per_s, &eta)
        });
        match &self.bar {
            Some(bar) => {
                bar.set_position(step);
                bar.set_message(format!(
                    "loss {loss:.4} | lr {lr:.2e} | {} tok/s",
                    thousands(tokens_per_s.max(0.0).round() as u64)
                ));
            }
            None => {
                if let Some(line) = &line {
                    eprintln!("{line}");
                }
            }
        }
        line
    }

    /// The plain progress line for one step.
    fn plain_line(&self, step: u64, loss: f64, lr: f64, tokens_per_s: f64, eta: &str) -> String {
        let width = self.total_steps.to_string().len();
        format!(
            "step {step:>width$}/{} | loss {loss:.4} | lr {lr:.2e} | {} tok/s | eta {eta}",
            self.total_steps,
            thousands(tokens_per_s.max(0.0).round() as u64),
        )
    }

    /// Seconds left at this session's average speed; `None` before the first step.
    fn eta_secs(&self, step: u64) -> Option<f64> {
        let done = step.checked_sub(self.start_step).filter(|&d| d > 0)? as f64;
        let left = self.total_steps.saturating_sub(step) as f64;
        Some(self.started.elapsed().as_secs_f64() / done * left)
    }

    /// Prints a line above the bar, or plainly to stderr.
    pub fn println(&self, line: &str) {
        match &self.bar {
            // `ProgressBar::println` drops the line when the bar is hidden; `suspend` never does.
            Some(bar) => bar.suspend(|| eprintln!("{line}")),
            None => eprintln!("{line}"),
        }
    }

    /// Leaves the bar at its final state, or prints a closing line; returns that line (for the
    /// text log) the first time. Calling it twice is harmless.
    pub fn finish(&mut self) -> Option<String> {
        if std::mem::replace(&mut self.finished, true) {
            return None;
        }
        let elapsed = human_duration(self.started.elapsed().as_secs_f64());
        let line = format!("done: step {}/{} after {elapsed} this session", self.last_step, self.total_steps);
        match &self.bar {
            Some(bar) => bar.finish(),
            None => eprintln!("{line}"),
        }
        Some(line)
    }
}

impl MetricSink for ConsoleProgress {
    /// Scalars are shown through [`ConsoleProgress::step`], not here.
    fn scalar(&mut self, _tag: &str, _step: u64, _value: f64) {}

    fn text(&mut self, line: &str) {
        self.println(line);
    }
}

/// `12345` → `"12,345"`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Seconds as `45s`, `1m23s`, `2h05m` or `3d04h`.
pub fn human_duration(secs: f64) -> String {
    let s = if secs.is_finite() {
        secs.max(0.0).round() as u64
    } else {
        0
    };
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m{:02}s", s / 60, s % 60),
        3600..=86_399 => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
        _ => format!("{}d{:02}h", s / 86_400, (s % 86_400) / 3600),
    }
}

/// Appends timestamped lines to a text file: `text()` lines as given, scalars as
/// `step N tag=value`. Each line reaches the file when written, so the log survives a crash.
pub struct TextLog {
    path: PathBuf,
    out: LineWriter<File>,
    error: Option<LogError>,
}

impl TextLog {
    /// Opens `path` for appending, creating it and its parent directories if needed.
    pub fn create(path: &Path) -> Result<Self, LogError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .map_err(|e| LogError::io("create directory", parent, e))?;
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| LogError::io("open", path, e))?;
        Ok(TextLog {
            path: path.to_path_buf(),
            out: LineWriter::new(file),
            error: None,
        })
    }

    /// The log file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The write error that turned this log off, if any.
    pub fn error(&self) -> Option<&LogError> {
        self.error.as_ref()
    }

    /// Writes each line of `text` with a local timestamp prefix.
    fn write_lines(&mut self, text: &str) {
        if self.error.is_some() {
            return;
        }
        let stamp = chrono::Local::now().format("%Y-%m-%dT%H:%M:%S%:z");
        for line in text.lines() {
            if let Err(e) = writeln!(self.out, "{stamp} {line}") {
                let err = LogError::io("write", &self.path, e);
                eprintln!("warning: text log stopped: {err}; training continues");
                self.error = Some(err);
                return;
            }
        }
    }
}

impl MetricSink for TextLog {
    fn scalar(&mut self, tag: &str, step: u64, value: f64) {
        self.write_lines(&format!("step {step} {tag}={value}"));
    }

    fn text(&mut self, line: &str) {
        self.write_lines(line);
    }

    fn flush(&mut self) {
        if self.error.is_none() {
            if let Err(e) = self.out.flush() {
                self.error = Some(LogError::io("flush", &self.path, e));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_groups_digits_in_threes() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(12_345), "12,345");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(human_duration(45.2), "45s");
        assert_eq!(human_duration(83.0), "1m23s");
        assert_eq!(human_duration(7500.0), "2h05m");
        assert_eq!(human_duration(3.0 * 86_400.0 + 4.0 * 3600.0), "3d04h");
        assert_eq!(human_duration(f64::NAN), "0s");
    }

    #[test]
    fn plain_line_has_the_documented_layout() {
        let progress = ConsoleProgress::plain(1000, 0, 10);
        let line = progress.plain_line(120, 1.23454, 3e-4, 12_345.4, "1m23s");
        assert_eq!(
            line,
            "step  120/1000 | loss 1.2345 | lr 3.00e-4 | 12,345 tok/s | eta 1m23s"
        );
    }

    #[test]
    fn eta_counts_only_this_sessions_steps() {
        let progress = ConsoleProgress::plain(100, 50, 10);
        assert_eq!(progress.eta_secs(50), None);
        let eta = progress.eta_secs(75).expect("eta after a step");
        assert!((0.0..1.0).contains(&eta), "{eta}");
    }

    #[test]
    fn plain_progress_runs_to_completion() {
        let mut progress = ConsoleProgress::plain(3, 0, 2);
        let kept: Vec<u64> = (1..=3).filter(|&step| progress.step(step, 1.0, 1e-3, 100.0).is_some()).collect();
        assert_eq!(kept, vec![1, 2, 3], "first, every 2nd and last");
        progress.text("a text line");
        assert!(progress.finish().is_some_and(|l| l.starts_with("done: step 3/3")));
        assert_eq!(progress.finish(), None);
    }

    #[test]
    fn text_log_appends_timestamped_lines() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("logs").join("train.log");
        {
            let mut log = TextLog::create(&path).expect("create");
            log.text("run started");
            log.scalar("train/loss", 7, 0.5);
        }
        {
            let mut log = TextLog::create(&path).expect("reopen");
            log.text("resumed");
            log.flush();
        }
        let content = std::fs::read_to_string(&path).expect("read");
        let lines: Vec<&str> = content.lines().collect();
        assert_eq!(lines.len(), 3, "{content}");
        assert!(lines[0].ends_with(" run started"));
        assert!(lines[1].ends_with(" step 7 train/loss=0.5"));
        assert!(lines[2].ends_with(" resumed"));
        // ISO date prefix, e.g. 2025-01-31T12:00:00+01:00
        assert_eq!(lines[0].as_bytes()[4], b'-');
        assert_eq!(lines[0].as_bytes()[10], b'T');
    }
}
