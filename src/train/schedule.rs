//! Learning-rate schedule: linear warm-up, then cosine, linear or constant decay to a floor.
//! Pure function of the step, so a resumed run needs no schedule state.

use crate::config::Schedule;

#[derive(Debug, Clone, Copy)]
pub struct LrSchedule {
    pub peak: f64,
    pub warmup_steps: u64,
    pub total_steps: u64,
    pub kind: Schedule,
    /// Final learning rate as a fraction of `peak`.
    pub min_ratio: f64,
}

impl LrSchedule {
    /// Learning rate for optimizer step `step` (0-based).
    ///
    /// Warm-up: `peak * (step + 1) / warmup_steps` (so step 0 does not waste a batch at lr 0).
    /// Cosine: `min + (peak - min) * 0.5 * (1 + cos(pi * progress))`, progress in [0, 1] over the
    /// steps after warm-up (OLMo `CosWithWarmup`).
    pub fn lr(&self, step: u64) -> f64 {
        if step < self.warmup_steps {
            return self.peak * (step + 1) as f64 / self.warmup_steps as f64;
        }
        let min = self.peak * self.min_ratio;
        let decay_steps = self.total_steps.saturating_sub(self.warmup_steps).max(1);
        let progress = ((step - self.warmup_steps) as f64 / decay_steps as f64).min(1.0);
        match self.kind {
            Schedule::Constant => self.peak,
            Schedule::Linear => self.peak - (self.peak - min) * progress,
            Schedule::Cosine => min + (self.peak - min) * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sched(kind: Schedule) -> LrSchedule {
        LrSchedule { peak: 1e-3, warmup_steps: 10, total_steps: 110, kind, min_ratio: 0.1 }
    }

    #[test]
    fn warmup_rises_linearly_to_peak() {
        let s = sched(Schedule::Cosine);
        assert!((s.lr(0) - 1e-4).abs() < 1e-12);
        assert!((s.lr(4) - 5e-4).abs() < 1e-12);
        assert!((s.lr(10) - 1e-3).abs() < 1e-12);
    }

    #[test]
    fn cosine_reaches_floor_at_the_end_and_half_way_is_the_midpoint() {
        let s = sched(Schedule::Cosine);
        assert!((s.lr(60) - (1e-4 + 0.9e-3 * 0.5)).abs() < 1e-12);
        assert!((s.lr(110) - 1e-4).abs() < 1e-12);
        assert!((s.lr(500) - 1e-4).abs() < 1e-12);
    }

    #[test]
    fn linear_and_constant() {
        assert!((sched(Schedule::Linear).lr(60) - 5.5e-4).abs() < 1e-12);
        assert!((sched(Schedule::Constant).lr(100) - 1e-3).abs() < 1e-12);
    }
}
