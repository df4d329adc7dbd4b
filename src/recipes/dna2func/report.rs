//! DNA2Func outputs in the run directory: `eval/results.toml` (every number),
//! `eval/predictions.tsv` (id, reference, prediction) and `results.md` (the table a person reads,
//! the model beside the majority-answer baseline).

use std::path::Path;

use serde::Serialize;

use crate::eval::text::TextScores;

/// One generated test answer.
#[derive(Debug, Clone)]
pub struct Prediction {
    pub id: String,
    pub reference: String,
    pub prediction: String,
}

#[derive(Serialize)]
struct ResultsFile<'a> {
    checkpoint: &'a str,
    split: &'a str,
    /// Generated tokens that were not text tokens (dropped before decoding).
    non_text_tokens: usize,
    model: &'a TextScores,
    majority_baseline: Baseline<'a>,
}

#[derive(Serialize)]
struct Baseline<'a> {
    answer: &'a str,
    #[serde(flatten)]
    scores: &'a TextScores,
}

/// A TSV cell: tabs and line breaks become spaces.
fn cell(s: &str) -> String {
    s.replace(['\t', '\n', '\r'], " ")
}

/// The Markdown summary.
pub fn markdown(checkpoint: &str, model: &TextScores, baseline: &TextScores, majority: &str) -> String {
    let row = |name: &str, s: &TextScores| {
        format!("| {name} | {} | {:.4} | {:.4} | {:.4} | {:.4} |\n", s.n, s.exact_match, s.token_f1, s.bleu4, s.sentence_bleu4)
    };
    format!(
        "## DNA2Func test results ({checkpoint})\n\n| predictor | n | exact match | token F1 | BLEU-4 (corpus) | BLEU-4 (sentence mean) |\n|---|---|---|---|---|---|\n{}{}",
        row("model (greedy generation)", model),
        row(&format!("majority answer \"{majority}\""), baseline)
    )
}

/// Write the three files; returns the Markdown.
pub fn write_outputs(
    run_dir: &Path,
    checkpoint: &str,
    model: &TextScores,
    baseline: &TextScores,
    majority: &str,
    non_text_tokens: usize,
    predictions: &[Prediction],
) -> std::io::Result<String> {
    let eval = run_dir.join("eval");
    std::fs::create_dir_all(&eval)?;
    let file = ResultsFile {
        checkpoint,
        split: "test",
        non_text_tokens,
        model,
        majority_baseline: Baseline { answer: majority, scores: baseline },
    };
    std::fs::write(eval.join("results.toml"), toml::to_string_pretty(&file).map_err(std::io::Error::other)?)?;
    let mut tsv = String::from("id\treference\tprediction\n");
    for p in predictions {
        tsv.push_str(&format!("{}\t{}\t{}\n", cell(&p.id), cell(&p.reference), cell(&p.prediction)));
    }
    std::fs::write(eval.join("predictions.tsv"), tsv)?;
    let md = markdown(checkpoint, model, baseline, majority);
    std::fs::write(run_dir.join("results.md"), &md)?;
    Ok(md)
}
