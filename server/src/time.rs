//! Time formatting for API answers and pages. The database stores unix milliseconds; answers
//! carry RFC 3339 in UTC with whole seconds, as Harbor's do.

use chrono::{DateTime, SecondsFormat};

/// RFC 3339 UTC time of unix seconds `t`, e.g. `2026-11-27T20:14:00Z`.
pub fn rfc3339(t: i64) -> String {
    // Out of chrono's range (about ±262,000 years) only through a corrupt row: shown as the epoch.
    DateTime::from_timestamp(t, 0).unwrap_or_default().to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// RFC 3339 UTC time of unix milliseconds, the unit stored in the database.
pub fn rfc3339_ms(ms: i64) -> String {
    rfc3339(ms.div_euclid(1000))
}

#[cfg(test)]
mod tests {
    #[test]
    fn rfc3339_times() {
        assert_eq!(super::rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::rfc3339(1_795_000_000), "2026-11-18T11:06:40Z");
        assert_eq!(super::rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(super::rfc3339_ms(1_795_000_000_999), "2026-11-18T11:06:40Z");
        assert_eq!(super::rfc3339_ms(-1), "1969-12-31T23:59:59Z");
    }
}
