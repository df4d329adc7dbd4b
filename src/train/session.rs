//! One run, one directory: `<out_dir>/<experiment>/<run id>/` with `config.toml` (written first),
//! `model.toml`, `record.toml`, `train.log`, `tensorboard/`, `tokenizer.json`, `step_NNNNNNN/`
//! checkpoints, and for finetuning `best/step_NNNNNNN/` and `eval/`.
//! This file creates or finds that directory and writes the record; the kinds fill in the rest.

use std::fs;
use std::path::{Path, PathBuf};

use std::collections::BTreeMap;
use std::time::Instant;

use crate::checkpoint::locate::runs_newest_first;
use crate::checkpoint::{self, LoadedCheckpoint};
use super::record::{now_rfc3339, EnergyMeter, RunRecord};
use super::trainer::{LoopOutcome, TrainError};
use crate::config::Resolved;
use crate::logging::{MetricSink, MultiSink, TensorBoardWriter, TextLog};

pub use super::error::RunError;

/// A prepared run directory and, when resuming, its newest complete checkpoint.
pub struct RunDir {
    pub path: PathBuf,
    pub run_id: String,
    pub resume: Option<LoadedCheckpoint>,
}

impl RunDir {
    /// Create a fresh run directory (and write `config.toml` before anything else), or, with
    /// `resume`, find the newest run of this experiment that has a complete checkpoint.
    pub fn prepare(resolved: &Resolved, resume: bool, warn: &mut dyn FnMut(&str)) -> Result<Self, RunError> {
        let exp = &resolved.experiment;
        let base = exp.run.out_dir.join(&exp.name);
        if resume {
            // The newest run whose newest checkpoint verifies (`checkpoint::locate`'s rule, with
            // "complete" meaning "loads").
            let mut detail = Vec::new();
            for run in runs_newest_first(&base).iter() {
                match checkpoint::load_newest(run, &mut *warn) {
                    Ok(ck) => {
                        // Newer checkpoints that failed verification would otherwise count as
                        // the newest in keep-last-N and get the resumed run's checkpoints deleted.
                        for (step, dir) in checkpoint::list(run).into_iter().filter(|(s, _)| *s > ck.state.step) {
                            let aside = run.join(format!(".corrupt-step_{step:07}"));
                            match fs::rename(&dir, &aside) {
                                Ok(()) => warn(&format!("moved the unreadable {} aside to {}", dir.display(), aside.display())),
                                Err(e) => warn(&format!("warning: cannot move {} aside: {e}", dir.display())),
                            }
                        }
                        let run_id = run.file_name().unwrap_or_default().to_string_lossy().to_string();
                        check_same_config(run, resolved, warn);
                        return Ok(Self { path: run.clone(), run_id, resume: Some(ck) });
                    }
                    Err(e) => detail.push(e.to_string()),
                }
            }
            return Err(RunError::NothingToResume { name: exp.name.clone(), dir: base, detail: detail.join("; ") });
        }
        let stamp = chrono::Utc::now().format("%Y%m%d-%H%M%S").to_string();
        let (mut run_id, mut n) = (stamp.clone(), 1);
        while base.join(&run_id).exists() {
            n += 1;
            run_id = format!("{stamp}-{n}");
        }
        let path = base.join(&run_id);
        fs::create_dir_all(&path).map_err(|source| RunError::Create { path: path.clone(), source })?;
        let (commit, _) = super::record::git_state(Path::new("."));
        fs::write(path.join("config.toml"), resolved.to_toml(commit.as_deref()))
            .map_err(|source| RunError::Create { path: path.join("config.toml"), source })?;
        Ok(Self { path, run_id, resume: None })
    }

    pub fn record_path(&self) -> PathBuf {
        self.path.join("record.toml")
    }
}

/// Warn when the experiment being resumed no longer matches the run's saved config.
fn check_same_config(run: &Path, resolved: &Resolved, warn: &mut dyn FnMut(&str)) {
    let Ok(saved) = crate::config::load_experiment(&run.join("config.toml"), &[]) else {
        warn(&format!("warning: cannot read {}/config.toml to compare with the experiment", run.display()));
        return;
    };
    let strip = |r: &Resolved| {
        let mut e = r.experiment.clone();
        e.run.resume = false;
        toml::to_string(&e).unwrap_or_default()
    };
    if strip(&saved) != strip(resolved) {
        warn("warning: the experiment differs from the config the run started with; the resumed run uses the new values \
              (a new train.duration also reshapes the learning-rate schedule) and will not match an uninterrupted one");
    }
}

