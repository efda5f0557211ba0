//! The time window a query covers: whole UTC days, `since` inclusive and `until` exclusive. Constructors for a
//! calendar month and for "last month" take the clock as an argument, so nothing below the CLI reads it.

use chrono::{DateTime, Datelike, Months, NaiveDate, Utc};

/// A window of whole UTC days: `[since, until)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Period {
    since: NaiveDate,
    until: NaiveDate,
    /// Set when the window is exactly one calendar month, so queries that report by month can name it.
    month: Option<(i32, u32)>,
}

/// Why a window could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeriodError {
    #[error("{since} is not before {until}")]
    Empty { since: NaiveDate, until: NaiveDate },
    #[error("{0:?} is not a month (YYYY-MM)")]
    NotAMonth(String),
    #[error("{0:?} is not a date (YYYY-MM-DD)")]
    NotADate(String),
}

impl Period {
    /// `[since, until)`; `since` must be before `until`.
    pub fn new(since: NaiveDate, until: NaiveDate) -> Result<Period, PeriodError> {
        if since >= until {
            return Err(PeriodError::Empty { since, until });
        }
        let month = (since.day() == 1 && since.checked_add_months(Months::new(1)) == Some(until))
            .then(|| (since.year(), since.month()));
        Ok(Period { since, until, month })
    }

    /// The calendar month `year-month`.
    pub fn month(year: i32, month: u32) -> Result<Period, PeriodError> {
        let text = format!("{year:04}-{month:02}");
        let since = NaiveDate::from_ymd_opt(year, month, 1).ok_or_else(|| PeriodError::NotAMonth(text.clone()))?;
        let until = since.checked_add_months(Months::new(1)).ok_or(PeriodError::NotAMonth(text))?;
        Period::new(since, until)
    }

    /// `YYYY-MM`.
    pub fn parse_month(text: &str) -> Result<Period, PeriodError> {
        let not_a_month = || PeriodError::NotAMonth(text.to_string());
        let (year, month) = text.trim().split_once('-').ok_or_else(not_a_month)?;
        if year.len() != 4 || month.len() != 2 {
            return Err(not_a_month());
        }
        let year: i32 = year.parse().map_err(|_| not_a_month())?;
        let month: u32 = month.parse().map_err(|_| not_a_month())?;
        Period::month(year, month).map_err(|_| not_a_month())
    }

    /// The calendar month before the one `now` falls in (UTC).
    pub fn last_month(now: DateTime<Utc>) -> Period {
        let this_month = NaiveDate::from_ymd_opt(now.year(), now.month(), 1).unwrap_or(NaiveDate::MIN);
        let since = this_month.checked_sub_months(Months::new(1)).unwrap_or(NaiveDate::MIN);
        Period { since, until: this_month, month: Some((since.year(), since.month())) }
    }

    /// The `days` whole days that end with (and include) `last_day`.
    pub fn days_ending(last_day: NaiveDate, days: u32) -> Period {
        let until = last_day.succ_opt().unwrap_or(last_day);
        let since = until - chrono::Duration::days(i64::from(days.max(1)));
        Period { since, until, month: None }
    }

    /// Every day a warehouse can hold.
    pub fn all() -> Period {
        let since = NaiveDate::from_ymd_opt(1, 1, 1).unwrap_or(NaiveDate::MIN);
        let until = NaiveDate::from_ymd_opt(9999, 12, 31).unwrap_or(NaiveDate::MAX);
        Period { since, until, month: None }
    }

    /// The first day (inclusive).
    pub fn since(&self) -> NaiveDate {
        self.since
    }

    /// The day after the last (exclusive).
    pub fn until(&self) -> NaiveDate {
        self.until
    }

    /// `YYYY-MM` when the window is exactly one calendar month.
    pub fn month_label(&self) -> Option<String> {
        self.month.map(|(y, m)| format!("{y:04}-{m:02}"))
    }

    /// The calendar month before this one, when this window is a month.
    pub fn previous_month(&self) -> Option<Period> {
        let (y, m) = self.month?;
        let (y, m) = if m == 1 { (y - 1, 12) } else { (y, m - 1) };
        Period::month(y, m).ok()
    }

    /// Number of days in the window.
    pub fn days(&self) -> i64 {
        (self.until - self.since).num_days()
    }
}

impl std::fmt::Display for Period {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.month_label() {
            Some(m) => write!(f, "{m}"),
            None => write!(f, "{} to {} (exclusive)", self.since, self.until),
        }
    }
}

/// `YYYY-MM-DD`.
pub fn parse_day(text: &str) -> Result<NaiveDate, PeriodError> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").map_err(|_| PeriodError::NotADate(text.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn months_and_last_month() {
        let dec = Period::parse_month("2025-12").unwrap();
        assert_eq!((dec.since(), dec.until()), (day(2025, 12, 1), day(2026, 1, 1)));
        assert_eq!(dec.month_label().as_deref(), Some("2025-12"));
        assert_eq!(dec.previous_month().unwrap().month_label().as_deref(), Some("2025-11"));
        assert_eq!(Period::parse_month("2026-01").unwrap().previous_month().unwrap(), Period::month(2025, 12).unwrap());
        for bad in ["2025-13", "2025-1", "25-01", "2025/01", "", "2025-00"] {
            assert!(Period::parse_month(bad).is_err(), "{bad:?}");
        }
        // The clock is an argument: on 2026-01-01T00:00 the last month is December.
        let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        assert_eq!(Period::last_month(now), dec);
        let now = Utc.with_ymd_and_hms(2026, 3, 31, 23, 59, 59).unwrap();
        assert_eq!(Period::last_month(now).month_label().as_deref(), Some("2026-02"));
    }

    #[test]
    fn ranges() {
        assert!(Period::new(day(2025, 1, 2), day(2025, 1, 2)).is_err());
        let p = Period::new(day(2025, 1, 1), day(2025, 2, 1)).unwrap();
        assert_eq!(p.month_label().as_deref(), Some("2025-01"), "a range that is a month is one");
        assert_eq!(Period::new(day(2025, 1, 2), day(2025, 2, 1)).unwrap().month_label(), None);
        let last30 = Period::days_ending(day(2025, 12, 31), 30);
        assert_eq!((last30.since(), last30.until(), last30.days()), (day(2025, 12, 2), day(2026, 1, 1), 30));
    }
}
