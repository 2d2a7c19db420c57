//! `Content-Range` of chunked uploads and `Range` of blob reads: parsing never panics, and a
//! parsed range is well formed.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wharf::registry::content_range::{ContentRange, parse_request_range};

fuzz_target!(|input: (&str, u64)| {
    let (value, size) = input;
    if let Some(r) = ContentRange::parse(value) {
        assert!(r.start <= r.end);
        assert!(r.byte_count() >= 1);
    }
    if let Some(range) = parse_request_range(value, size) {
        assert!(range.start < range.end && range.end <= size, "{value:?} over {size}: {range:?}");
    }
});
