use super::*;

fn labels(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-12
}

/// Expand a confusion matrix `[true][pred]` into truth and prediction lists.
fn from_confusion(confusion: &[&[usize]]) -> (Vec<usize>, Vec<Option<usize>>) {
    let mut truth = Vec::new();
    let mut pred = Vec::new();
    for (t, row) in confusion.iter().enumerate() {
        for (p, &count) in row.iter().enumerate() {
            truth.extend(std::iter::repeat_n(t, count));
            pred.extend(std::iter::repeat_n(Some(p), count));
        }
    }
    (truth, pred)
}

#[test]
fn binary_example_matches_hand_computed_values() {
    // neg row: 4 TN, 2 FP; pos row: 1 FN, 3 TP.
    let (truth, pred) = from_confusion(&[&[4, 2], &[1, 3]]);
    let r = classification_report(&labels(&["neg", "pos"]), &truth, &pred);
    assert_eq!(r.confusion, [[4, 2], [1, 3]]);
    // accuracy = (4 + 3) / 10
    assert!(close(r.accuracy, 0.7));
    // binary MCC = (TP·TN − FP·FN) / sqrt((TP+FP)(TP+FN)(TN+FP)(TN+FN))
    //            = (3·4 − 2·1) / sqrt(5·4·6·5) = 10 / sqrt(600) = 0.408248290463863;
    // Gorodkin: (7·10 − (5·6 + 5·4)) / sqrt((100 − 50)(100 − 52)) = 20 / sqrt(2400), the same.
    assert!(close(r.mcc, 10.0 / 600f64.sqrt()), "{}", r.mcc);
    // F1 = 2TP / (2TP + FP + FN): neg 8 / 11, pos 6 / 9; macro = (8/11 + 2/3) / 2 = 23/33.
    assert!(close(r.per_class[0].f1, 8.0 / 11.0));
    assert!(close(r.per_class[1].precision, 3.0 / 5.0) && close(r.per_class[1].recall, 0.75));
    assert!(close(r.macro_f1, 23.0 / 33.0));
    assert_eq!((r.per_class[0].support, r.per_class[1].support), (6, 4));
    assert_eq!((r.n, r.invalid), (10, 0));
}

#[test]
fn three_class_example_matches_hand_computed_values() {
    // true a: 5 a, 1 b; true b: 2 a, 3 b, 1 c; true c: 1 b, 4 c.
    let (truth, pred) = from_confusion(&[&[5, 1, 0], &[2, 3, 1], &[0, 1, 4]]);
    let r = classification_report(&labels(&["a", "b", "c"]), &truth, &pred);
    // s = 17, correct = 12, t = (6, 6, 5), p = (7, 5, 5).
    assert!(close(r.accuracy, 12.0 / 17.0));
    // MCC = (12·17 − (7·6 + 5·6 + 5·5)) / sqrt((289 − (49+25+25))(289 − (36+36+25)))
    //     = (204 − 97) / sqrt(190 · 192) = 107 / sqrt(36480) = 0.5602171023401427
    assert!(close(r.mcc, 107.0 / 36_480f64.sqrt()), "{}", r.mcc);
    // F1 = 2·hits / (p + t): a 10/13, b 6/11, c 8/10; macro = their mean = 0.704895104895105.
    let f1: Vec<f64> = r.per_class.iter().map(|c| c.f1).collect();
    assert!(close(f1[0], 10.0 / 13.0) && close(f1[1], 6.0 / 11.0) && close(f1[2], 0.8));
    assert!(close(r.macro_f1, (10.0 / 13.0 + 6.0 / 11.0 + 0.8) / 3.0));
}

#[test]
fn all_correct_gives_one_everywhere() {
    let truth = vec![0, 1, 2, 2, 1, 0, 0];
    let pred: Vec<Option<usize>> = truth.iter().map(|&t| Some(t)).collect();
    let r = classification_report(&labels(&["a", "b", "c"]), &truth, &pred);
    assert!(close(r.accuracy, 1.0) && close(r.mcc, 1.0) && close(r.macro_f1, 1.0));
}

