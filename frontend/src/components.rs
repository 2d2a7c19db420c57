//! Small pieces the pages share: error boxes, pagination, copy buttons, number formatting.

use leptos::prelude::*;

/// A readable error message.
#[component]
pub fn ErrorBox(message: String) -> impl IntoView {
    view! { <p class="error" role="alert">{message}</p> }
}

/// The message of a failed server call, without the transport's prefix.
pub fn message(e: &ServerFnError) -> String {
    match e {
        ServerFnError::ServerError(m) => m.clone(),
        other => other.to_string(),
    }
}

/// The first failure among the latest results of a page's actions, as an error box.
pub fn first_error(
    results: impl IntoIterator<Item = Option<Result<(), ServerFnError>>>,
) -> Option<impl IntoView> {
    results.into_iter().flatten().find_map(Result::err).map(|e| view! { <ErrorBox message=message(&e) /> })
}

/// "Page x of y" with previous/next links; `href(n)` builds the link to page `n`.
#[component]
pub fn Pager(page: i64, pages: i64, total: i64, href: impl Fn(i64) -> String + 'static) -> impl IntoView {
    view! {
        <nav class="pager" aria-label="pages">
            {(page > 1).then(|| view! { <a rel="prev" href=href(page - 1)>"← Previous"</a> })}
            <span>{format!("Page {page} of {pages} · {total} in all")}</span>
            {(page < pages).then(|| view! { <a rel="next" href=href(page + 1)>"Next →"</a> })}
        </nav>
    }
}

/// A command with a copy button (the text stays selectable without scripts).
#[component]
pub fn CopyCommand(text: String) -> impl IntoView {
    let copied = RwSignal::new(false);
    let value = text.clone();
    let copy = move |_| {
        #[cfg(feature = "hydrate")]
        {
            let clipboard = web_sys::window().map(|w| w.navigator().clipboard());
            if let Some(c) = clipboard {
                let _ = c.write_text(&value);
                copied.set(true);
            }
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = &value;
    };
    view! {
        <div class="copy">
            <code data-copy=text.clone()>{text.clone()}</code>
            <button type="button" class="copy-button" on:click=copy>
                {move || if copied.get() { "Copied" } else { "Copy" }}
            </button>
        </div>
    }
}

/// Bytes as B, KiB, MiB or GiB.
pub fn human_size(bytes: i64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut v = bytes as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 { format!("{bytes} B") } else { format!("{v:.1} {}", UNITS[unit]) }
}

/// The first 12 hex digits of a digest, as people compare them.
pub fn short_digest(digest: &str) -> String {
    let hex = digest.split_once(':').map_or(digest, |(_, h)| h);
    hex[..hex.len().min(12)].to_owned()
}

/// A query-string value, encoded.
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' | b':' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_digests_read_well() {
        assert_eq!(human_size(512), "512 B");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(3 * 1024 * 1024 * 1024), "3.0 GiB");
        assert_eq!(short_digest("sha256:0123456789abcdef"), "0123456789ab");
        assert_eq!(encode("a b&c/d"), "a%20b%26c/d");
    }
}
