//! Human durations in configuration: `500ms`, `30s`, `2m`, `1h`, or plain seconds, each
//! setting with the range that makes sense for it (a bound too large for the clock, or a zero
//! timeout, is a usage error naming the setting, never a panic).

use std::ops::RangeInclusive;
use std::time::Duration;

/// The accepted range of a duration setting.
#[derive(Debug, Clone)]
pub struct Bounds(pub RangeInclusive<Duration>);

impl Bounds {
    /// Bounds on waiting for a stack to boot.
    pub const STARTUP: Bounds = Bounds(Duration::from_secs(1)..=Duration::from_secs(24 * 3600));
    /// Bounds on how long a stack outlives its last user.
    pub const LINGER: Bounds = Bounds(Duration::ZERO..=Duration::from_secs(24 * 3600));
    /// Bounds on the first retry interval of the validation workflow's error stage.
    pub const RETRY_INTERVAL: Bounds = Bounds(Duration::from_millis(1)..=Duration::from_secs(600));

    fn describe(&self) -> String {
        format!("from {:?} to {:?}", self.0.start(), self.0.end())
    }
}

/// A duration that is not one, or out of its setting's range; says what is accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected {expected}")]
pub struct DurationError {
    /// What is accepted (`a duration such as 500ms, 30s or 2m, from 1s to 86400s`).
    pub expected: String,
}

/// Parses `500ms`, `30s`, `2m`, `1h` or a bare number of seconds (`1.5`) within `bounds`;
/// the error says what is accepted.
pub fn parse_duration(text: &str, bounds: &Bounds) -> Result<Duration, DurationError> {
    let shape = || DurationError {
        expected: format!("a duration such as 500ms, 30s or 2m, {}", bounds.describe()),
    };
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().map_err(|_| shape())?;
    let seconds = match unit.trim() {
        "" | "s" => number,
        "ms" => number / 1000.0,
        "m" | "min" => number * 60.0,
        "h" => number * 3600.0,
        _ => return Err(shape()),
    };
    // try_from rejects negative, NaN and too large (`from_secs_f64` would panic on those).
    let duration = Duration::try_from_secs_f64(seconds).map_err(|_| shape())?;
    if bounds.0.contains(&duration) {
        Ok(duration)
    } else {
        Err(shape())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ANY: Bounds = Bounds(Duration::ZERO..=Duration::MAX);

    #[test]
    fn units() {
        let p = |t| parse_duration(t, &ANY).ok();
        assert_eq!(p("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(p("30s"), Some(Duration::from_secs(30)));
        assert_eq!(p("2m"), Some(Duration::from_secs(120)));
        assert_eq!(p("1.5"), Some(Duration::from_millis(1500)));
        assert_eq!(p("3 days"), None);
        assert_eq!(p(""), None);
    }

    #[test]
    fn out_of_range_and_huge_values_are_errors_not_panics() {
        for text in ["99999999999999999999h", "1e400", "0s", "25h"] {
            let err = parse_duration(text, &Bounds::STARTUP).unwrap_err();
            assert!(err.expected.contains("from 1s to 86400s"), "{text}: {err}");
        }
        assert!(parse_duration("0s", &Bounds::LINGER).is_ok());
    }

    mod property {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn any_text_parses_or_errs_within_bounds(text in "\\PC{0,24}") {
                if let Ok(d) = parse_duration(&text, &Bounds::STARTUP) {
                    prop_assert!(Bounds::STARTUP.0.contains(&d));
                }
            }
        }
    }
}