#[test]
fn all_invalid_scores_zero_with_invalid_rate_one() {
    let r = classification_report(&labels(&["neg", "pos"]), &[0, 1, 1, 0], &[None; 4]);
    assert_eq!((r.invalid, r.invalid_by_class.clone()), (4, vec![2, 2]));
    assert!(close(r.invalid_rate, 1.0));
    // No hits: accuracy 0, every F1 0; MCC numerator 0·4 − 0 = 0 and Σp² = 4² = s², so 0/0 → 0.
    assert_eq!((r.accuracy, r.mcc, r.macro_f1), (0.0, 0.0, 0.0));
    assert_eq!(r.confusion, [[0, 0], [0, 0]]);
    assert_eq!((r.per_class[1].recall, r.per_class[1].support), (0.0, 2));
}

#[test]
fn invalid_outputs_count_wrong_and_enter_mcc_as_an_extra_column() {
    // truth neg neg neg pos pos pos; predictions neg neg ? pos pos ?.
    let pred = [Some(0), Some(0), None, Some(1), Some(1), None];
    let r = classification_report(&labels(&["neg", "pos"]), &[0, 0, 0, 1, 1, 1], &pred);
    assert!(close(r.accuracy, 4.0 / 6.0) && close(r.invalid_rate, 1.0 / 3.0));
    // t = (3, 3), p = (2, 2), invalid = 2: MCC = (4·6 − (2·3 + 2·3)) / sqrt((36 − (4+4+4))(36 − 18))
    //   = 12 / sqrt(432) = 1/sqrt(3). (Dropping the invalid rows instead would give MCC 1.)
    assert!(close(r.mcc, 1.0 / 3f64.sqrt()), "{}", r.mcc);
    // Each class: precision 2/2, recall 2/3, F1 = 2·(2/3) / (5/3) = 0.8.
    assert!(close(r.per_class[0].f1, 0.8) && close(r.macro_f1, 0.8));
}

#[test]
fn a_class_never_predicted_has_zero_precision_and_f1() {
    // true a a b b c c; predicted a a b b a b: c is never predicted.
    let pred = [Some(0), Some(0), Some(1), Some(1), Some(0), Some(1)];
    let r = classification_report(&labels(&["a", "b", "c"]), &[0, 0, 1, 1, 2, 2], &pred);
    let c = &r.per_class[2];
    // precision of c: 0/0 → 0; recall 0/2; F1 0.
    assert_eq!((c.precision, c.recall, c.f1, c.support), (0.0, 0.0, 0.0, 2));
    // a, b: F1 = 2·2 / (3 + 2) = 0.8; macro = (0.8 + 0.8 + 0) / 3.
    assert!(close(r.macro_f1, 1.6 / 3.0));
    // s = 6, correct 4, p = (3, 3, 0), t = (2, 2, 2):
    // MCC = (24 − 12) / sqrt((36 − 18)(36 − 12)) = 12 / sqrt(432) = 1/sqrt(3).
    assert!(close(r.mcc, 1.0 / 3f64.sqrt()), "{}", r.mcc);
}

#[test]
fn classes_absent_from_the_truth_are_not_averaged() {
    // truth a b; predictions c b. c has no support, so macro-F1 = (F1 a + F1 b) / 2 = (0 + 1) / 2.
    let r = classification_report(&labels(&["a", "b", "c"]), &[0, 1], &[Some(2), Some(1)]);
    assert!(close(r.macro_f1, 0.5));
    // s = 2, correct 1, p = (0, 1, 1), t = (1, 1, 0): MCC = (2 − 1) / sqrt((4 − 2)(4 − 2)) = 0.5.
    assert!(close(r.mcc, 0.5));
    let empty = classification_report(&labels(&["a"]), &[], &[]);
    assert_eq!(
        (empty.n, empty.accuracy, empty.mcc, empty.macro_f1),
        (0, 0.0, 0.0, 0.0)
    );
}

#[test]
fn metric_names_are_snake_case_in_serde_and_name() {
    for (metric, name) in [
        (Metric::Accuracy, "accuracy"),
        (Metric::Mcc, "mcc"),
        (Metric::MacroF1, "macro_f1"),
    ] {
        assert_eq!(metric.name(), name);
        assert_eq!(
            serde_json::to_string(&metric).expect("json"),
            format!("\"{name}\"")
        );
        let back: Metric = serde_json::from_str(&format!("\"{name}\"")).expect("parse");
        assert_eq!(back, metric);
    }
}
