//! Owns: reading the `--from` / `--to` times of `kestrel backtest` — UTC dates, date-times
//! and epoch milliseconds — into ns since the UTC epoch. Never: uses the local time zone or
//! guesses a unit (a bare number is always milliseconds, Binance's unit).

use anyhow::Context;

/// ns since the UTC epoch of `text`: `2024-08-08`, `2024-08-08T00:05:00Z`,
/// `2024-08-08T00:05:00.250Z` (also with a space instead of `T`, `Z` optional) or epoch
/// milliseconds (`1723075500000`).
pub fn parse_utc_ns(text: &str) -> anyhow::Result<u64> {
    let text = text.trim();
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        let ms: u64 = text
            .parse()
            .with_context(|| format!("{text:?}: too large"))?;
        return ms
            .checked_mul(1_000_000)
            .with_context(|| format!("{text:?}: too large"));
    }
    let bad = || format!("{text:?}: expected YYYY-MM-DD[THH:MM:SS[.fff]][Z] or epoch milliseconds");
    let text = text.strip_suffix('Z').unwrap_or(text);
    let (date, time) = match text.split_once(['T', ' ']) {
        Some((date, time)) => (date, Some(time)),
        None => (text, None),
    };
    let mut parts = date.split('-');
    let (Some(y), Some(m), Some(d), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        anyhow::bail!(bad());
    };
    let year: i64 = y.parse().with_context(bad)?;
    let month: u32 = m.parse().with_context(bad)?;
    let day: u32 = d.parse().with_context(bad)?;
    anyhow::ensure!(
        (1970..=9999).contains(&year) && (1..=12).contains(&month),
        bad()
    );
    anyhow::ensure!(day >= 1 && day <= days_in_month(year, month), bad());
    let mut ns_of_day = 0u64;
    if let Some(time) = time {
        let (hms, fraction) = match time.split_once('.') {
            Some((hms, fraction)) => (hms, Some(fraction)),
            None => (time, None),
        };
        let fields: Vec<&str> = hms.split(':').collect();
        anyhow::ensure!(fields.len() == 3 || fields.len() == 2, bad());
        let hour: u64 = fields[0].parse().with_context(bad)?;
        let minute: u64 = fields[1].parse().with_context(bad)?;
        let second: u64 = match fields.get(2) {
            Some(s) => s.parse().with_context(bad)?,
            None => 0,
        };
        anyhow::ensure!(hour < 24 && minute < 60 && second < 60, bad());
        ns_of_day = ((hour * 60 + minute) * 60 + second) * 1_000_000_000;
        if let Some(fraction) = fraction {
            anyhow::ensure!(
                !fraction.is_empty()
                    && fraction.len() <= 9
                    && fraction.bytes().all(|b| b.is_ascii_digit()),
                bad()
            );
            let digits: u64 = fraction.parse().with_context(bad)?;
            ns_of_day += digits * 10u64.pow(9 - fraction.len() as u32);
        }
    }
    let days = days_from_civil(year, month, day);
    let days = u64::try_from(days).map_err(|_| anyhow::anyhow!(bad()))?;
    Ok(days * 86_400_000_000_000 + ns_of_day)
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(year) => 29,
        _ => 28,
    }
}

/// Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month = i64::from(month);
    let day_of_year =
        (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_dates_date_times_and_epoch_milliseconds() {
        // 2024-08-08T00:00:00Z = 1723075200 s.
        assert_eq!(
            parse_utc_ns("2024-08-08").unwrap(),
            1_723_075_200_000_000_000
        );
        assert_eq!(
            parse_utc_ns("2024-08-08T00:05:00Z").unwrap(),
            1_723_075_500_000_000_000
        );
        assert_eq!(
            parse_utc_ns("2024-08-08 00:05:00.25").unwrap(),
            1_723_075_500_250_000_000
        );
        assert_eq!(
            parse_utc_ns("1723075500000").unwrap(),
            1_723_075_500_000_000_000
        );
        assert_eq!(parse_utc_ns("1970-01-01").unwrap(), 0);
        // Leap day and the end of a century year that is not leap.
        assert_eq!(
            parse_utc_ns("2024-02-29").unwrap(),
            1_709_164_800_000_000_000
        );
        assert!(parse_utc_ns("2100-02-29").is_err());
    }

    #[test]
    fn refuses_what_it_cannot_read_exactly() {
        for bad in [
            "",
            "2024-13-01",
            "2024-08-32",
            "2024-08-08T24:00:00Z",
            "2024-08-08T00:00:00.1234567891",
            "yesterday",
            "2024-08",
            "-5",
            "2024-08-08T00:00:00+02:00",
        ] {
            assert!(parse_utc_ns(bad).is_err(), "{bad:?} was accepted");
        }
    }
}
