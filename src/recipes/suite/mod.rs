//! `kind = "suite"`: a whole benchmark (GB or NT) as one experiment. Each task becomes an ordinary
//! `finetune` (mode `single`; mode `multi` trains one over all tasks) and `kmer_baseline` run
//! inside the suite's run directory, whose experiment file is written beside it:
//!
//! ```text
//! checkpoints/<name>/<run id>/
//!   config.toml  record.toml  train.log  suite.toml  suite.md
//!   tasks/<task>.toml   tasks/<task>/<run id>/…      (mode single; multi: tasks/all.toml, tasks/all/)
//!   kmer/<task>.toml    kmer/<task>/<run id>/…
//! ```
//!
//! The tasks run one after another; `--resume` skips every run that completed (it has
//! `eval/results.toml` and a completed record), continues an interrupted finetune from its
//! checkpoint, and starts the rest.

pub mod report;

use std::path::{Path, PathBuf};

use self::report::{read_score, write_suite, SuiteRow, TaskScore};
use super::{Context, Finished, Metrics, Recipe};
use crate::checkpoint::locate::locate;
use crate::checkpoint::TrainState;
use crate::config::suite_tasks::{task_metric, SuiteTask};
use crate::config::{load_experiment, Kind, Resolved, SuiteMode};
use crate::kernels::TrainBackend;
use crate::train::session::{RunError, Session};
use crate::train::trainer::LoopOutcome;

/// `kind = "suite"`.
pub struct Suite;

/// The planned tasks.
pub struct Planned {
    tasks: Vec<SuiteTask>,
}

/// A run directory that finished: a completed record and evaluation results.
fn completed(run: &Path) -> bool {
    run.join("eval").join("results.toml").is_file()
        && crate::train::record::RunRecord::load(&run.join("record.toml")).is_ok_and(|r| r.status == "completed")
}

/// Write and load the experiment of one sub-run: the suite's resolved experiment with `kind`,
/// `name`, its `[[tasks]]` and `run.out_dir` replaced, and only the sections `kind` reads.
fn sub_experiment(resolved: &Resolved, kind: Kind, name: &str, dir: &Path, tasks: &[&SuiteTask]) -> Result<Resolved, RunError> {
    let exp = &resolved.experiment;
    let path = dir.join(format!("{name}.toml"));
    let parse = |message: String| RunError::Parse { path: path.clone(), message };
    let mut table = toml::Table::try_from(exp).map_err(|e| parse(e.to_string()))?;
    table.retain(|key, _| kind.reads(key));
    table.insert("name".into(), name.into());
    table.insert("kind".into(), kind.as_str().into());
    let specs: Vec<_> = tasks.iter().map(|t| t.spec.clone()).collect();
    table.insert("tasks".into(), toml::Value::try_from(specs).map_err(|e| parse(e.to_string()))?);
    let run = table.entry("run").or_insert_with(|| toml::Table::new().into());
    if let Some(run) = run.as_table_mut() {
        run.insert("out_dir".into(), dir.display().to_string().into());
    }
    if kind == Kind::KmerBaseline {
        let s = &exp.suite;
        if let Some(train) = table.get_mut("train").and_then(|t| t.as_table_mut()) {
            train.insert("batch_size".into(), (s.kmer_batch_size as i64).into());
            train.insert("lr".into(), s.kmer_lr.into());
            train.insert("duration".into(), toml::Value::Table(toml::Table::from_iter([("epochs".to_string(), s.kmer_epochs.into())])));
        }
    }
    let text = format!(
        "# Written by the suite {} ({}); run it alone with `gfm run {}`.\n{}",
        exp.name,
        resolved.source.display(),
        path.display(),
        toml::to_string_pretty(&table).map_err(|e| parse(e.to_string()))?
    );
    std::fs::create_dir_all(dir).map_err(|source| RunError::Create { path: dir.to_path_buf(), source })?;
    std::fs::write(&path, text).map_err(|source| RunError::Write { path: path.clone(), source })?;
    Ok(load_experiment(&path, &[])?)
}

/// Run (or, when it completed earlier, find) one sub-run; returns its run directory.
fn run_or_skip<B: TrainBackend>(ctx: &mut Context<'_, B>, sub: &Resolved, label: &str, state: &mut TrainState) -> Result<PathBuf, RunError> {
    let exp_dir = sub.experiment.run.out_dir.join(&sub.experiment.name);
    if let Some(found) = locate(&exp_dir, "config.toml", completed).filter(|f| completed(&f.run)) {
        ctx.say(&format!("{label}: finished earlier ({}), skipping", found.run.display()));
        return Ok(found.run);
    }
    ctx.say(&format!("{label}: running {} ({})", sub.experiment.kind.as_str(), sub.source.display()));
    // Continue an interrupted run from its checkpoint when there is one; otherwise start it.
    let summary = match crate::recipes::run(sub, true) {
        Ok(s) => s,
        Err(RunError::NothingToResume { .. } | RunError::NotResumable { .. }) => crate::recipes::run(sub, false)?,
        Err(e) => return Err(e),
    };
    state.step += summary.steps;
    state.train_time_s += summary.wall_time_s;
    if let Ok(record) = crate::train::record::RunRecord::load(&summary.run_dir.join("record.toml")) {
        state.tokens_seen += record.tokens_seen;
    }
    state.last_loss = summary.final_loss;
    ctx.say(&format!("{label}: done in {:.0} s ({})", summary.wall_time_s, summary.run_dir.display()));
    Ok(summary.run_dir)
}

