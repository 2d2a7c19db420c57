//! The `Content-Range` header of chunked uploads: `<start>-<end>`, inclusive (distribution-spec
//! "Pushing a blob in chunks"). A `bytes ` prefix and a `/<total>` suffix are tolerated.

/// A parsed inclusive byte range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContentRange {
    /// First byte offset.
    pub start: u64,
    /// Last byte offset, inclusive.
    pub end: u64,
}

impl ContentRange {
    /// Parses the header value; `None` when malformed or reversed.
    pub fn parse(value: &str) -> Option<Self> {
        let v = value.trim();
        let v = v.strip_prefix("bytes").map_or(v, |r| r.trim_start_matches([' ', '=']));
        let v = v.split('/').next()?;
        let (s, e) = v.split_once('-')?;
        let (start, end): (u64, u64) = (s.trim().parse().ok()?, e.trim().parse().ok()?);
        // `end` = u64::MAX would make the inclusive byte count overflow.
        (start <= end && end < u64::MAX).then_some(Self { start, end })
    }

    /// Bytes the range covers (never zero: the range is inclusive).
    pub fn byte_count(&self) -> u64 {
        self.end - self.start + 1
    }
}

/// Parses a `Range: bytes=<start>-<end>` request header against an object of `size` bytes,
/// returning the half-open range to serve. `None` when unsatisfiable or malformed.
pub fn parse_request_range(value: &str, size: u64) -> Option<std::ops::Range<u64>> {
    let spec = value.trim().strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None;
    }
    let (s, e) = spec.split_once('-')?;
    let (s, e) = (s.trim(), e.trim());
    let range = if s.is_empty() {
        // Suffix range: the last `e` bytes.
        let n: u64 = e.parse().ok()?;
        // An empty object has no last bytes to serve (RFC 9110: unsatisfiable).
        if n == 0 || size == 0 {
            return None;
        }
        size.saturating_sub(n)..size
    } else {
        let start: u64 = s.parse().ok()?;
        let end = if e.is_empty() {
            size.saturating_sub(1)
        } else {
            e.parse::<u64>().ok()?.min(size.saturating_sub(1))
        };
        if start >= size || start > end {
            return None;
        }
        start..end + 1
    };
    Some(range)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_range_forms() {
        assert_eq!(ContentRange::parse("0-99"), Some(ContentRange { start: 0, end: 99 }));
        assert_eq!(ContentRange::parse("bytes 5-9/100").map(|r| r.byte_count()), Some(5));
        assert_eq!(ContentRange::parse("bytes=5-9"), Some(ContentRange { start: 5, end: 9 }));
        for bad in ["", "5", "9-5", "a-b", "-1", "1-", "0-18446744073709551615"] {
            assert_eq!(ContentRange::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn request_ranges() {
        assert_eq!(parse_request_range("bytes=0-9", 100), Some(0..10));
        assert_eq!(parse_request_range("bytes=90-", 100), Some(90..100));
        assert_eq!(parse_request_range("bytes=-10", 100), Some(90..100));
        // Found by the `content_range` fuzz target: a suffix range of an empty blob.
        assert_eq!(parse_request_range("bytes=-10", 0), None);
        assert_eq!(parse_request_range("bytes=50-1000", 100), Some(50..100));
        for bad in ["bytes=100-", "bytes=5-1", "items=0-1", "bytes=0-1,3-4", "bytes=-0", "bytes=x-"] {
            assert_eq!(parse_request_range(bad, 100), None, "{bad}");
        }
    }
}
