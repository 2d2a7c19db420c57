//! Harbor's pagination: `page` (from 1) and `page_size` (default 10, at most 100) in the query;
//! `X-Total-Count` and `Link` (`rel="prev"`, `rel="next"`) in the answer.

use axum::http::{HeaderMap, HeaderValue};
use serde::Deserialize;

/// Largest page a client may ask for.
pub const MAX_PAGE_SIZE: i64 = 100;

/// The requested page.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(default)]
pub struct Page {
    /// Page number, from 1.
    pub page: i64,
    /// Items per page.
    pub page_size: i64,
}

impl Default for Page {
    fn default() -> Self {
        Self { page: 1, page_size: 10 }
    }
}

impl Page {
    /// The page with out-of-range values brought into range.
    pub fn clamped(self) -> Self {
        Self { page: self.page.max(1), page_size: self.page_size.clamp(1, MAX_PAGE_SIZE) }
    }

    /// Rows to skip.
    pub fn offset(self) -> i64 {
        (self.page - 1) * self.page_size
    }

    /// `X-Total-Count` and `Link` for `total` items at `path` with `query` (without paging).
    pub fn headers(self, total: i64, path: &str, query: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-total-count", HeaderValue::from(total));
        let link = |page: i64, rel: &str| {
            let sep = if query.is_empty() { "" } else { "&" };
            format!("<{path}?{query}{sep}page={page}&page_size={}>; rel=\"{rel}\"", self.page_size)
        };
        let mut links = Vec::new();
        if self.page > 1 {
            links.push(link(self.page - 1, "prev"));
        }
        if self.offset() + self.page_size < total {
            links.push(link(self.page + 1, "next"));
        }
        if !links.is_empty()
            && let Ok(v) = HeaderValue::from_str(&links.join(" , "))
        {
            h.insert("link", v);
        }
        h
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_and_totals() {
        let p = Page { page: 2, page_size: 10 };
        let h = p.headers(35, "/api/v2.0/projects", "name=a");
        assert_eq!(h["x-total-count"], "35");
        assert_eq!(
            h["link"],
            "</api/v2.0/projects?name=a&page=1&page_size=10>; rel=\"prev\" , </api/v2.0/projects?name=a&page=3&page_size=10>; rel=\"next\""
        );
        let last = Page { page: 4, page_size: 10 }.headers(35, "/p", "");
        assert_eq!(last["link"], "</p?page=3&page_size=10>; rel=\"prev\"");
        assert!(Page::default().headers(5, "/p", "").get("link").is_none());
        assert_eq!(Page { page: 0, page_size: 1000 }.clamped().page_size, MAX_PAGE_SIZE);
    }
}