/// Finish a record with the outcome and write it.
pub fn finish_record(record: &mut RunRecord, path: &Path, status: &str) {
    record.status = status.to_string();
    record.ended_at = Some(now_rfc3339());
    record.peak_memory_gib = super::record::peak_memory_gib();
    if let Err(e) = record.save(path) {
        eprintln!("warning: cannot write {}: {e}", path.display());
    }
}

/// What a finished run reports to the CLI.
#[derive(Debug, Clone)]
pub struct RunSummary {
    pub run_dir: PathBuf,
    pub steps: u64,
    pub final_loss: f64,
    pub final_valid_loss: Option<f64>,
    pub wall_time_s: f64,
    pub tokens_per_s: f64,
    /// Task metrics beyond the loss (e.g. test MCC per task), also in `record.toml`.
    pub metrics: BTreeMap<String, f64>,
}

impl RunSummary {
    /// The closing lines of a run (`done: … steps in …`, then one line per metric), as `gfm run`
    /// prints them and the text log keeps them.
    pub fn lines(&self) -> Vec<String> {
        let mut lines = vec![format!(
            "done: {} steps in {:.1}s | final train loss {:.4}{} | {:.0} tokens/s | {}",
            self.steps,
            self.wall_time_s,
            self.final_loss,
            self.final_valid_loss.map(|v| format!(" | valid loss {v:.4}")).unwrap_or_default(),
            self.tokens_per_s,
            self.run_dir.display()
        )];
        lines.extend(self.metrics.iter().map(|(name, value)| format!("  {name} = {value:.4}")));
        lines
    }
}

/// The parts every kind shares: the run directory, its text log, the record and energy meter.
pub struct Session {
    pub run_dir: RunDir,
    log: Option<TextLog>,
    record: RunRecord,
    energy: EnergyMeter,
    started: Instant,
    concluded: bool,
}

impl Session {
    /// Record the devices the run computes on (one per data-parallel replica).
    pub fn set_devices(&mut self, devices: Vec<String>) {
        self.record.devices = devices;
    }
}

impl Drop for Session {
    /// A run that failed while preparing (before [`Session::conclude`]) must not stay "running".
    fn drop(&mut self) {
        if !self.concluded {
            let path = self.run_dir.record_path();
            finish_record(&mut self.record, &path, "failed: stopped while preparing data or model (see train.log and the error printed)");
        }
    }
}

impl Session {
    /// Prepare (or find, when resuming) the run directory and start its log and record.
    pub fn open(resolved: &Resolved, resume: bool) -> Result<Self, RunError> {
        let started = Instant::now();
        let mut early = Vec::new();
        let run_dir = RunDir::prepare(resolved, resume, &mut |w| {
            eprintln!("{w}");
            early.push(w.to_string());
        })?;
        Self::start(resolved, run_dir, early, started)
    }

    /// For kinds whose checkpoints live below the run directory (MMIDAS rounds, a suite's
    /// sub-runs): when resuming, continue in the experiment's newest run directory for which
    /// `started` holds (`missing` says what none had); otherwise open a new run.
    pub fn open_or_continue(resolved: &Resolved, resume: bool, started: impl Fn(&Path) -> bool, missing: &str) -> Result<Self, RunError> {
        let exp = &resolved.experiment;
        let dir = exp.run.out_dir.join(&exp.name);
        if !resume {
            return Self::open(resolved, false);
        }
        match crate::checkpoint::locate::locate(&dir, "config.toml", started) {
            Some(found) => Self::open_in(resolved, found.run),
            None => Err(RunError::NothingToResume { name: exp.name.clone(), dir, detail: missing.to_string() }),
        }
    }

    /// Continue in an existing run directory whose checkpoints live below it (MMIDAS keeps one
    /// loop run per pruning round in `K_NNN/`), keeping its record.
    pub fn open_in(resolved: &Resolved, path: PathBuf) -> Result<Self, RunError> {
        let run_id = path.file_name().unwrap_or_default().to_string_lossy().to_string();
        let mut early = Vec::new();
        check_same_config(&path, resolved, &mut |w| {
            eprintln!("{w}");
            early.push(w.to_string());
        });
        Self::start(resolved, RunDir { path, run_id, resume: None }, early, Instant::now())
    }

