//! Times for people: formatting Unix times as UTC, and parsing the `--at` of `sarectl agent drain`.

use super::{Error, Result};

/// Days since 1970-01-01 of a civil date (proleptic Gregorian), after H. Hinnant's algorithm.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Civil date of a day count since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// `2026-03-01T12:00:00Z` for a Unix time in seconds.
pub fn format_unix_utc(secs: u64) -> String {
    let secs = secs as i64;
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

/// Parses the time of a planned failure, relative to `now_unix` (seconds):
/// * `+SECONDS`, or `+N` followed by `s`, `m` or `h` (`+90`, `+5m`, `+1h`);
/// * `@UNIX` — seconds since 1970-01-01 UTC;
/// * `YYYY-MM-DDTHH:MM:SSZ` (or with a space instead of `T`) — UTC.
///
/// The result must fit the heartbeat's 32-bit timestamp.
pub fn parse_at(s: &str, now_unix: u64) -> Result<u64> {
    let s = s.trim();
    let bad = || {
        Error::new(format!(
            "cannot read the time {s:?}: use +SECONDS (or +5m, +1h), @UNIX-SECONDS, \
             or a UTC time like 2026-03-01T12:00:00Z"
        ))
    };
    let t = if let Some(rel) = s.strip_prefix('+') {
        let (num, mult) = match rel.chars().last() {
            Some('s') => (&rel[..rel.len() - 1], 1),
            Some('m') => (&rel[..rel.len() - 1], 60),
            Some('h') => (&rel[..rel.len() - 1], 3600),
            _ => (rel, 1),
        };
        let n: u64 = num.parse().map_err(|_| bad())?;
        now_unix
            .checked_add(n.checked_mul(mult).ok_or_else(bad)?)
            .ok_or_else(bad)?
    } else if let Some(abs) = s.strip_prefix('@') {
        abs.parse().map_err(|_| bad())?
    } else {
        parse_utc(s).ok_or_else(bad)?
    };
    if t > u64::from(u32::MAX) {
        return Err(Error::new(format!(
            "the time {s:?} is after 2106-02-07, beyond what the heartbeat can carry"
        )));
    }
    Ok(t)
}

fn parse_utc(s: &str) -> Option<u64> {
    let s = s.strip_suffix('Z').or_else(|| s.strip_suffix('z'))?;
    let b = s.as_bytes();
    if b.len() != 19 || !(b[10] == b'T' || b[10] == b't' || b[10] == b' ') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        let t = s.get(r)?;
        if t.bytes().all(|c| c.is_ascii_digit()) {
            t.parse().ok()
        } else {
            None
        }
    };
    if b[4] != b'-' || b[7] != b'-' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 59 {
        return None;
    }
    let days = days_from_civil(i64::from(y), mo, d);
    // Refuse 31 February and the like: the date must come back unchanged.
    if civil_from_days(days) != (i64::from(y), mo, d) || days < 0 {
        return None;
    }
    Some(days as u64 * 86_400 + u64::from(h) * 3600 + u64::from(mi) * 60 + u64::from(se))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_round_trip() {
        assert_eq!(format_unix_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_unix_utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(format_unix_utc(1_772_366_400), "2026-03-01T12:00:00Z");
        for t in [
            0u64,
            86_399,
            951_782_400,
            1_772_366_400,
            4_102_444_799,
            u64::from(u32::MAX),
        ] {
            assert_eq!(parse_at(&format_unix_utc(t), 0).unwrap(), t);
        }
    }

    #[test]
    fn at_forms() {
        let now = 1_000_000;
        assert_eq!(parse_at("+30", now).unwrap(), now + 30);
        assert_eq!(parse_at("+30s", now).unwrap(), now + 30);
        assert_eq!(parse_at("+5m", now).unwrap(), now + 300);
        assert_eq!(parse_at("+1h", now).unwrap(), now + 3600);
        assert_eq!(parse_at("@1772366400", now).unwrap(), 1_772_366_400);
        assert_eq!(
            parse_at("2026-03-01 12:00:00Z", now).unwrap(),
            1_772_366_400
        );
        for bad in [
            "",
            "+",
            "+x",
            "soon",
            "2026-02-30T00:00:00Z",
            "2026-03-01T12:00:00",
            "@-1",
        ] {
            let e = parse_at(bad, now).unwrap_err();
            assert!(e.message().contains("cannot read the time"), "{bad}: {e}");
        }
        assert!(parse_at("@5000000000", now)
            .unwrap_err()
            .message()
            .contains("2106"));
    }
}
