//! Bearer tokens, token scopes and Basic credentials: verifying or parsing anything never
//! panics, and nothing but a token the key signed is accepted.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wharf::auth::basic;
use wharf::auth::token::{Access, TokenSigner};

fuzz_target!(|input: &str| {
    let signer = TokenSigner::new(b"fuzzing key, 32 bytes long......".to_vec());
    assert!(signer.verify(input, "registry").is_err(), "a forged token was accepted: {input:?}");
    let _ = signer.verify(input, "refresh");
    if let Some(access) = Access::parse(input) {
        let _ = access.scope();
    }
    let _ = basic::parse(input);
});
