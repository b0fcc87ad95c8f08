//! NGSI-LD DateTime values: parsing (ISO 8601 / RFC 3339, UTC) and formatting, held as
//! microseconds since the Unix epoch so they are cheap to store and compare.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Microseconds since 1970-01-01T00:00:00Z.
pub type Micros = i64;

/// Parses an NGSI-LD DateTime such as `2020-09-09T16:40:00.000Z` (offsets are accepted and
/// converted to UTC). Returns `None` when the text is not a DateTime.
pub fn parse_datetime(text: &str) -> Option<Micros> {
    let dt = OffsetDateTime::parse(text, &Rfc3339).ok().or_else(|| {
        // Tolerate a missing zone designator by assuming UTC, as other brokers do.
        if text.len() >= 19 && !text.ends_with('Z') && !text.contains('+') {
            OffsetDateTime::parse(&format!("{text}Z"), &Rfc3339).ok()
        } else {
            None
        }
    })?;
    let nanos = dt.unix_timestamp_nanos();
    i64::try_from(nanos / 1000).ok()
}

/// Parses a DateTime given in a payload, which must be in UTC: an explicit offset such as
/// `+03:00` is refused (clause 4.6.3 fixes the `Z` form) so that stored times compare in
/// instant order; a missing zone designator is read as UTC like [`parse_datetime`].
pub fn parse_utc_datetime(text: &str) -> Option<Micros> {
    let clock = text.split_once('T').map_or("", |(_, c)| c);
    if clock.contains('+') || clock.contains('-') {
        return None;
    }
    parse_datetime(text)
}

/// Formats microseconds as `YYYY-MM-DDTHH:MM:SSZ` when the time has whole seconds (the form
/// clients send and the conformance suite compares literally), else with three fraction
/// digits, or six when the value has sub-millisecond precision.
pub fn format_datetime(micros: Micros) -> String {
    let secs = micros.div_euclid(1_000_000);
    let frac = micros.rem_euclid(1_000_000);
    let Ok(dt) = OffsetDateTime::from_unix_timestamp(secs) else {
        return "1970-01-01T00:00:00Z".to_string();
    };
    let base = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        dt.year(),
        u8::from(dt.month()),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second()
    );
    if frac == 0 {
        format!("{base}Z")
    } else if frac % 1000 == 0 {
        format!("{base}.{:03}Z", frac / 1000)
    } else {
        format!("{base}.{frac:06}Z")
    }
}

/// The current wall-clock time; only the edges (broker) call this.
pub fn now_micros() -> Micros {
    let nanos = OffsetDateTime::now_utc().unix_timestamp_nanos();
    i64::try_from(nanos / 1000).unwrap_or(i64::MAX)
}

/// Parses an ISO 8601 duration such as `PT1H`, `P1D`, `P1Y2M3DT4H5M6.5S` into microseconds
/// (a month counts as 30 days and a year as 365, which is what aggregation periods need).
pub fn parse_duration(text: &str) -> Option<Micros> {
    let rest = text.strip_prefix('P')?;
    if rest.is_empty() {
        return None;
    }
    let (date, time) = match rest.split_once('T') {
        Some((d, t)) if !t.is_empty() => (d, Some(t)),
        Some(_) => return None,
        None => (rest, None),
    };
    const DAY: f64 = 86_400e6;
    let mut total = 0f64;
    total += duration_part(
        date,
        &[('Y', 365.0 * DAY), ('M', 30.0 * DAY), ('W', 7.0 * DAY), ('D', DAY)],
    )?;
    if let Some(t) = time {
        total += duration_part(t, &[('H', 3600e6), ('M', 60e6), ('S', 1e6)])?;
    }
    Some(total as Micros)
}

fn duration_part(mut text: &str, units: &[(char, f64)]) -> Option<f64> {
    let mut total = 0.0;
    let mut next_unit = 0;
    while !text.is_empty() {
        let end = text.find(|c: char| c.is_ascii_alphabetic())?;
        let number: f64 = text[..end].parse().ok()?;
        let unit = text[end..].chars().next()?;
        let idx = units[next_unit..].iter().position(|(u, _)| *u == unit)? + next_unit;
        total += number * units[idx].1;
        next_unit = idx + 1;
        text = &text[end + 1..];
    }
    Some(total)
}

/// Formats microseconds as an ISO 8601 duration in seconds, e.g. `PT12.5S`.
pub fn format_duration_secs(micros: Micros) -> String {
    let secs = micros as f64 / 1e6;
    format!("PT{secs}S")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_millis_and_micros() {
        for text in
            ["2020-09-09T16:40:00Z", "2020-09-09T16:40:00.120Z", "2020-09-09T16:40:00.123456Z"]
        {
            assert_eq!(format_datetime(parse_datetime(text).unwrap()), text);
        }
        assert_eq!(
            parse_datetime("2020-09-09T16:40:00Z"),
            parse_datetime("2020-09-09T18:40:00+02:00")
        );
        assert!(parse_datetime("yesterday").is_none());
        assert_eq!(
            parse_utc_datetime("2020-09-09T16:40:00Z"),
            parse_datetime("2020-09-09T16:40:00Z")
        );
        assert!(parse_utc_datetime("2020-09-09T18:40:00+02:00").is_none());
        assert!(parse_utc_datetime("2020-09-09T14:40:00-02:00").is_none());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("PT1S"), Some(1_000_000));
        assert_eq!(parse_duration("P1DT1H"), Some(90_000_000_000));
        assert_eq!(parse_duration("PT1M"), Some(60_000_000));
        assert_eq!(parse_duration("P1M"), Some(30 * 86_400_000_000));
        assert!(parse_duration("P").is_none());
        assert!(parse_duration("1H").is_none());
    }
}