impl Recipe for Suite {
    type Prepared = Planned;

    /// Resuming continues the suite's newest run directory that has started a task.
    fn open(resolved: &Resolved, resume: bool) -> Result<Session, RunError> {
        let started = |r: &Path| r.join("tasks").is_dir() || r.join("kmer").is_dir();
        Session::open_or_continue(resolved, resume, started, "no suite run has started a task")
    }

    fn prepare(resolved: &Resolved, session: &mut Session) -> Result<Planned, RunError> {
        let exp = &resolved.experiment;
        let s = &exp.suite;
        // Planned at resolution: every task is a [[tasks]] table with its metric set.
        let tasks: Vec<SuiteTask> = exp
            .tasks
            .iter()
            .map(|spec| SuiteTask { name: spec.name.clone(), metric: spec.metric.unwrap_or_else(|| task_metric(s.benchmark, &spec.name)), spec: spec.clone() })
            .collect();
        session.say(&format!(
            "{} suite, mode {}: {} task(s): {}",
            s.benchmark.as_str(),
            s.mode.as_str(),
            tasks.len(),
            tasks.iter().map(|t| format!("{} ({})", t.name, t.metric.name())).collect::<Vec<_>>().join(", ")
        ));
        Ok(Planned { tasks })
    }

    fn train<B: TrainBackend>(p: Planned, ctx: &mut Context<'_, B>) -> Result<Finished, RunError> {
        let resolved = ctx.resolved;
        let s = &resolved.experiment.suite;
        let (bench, mode) = (s.benchmark.as_str(), s.mode.as_str().to_string());
        let root = ctx.run_dir.to_path_buf();
        let mut state = TrainState {
            step: 0, tokens_seen: 0, epoch: 0, cursor: 0, seed: resolved.experiment.seed, train_time_s: 0.0,
            last_loss: f64::NAN, last_valid_loss: None, best_select: None,
        };
        let mut rows: Vec<SuiteRow> = p
            .tasks
            .iter()
            .map(|t| SuiteRow { task: t.name.clone(), metric: t.metric.name().to_string(), gfm: None, kmer: None })
            .collect();
        let n = p.tasks.len();
        let finetune_dir = root.join("tasks");
        if s.mode == SuiteMode::Multi {
            let all: Vec<&SuiteTask> = p.tasks.iter().collect();
            let sub = sub_experiment(resolved, Kind::Finetune, "all", &finetune_dir, &all)?;
            let run = run_or_skip(ctx, &sub, &format!("all {n} tasks (multi-task)"), &mut state)?;
            for row in rows.iter_mut() {
                row.gfm = Some(read_score(&run, &row.task)?);
            }
            write_suite(&root, bench, &mode, &rows)?;
        }
        for (i, t) in p.tasks.iter().enumerate() {
            let label = format!("task {}/{n} {}", i + 1, t.name);
            if s.mode == SuiteMode::Single {
                let sub = sub_experiment(resolved, Kind::Finetune, &t.name, &finetune_dir, &[t])?;
                let run = run_or_skip(ctx, &sub, &label, &mut state)?;
                rows[i].gfm = Some(read_score(&run, &t.name)?);
            }
            if s.kmer_baseline || s.mode == SuiteMode::Kmer {
                let sub = sub_experiment(resolved, Kind::KmerBaseline, &t.name, &root.join("kmer"), &[t])?;
                let run = run_or_skip(ctx, &sub, &format!("{label} (k-mer baseline)"), &mut state)?;
                rows[i].kmer = Some(read_score(&run, &t.name)?);
            }
            write_suite(&root, bench, &mode, &rows)?;
        }
        let mut metrics = Metrics::new();
        for r in &rows {
            let mut put = |what: &str, score: &Option<TaskScore>| {
                if let Some(sc) = score {
                    metrics.insert(format!("suite/{}/{what}{}", r.task, r.metric), sc.value);
                }
            };
            put("", &r.gfm);
            put("kmer_", &r.kmer);
        }
        let outcome = LoopOutcome { state, resumed_from: None, last_checkpoint: None };
        Ok(Finished { outcome, metrics, report: report::markdown(bench, &mode, &rows) })
    }

    fn summary(r: &Resolved) -> String {
        let s = &r.experiment.suite;
        let tasks = r
            .experiment
            .tasks
            .iter()
            .map(|t| format!("{} ({})", t.name, t.metric.unwrap_or_else(|| task_metric(s.benchmark, &t.name)).name()))
            .collect::<Vec<_>>()
            .join(", ");
        format!(
            "# kind:             suite\n# benchmark:        {}\n# mode:             {}{}\n# tasks:            {tasks}\n",
            s.benchmark.as_str(),
            s.mode.as_str(),
            if s.kmer_baseline && s.mode != SuiteMode::Kmer { " (+ k-mer baseline per task)" } else { "" },
        )
    }
}