    fn start(resolved: &Resolved, run_dir: RunDir, early: Vec<String>, started: Instant) -> Result<Self, RunError> {
        let exp = &resolved.experiment;
        let mut log = TextLog::create(&run_dir.path.join("train.log"))?;
        for line in &early {
            log.text(line);
        }
        let mut record = match RunRecord::load(&run_dir.record_path()) {
            Ok(r) if run_dir.resume.is_some() => r,
            _ => RunRecord::begin(&exp.name, &run_dir.run_id, exp.kind.as_str(), exp.seed, "", Path::new(".")),
        };
        record.resumed_from_step = run_dir.resume.as_ref().map(|c| c.state.step).or(record.resumed_from_step);
        record.precision = exp.run.precision.as_str().to_string();
        record.status = "running".into();
        record.save(&run_dir.record_path()).ok();
        let mut s = Self { run_dir, log: Some(log), record, energy: EnergyMeter::start(exp.run.tdp_watts), started, concluded: false };
        s.say(&format!("run directory: {}", s.run_dir.path.display()));
        Ok(s)
    }

    /// A line to stderr and the text log.
    pub fn say(&mut self, line: &str) {
        eprintln!("{line}");
        if let Some(log) = &mut self.log {
            log.text(line);
        }
    }

    /// The metric sinks of the loop: TensorBoard (a resumed run's file starts with a
    /// `SessionLog.START` at the first step after its checkpoint) and the text log.
    pub fn sinks(&mut self) -> Result<MultiSink, RunError> {
        let mut tb = TensorBoardWriter::create(&self.run_dir.path.join("tensorboard"))?;
        if let Some(ck) = &self.run_dir.resume {
            tb.mark_resume(ck.state.step + 1, &ck.dir)?;
        }
        let mut sinks: Vec<Box<dyn MetricSink>> = vec![Box::new(tb)];
        if let Some(log) = self.log.take() {
            sinks.push(Box::new(log));
        }
        Ok(MultiSink { sinks })
    }

    /// Write the record with the outcome (`result` carries the loop outcome, the backend name and
    /// any task metrics) and turn it into the CLI's summary.
    pub fn conclude(
        mut self,
        mut sink: MultiSink,
        result: Result<(LoopOutcome, String, BTreeMap<String, f64>), RunError>,
    ) -> Result<RunSummary, RunError> {
        self.concluded = true;
        let wall_s = self.started.elapsed().as_secs_f64();
        let record = &mut self.record;
        record.wall_time_s += wall_s;
        let (kwh, method) = self.energy.finish(wall_s);
        record.energy_kwh = Some(record.energy_kwh.unwrap_or(0.0) + kwh);
        record.energy_method = method;
        let path = self.run_dir.record_path();
        match result {
            Ok((outcome, backend, metrics)) => {
                let s = &outcome.state;
                record.backend = backend;
                record.steps = s.step;
                record.tokens_seen = s.tokens_seen;
                record.tokens_per_s = s.tokens_seen as f64 / s.train_time_s.max(1e-9);
                record.final_metrics.insert("train/loss".into(), s.last_loss);
                if let Some(v) = s.last_valid_loss {
                    record.final_metrics.insert("valid/loss".into(), v);
                    record.final_metrics.insert("valid/perplexity".into(), v.exp());
                }
                record.final_metrics.extend(metrics.clone());
                sink.scalar("mem/peak_gib", s.step, super::record::peak_memory_gib());
                let summary = RunSummary {
                    run_dir: self.run_dir.path.clone(),
                    steps: s.step,
                    final_loss: s.last_loss,
                    final_valid_loss: s.last_valid_loss,
                    wall_time_s: wall_s,
                    tokens_per_s: record.tokens_per_s,
                    metrics,
                };
                for line in summary.lines() {
                    sink.text(&line);
                }
                sink.flush();
                finish_record(record, &path, "completed");
                Ok(summary)
            }
            Err(e) => {
                let status = match &e {
                    RunError::Train(TrainError::NonFinite { .. }) => "stopped_nonfinite_loss".to_string(),
                    other => format!("failed: {other}"),
                };
                sink.text(&format!("error: {e}"));
                sink.flush();
                finish_record(record, &path, &status);
                Err(e)
            }
        }
    }
}
