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
    /// Bounds on how old a run's leftovers on a shared deployment must be to be swept.
    pub const RUN_TTL: Bounds =
        Bounds(Duration::from_secs(1)..=Duration::from_secs(30 * 24 * 3600));
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
    parse_duration_text(text)
        .filter(|duration| bounds.0.contains(duration))
        .ok_or_else(|| DurationError {
            expected: format!("a duration such as 500ms, 30s or 2m, {}", bounds.describe()),
        })
}

/// The duration grammar, with no bounds: a number (`30`, `1.5`) and a unit (`ms`, `s`, `m`
/// or `min`, `h`; none is seconds), spaces around and between them allowed; `None` for
/// anything else or a value past [`Duration::MAX`]. A `const fn`, so that
/// `#[temporal_test(timeout = "..")]` checks its literal at compile time by these very rules:
///
/// ```compile_fail,E0080
/// // What `#[temporal_test(timeout = "soon")]` expands to: an error at the literal.
/// const TIMEOUT: std::time::Duration =
///     match temporal_harness::config::parse_duration_text("soon") {
///         Some(timeout) => timeout,
///         None => panic!("timeout: expected a duration such as \"500ms\", \"30s\" or \"2m\""),
///     };
/// ```
///
/// ```
/// use std::time::Duration;
/// use temporal_harness::config::parse_duration_text;
/// const SHORT: Option<Duration> = parse_duration_text("1.5s");
/// assert_eq!(SHORT, Some(Duration::from_millis(1500)));
/// assert_eq!(parse_duration_text("3 days"), None);
/// ```
pub const fn parse_duration_text(text: &str) -> Option<Duration> {
    const NANOS: u128 = 1_000_000_000;
    let bytes = text.as_bytes();
    let (mut i, mut end) = (0, bytes.len());
    while i < end && bytes[i].is_ascii_whitespace() {
        i += 1;
    }
    while end > i && bytes[end - 1].is_ascii_whitespace() {
        end -= 1;
    }
    // The number as a fraction: digits / scale (`1.5` is 15 / 10).
    let (mut digits, mut scale, mut seen, mut point) = (0u128, 1u128, false, false);
    while i < end && (bytes[i].is_ascii_digit() || (bytes[i] == b'.' && !point)) {
        if bytes[i] == b'.' {
            point = true;
        } else if scale < NANOS {
            // Digits past nanoseconds add nothing a Duration could hold.
            digits = match digits.checked_mul(10) {
                Some(d) => d + (bytes[i] - b'0') as u128,
                None => return None,
            };
            if point {
                scale *= 10;
            }
            seen = true;
        } else {
            seen = true;
        }
        i += 1;
    }
    while i < end && bytes[i] == b' ' {
        i += 1;
    }
    let unit = bytes.split_at(i).1.split_at(end - i).0;
    let nanos_per_unit: u128 = match unit {
        b"" | b"s" => NANOS,
        b"ms" => NANOS / 1000,
        b"m" | b"min" => 60 * NANOS,
        b"h" => 3600 * NANOS,
        _ => return None,
    };
    if !seen {
        return None;
    }
    let nanos = match digits.checked_mul(nanos_per_unit) {
        Some(n) => n / scale,
        None => return None,
    };
    let seconds = nanos / NANOS;
    if seconds > u64::MAX as u128 {
        return None;
    }
    Some(Duration::new(seconds as u64, (nanos % NANOS) as u32))
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
        assert_eq!(p("0.25s"), Some(Duration::from_millis(250)));
        assert_eq!(p(" 1 min "), Some(Duration::from_secs(60)));
        assert_eq!(p("1h"), Some(Duration::from_secs(3600)));
        assert_eq!(p(".5"), Some(Duration::from_millis(500)));
        for bad in [
            "3 days", "", "s", ".", "1.2.3", "-1s", "1e3", "1 ms x", "10 sec",
        ] {
            assert_eq!(p(bad), None, "{bad:?}");
        }
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

            #[test]
            fn whole_milliseconds_read_back_exactly(ms in 0u64..u64::MAX / 1000) {
                prop_assert_eq!(
                    parse_duration_text(&format!("{ms}ms")),
                    Some(Duration::from_millis(ms))
                );
            }
        }
    }
}
