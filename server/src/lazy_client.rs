//! HTTP clients built on first use. Building a `reqwest::Client` reads and parses every system
//! root certificate: four such clients (webhooks with and without certificate checks, OIDC the
//! same) were two thirds of the server's start, and most servers never send a webhook or talk
//! to an OpenID Provider.

use std::sync::{Arc, OnceLock};

type Build = Box<dyn Fn() -> reqwest::Client + Send + Sync>;

/// A client built by its recipe the first time it is used (cheap to clone; clones share it).
#[derive(Clone)]
pub struct LazyClient(Arc<(OnceLock<reqwest::Client>, Build)>);

impl LazyClient {
    /// A client that `build` makes when first asked for.
    pub fn new(build: impl Fn() -> reqwest::Client + Send + Sync + 'static) -> Self {
        Self(Arc::new((OnceLock::new(), Box::new(build))))
    }

    /// The client, built now if this is the first use.
    pub fn get(&self) -> &reqwest::Client {
        self.0.0.get_or_init(|| (self.0.1)())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn built_once_on_first_use_and_shared_by_clones() {
        let built = Arc::new(AtomicUsize::new(0));
        let counted = built.clone();
        let lazy = LazyClient::new(move || {
            counted.fetch_add(1, Ordering::SeqCst);
            reqwest::Client::new()
        });
        let copy = lazy.clone();
        assert_eq!(built.load(Ordering::SeqCst), 0, "nothing built before the first use");
        lazy.get();
        copy.get();
        assert_eq!(built.load(Ordering::SeqCst), 1);
    }
}
