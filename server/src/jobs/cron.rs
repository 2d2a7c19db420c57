//! Harbor's six-field cron expressions (`sec min hour day-of-month month day-of-week`, UTC), as
//! its schedules store them. Day-of-week numbers are 0–6 from Sunday, as in Harbor.

use std::str::FromStr;

use chrono::DateTime;

/// A parsed schedule.
#[derive(Debug, Clone)]
pub struct Cron(cron::Schedule);

impl FromStr for Cron {
    type Err = String;

    fn from_str(expr: &str) -> Result<Self, Self::Err> {
        let fields: Vec<&str> = expr.split_whitespace().collect();
        if fields.len() != 6 {
            return Err(format!(
                "cron {expr:?} needs 6 fields (second minute hour day-of-month month day-of-week), e.g. \"0 0 0 * * *\""
            ));
        }
        let dow = shift_weekdays(fields[5])?;
        let translated =
            format!("{} {} {} {} {} {dow}", fields[0], fields[1], fields[2], fields[3], fields[4]);
        cron::Schedule::from_str(&translated).map(Self).map_err(|e| format!("invalid cron {expr:?}: {e}"))
    }
}

/// The cron crate counts weekdays 1–7 from Sunday; Harbor (robfig/cron) 0–6. Numbers are shifted,
/// step sizes (after `/`) and names are kept.
fn shift_weekdays(field: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut chars = field.chars().peekable();
    let mut after_slash = false;
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() {
            let mut n = String::from(c);
            while let Some(d) = chars.next_if(char::is_ascii_digit) {
                n.push(d);
            }
            if after_slash {
                out.push_str(&n);
            } else {
                let v: u32 = n.parse().map_err(|_| format!("bad day of week {n:?}"))?;
                if v > 6 {
                    return Err(format!("day of week {v} is out of range 0-6 (0 is Sunday)"));
                }
                out.push_str(&(v + 1).to_string());
            }
        } else {
            after_slash = c == '/';
            out.push(c);
        }
    }
    Ok(out)
}

impl Cron {
    /// The first firing strictly after unix milliseconds `ms`.
    pub fn next_after(&self, ms: i64) -> Option<i64> {
        let t = DateTime::from_timestamp_millis(ms)?;
        self.0.after(&t).next().map(|n| n.timestamp_millis())
    }
}

#[cfg(test)]
mod tests {
    use frontend::types::Schedule;

    use super::*;

    const SAT_2026_11_28: i64 = 1_795_824_000_000; // 2026-11-28T00:00:00Z, a Saturday

    #[test]
    fn presets_fire_when_harbor_fires() {
        let daily: Cron = "0 0 0 * * *".parse().expect("daily");
        assert_eq!(daily.next_after(SAT_2026_11_28 - 1), Some(SAT_2026_11_28));
        assert_eq!(daily.next_after(SAT_2026_11_28), Some(SAT_2026_11_28 + 86_400_000));
        let weekly: Cron = Schedule::Weekly.cron().parse().expect("weekly");
        assert_eq!(weekly.next_after(SAT_2026_11_28), Some(SAT_2026_11_28 + 86_400_000), "Sunday");
        let hourly: Cron = Schedule::Hourly.cron().parse().expect("hourly");
        assert_eq!(hourly.next_after(SAT_2026_11_28 + 1), Some(SAT_2026_11_28 + 3_600_000));
        let every_2s: Cron = "*/2 * * * * *".parse().expect("seconds");
        assert_eq!(every_2s.next_after(SAT_2026_11_28), Some(SAT_2026_11_28 + 2000));
    }

    #[test]
    fn weekdays_count_from_sunday_zero() {
        let weekdays: Cron = "0 30 6 * * 1-5".parse().expect("weekdays");
        // From Saturday the next weekday is Monday 06:30.
        assert_eq!(weekdays.next_after(SAT_2026_11_28), Some(SAT_2026_11_28 + 2 * 86_400_000 + 23_400_000));
        assert_eq!(shift_weekdays("0,6").as_deref(), Ok("1,7"));
        assert_eq!(shift_weekdays("*/2").as_deref(), Ok("*/2"));
        assert_eq!(shift_weekdays("1-5/2").as_deref(), Ok("2-6/2"));
        assert_eq!(shift_weekdays("MON-FRI").as_deref(), Ok("MON-FRI"));
    }

    #[test]
    fn bad_expressions_say_why() {
        assert!("0 0 * * *".parse::<Cron>().expect_err("invalid").contains("6 fields"));
        assert!("0 0 0 * * 7".parse::<Cron>().expect_err("invalid").contains("0-6"));
        assert!("x 0 0 * * *".parse::<Cron>().is_err());
        assert!("0 61 0 * * *".parse::<Cron>().is_err());
    }
}
