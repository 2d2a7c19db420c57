//! The retention pattern matcher (doublestar with braces): compiling and matching never panic
//! or take long, and a pattern without special characters matches exactly itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wharf::retention::pattern::Pattern;

fuzz_target!(|input: &str| {
    let (pattern, text) = input.split_once('\n').unwrap_or((input, ""));
    if let Ok(p) = pattern.parse::<Pattern>() {
        let _ = p.matches(text);
        if !pattern.is_empty() && !pattern.contains(['*', '?', '[', ']', '{', '}', ',', '\\']) {
            assert!(p.matches(pattern), "{pattern:?} does not match itself");
            assert_eq!(p.matches(text), text == pattern, "{pattern:?} vs {text:?}");
        }
    }
});
