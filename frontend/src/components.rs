//! Small pieces the pages share: error boxes, pagination, copy buttons, number formatting.

use leptos::prelude::*;

use crate::types::PortalError;

/// A readable error message.
#[component]
pub fn ErrorBox(message: String) -> impl IntoView {
    view! { <p class="error" role="alert">{message}</p> }
}

/// A failed server call, as the page shows it: the sentence, and for an ended or missing
/// session a way to sign in that comes back to this page.
#[component]
pub fn Failure(error: PortalError) -> impl IntoView {
    let sign_in = (error == PortalError::Unauthorized).then(|| {
        let here = leptos_router::hooks::use_location();
        let next = format!("{}{}", here.pathname.get_untracked(), here.search.get_untracked());
        let next = if next.is_empty() || next == "/login" {
            String::new()
        } else {
            format!("?next={}", encode(&next))
        };
        view! { <p><a href=format!("/login{next}")>"Sign in"</a></p> }
    });
    view! {
        <ErrorBox message=error.to_string() />
        {sign_in}
    }
}

/// The first failure among the latest results of a page's actions.
pub fn first_error(
    results: impl IntoIterator<Item = Option<Result<(), PortalError>>>,
) -> Option<impl IntoView> {
    results.into_iter().flatten().find_map(Result::err).map(|e| view! { <Failure error=e /> })
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

/// The name of the form field carrying the anti-forgery token (the server checks it on every
/// server-function post of a signed-in viewer).
pub const CSRF_FIELD: &str = "csrf";

/// What a post without the right anti-forgery token is told.
pub const CSRF_REFUSAL: &str =
    "This form has expired or did not come from Wharf: reload the page and try again.";

/// The viewer's anti-forgery token, kept current as the viewer changes (signing in or out
/// without a page load changes it).
#[derive(Debug, Clone, Copy)]
pub struct CsrfToken(pub RwSignal<String>);

impl CsrfToken {
    /// The token of the page being rendered: the server's viewer's on the server, read back
    /// from the page while hydrating.
    pub fn provide() -> Self {
        let initial = SharedValue::new(|| {
            #[cfg(feature = "ssr")]
            {
                use_context::<http::request::Parts>()
                    .and_then(|p| p.extensions.get::<crate::types::Viewer>().map(|v| v.csrf.clone()))
                    .unwrap_or_default()
            }
            #[cfg(not(feature = "ssr"))]
            String::new()
        });
        let token = Self(RwSignal::new(initial.into_inner()));
        provide_context(token);
        token
    }
}

/// The hidden field that carries the anti-forgery token; goes inside every `ActionForm`.
#[component]
pub fn CsrfField() -> impl IntoView {
    let token = use_context::<CsrfToken>().map(|t| t.0);
    // A hidden input's value is its attribute, so updating the attribute is enough.
    view! { <input type="hidden" name=CSRF_FIELD value=move || token.map(|t| t.get()).unwrap_or_default() /> }
}

/// A label as a chip: its name after a dot of its colour. The colour is an SVG `fill`
/// attribute: the page's Content-Security-Policy refuses inline styles.
#[component]
pub fn Label(label: crate::types::LabelChip) -> impl IntoView {
    let dot = label.swatch().map(|c| {
        view! {
            <svg class="swatch" width="10" height="10" viewBox="0 0 10 10" aria-hidden="true">
                <circle cx="5" cy="5" r="5" fill=c />
            </svg>
        }
    });
    view! { <span class="label">{dot}{label.name}</span> }
}

/// A project's storage use against its limit: a bar and "used of limit (n %)", or the use
/// alone when there is no limit.
#[component]
pub fn QuotaMeter(used: i64, limit: i64) -> impl IntoView {
    if limit < 0 {
        return view! { <span class="quota">{format!("{} used, no limit", human_size(used))}</span> }
            .into_any();
    }
    let percent = if limit == 0 { 100 } else { (used.saturating_mul(100) / limit).min(999) };
    let level = if percent >= 100 {
        "full"
    } else if percent >= 85 {
        "high"
    } else {
        "ok"
    };
    view! {
        <span class=format!("quota {level}")>
            <meter min="0" max=limit.to_string() value=used.min(limit).to_string() high=(limit / 100 * 85).to_string() optimum="0"></meter>
            {format!(" {} of {} ({percent} %)", human_size(used), human_size(limit))}
        </span>
    }
    .into_any()
}

/// Seconds since the epoch of a UTC time as the server writes it (`2026-12-01T05:20:50Z`, with
/// or without fractions); `None` for anything else.
pub fn epoch_seconds(rfc3339: &str) -> Option<i64> {
    let b = rfc3339.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    if !rfc3339.ends_with('Z') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| rfc3339.get(r)?.parse::<i64>().ok();
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hh, mm, ss) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    // Days from the civil date (Howard Hinnant's algorithm): exact for the proleptic calendar.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hh * 3600 + mm * 60 + ss)
}

/// How long ago `seconds` is, as people say it ("just now", "5 minutes ago", "yesterday").
pub fn ago(seconds: i64) -> String {
    let plural =
        |n: i64, unit: &str| if n == 1 { format!("1 {unit} ago") } else { format!("{n} {unit}s ago") };
    match seconds {
        s if s < 45 => "just now".into(),
        s if s < 90 => "a minute ago".into(),
        s if s < 3_600 => plural((s + 30) / 60, "minute"),
        s if s < 86_400 => plural((s + 1_800) / 3_600, "hour"),
        s if s < 2 * 86_400 => "yesterday".into(),
        s if s < 30 * 86_400 => plural(s / 86_400, "day"),
        s if s < 365 * 86_400 => plural(s / (30 * 86_400), "month"),
        s => plural(s / (365 * 86_400), "year"),
    }
}

/// Now, in seconds since the epoch (the browser's clock once hydrated).
pub fn now_seconds() -> i64 {
    #[cfg(feature = "hydrate")]
    {
        (js_sys::Date::now() / 1000.0) as i64
    }
    #[cfg(not(feature = "hydrate"))]
    {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
    }
}

/// A time as people read it: "3 hours ago", the exact time on hover (UTC from the server, the
/// viewer's own time zone once the page is hydrated) and machine-readable in `datetime`.
/// Anything that is not a time (`never`) is shown as it is.
#[component]
pub fn When(#[prop(into)] at: String) -> impl IntoView {
    let Some(secs) = epoch_seconds(&at) else {
        return view! { <span>{at}</span> }.into_any();
    };
    let text = RwSignal::new(ago(now_seconds() - secs));
    let exact = RwSignal::new(format!("{} UTC", at.trim_end_matches('Z').replacen('T', " ", 1)));
    // In the browser: the same sentence from its own clock, and the exact time in its zone.
    Effect::new(move |_| {
        #[cfg(feature = "hydrate")]
        {
            let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(secs as f64 * 1000.0));
            exact.set(String::from(date.to_locale_string("default", &wasm_bindgen::JsValue::UNDEFINED)));
            text.set(ago(now_seconds() - secs));
        }
    });
    view! { <time datetime=at.clone() title=move || exact.get()>{move || text.get()}</time> }.into_any()
}

/// A file's kind and permission bits as `ls -l` shows them (`drwxr-xr-x`); nothing for a
/// deletion.
pub fn file_mode(kind: crate::types::FileKind, mode: u32) -> String {
    use crate::types::FileKind;
    let first = match kind {
        FileKind::Dir => 'd',
        FileKind::Symlink => 'l',
        FileKind::Hardlink | FileKind::File => '-',
        FileKind::Device => 'c',
        FileKind::Fifo => 'p',
        FileKind::Whiteout | FileKind::Opaque => return String::new(),
    };
    let mut out = String::with_capacity(10);
    out.push(first);
    for (shift, special, set, unset) in [(6, 0o4000, 's', 'S'), (3, 0o2000, 's', 'S'), (0, 0o1000, 't', 'T')]
    {
        let bits = (mode >> shift) & 0o7;
        out.push(if bits & 4 != 0 { 'r' } else { '-' });
        out.push(if bits & 2 != 0 { 'w' } else { '-' });
        out.push(match (bits & 1 != 0, mode & special != 0) {
            (true, true) => set,
            (false, true) => unset,
            (true, false) => 'x',
            (false, false) => '-',
        });
    }
    out
}

/// Bytes as B, KiB, MiB, GiB or TiB.
pub fn human_size(bytes: i64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 { format!("{bytes} B") } else { format!("{v:.1} {}", UNITS[unit]) }
}

/// The first 12 hex digits of a digest, as people compare them (the first 12 characters of
/// whatever else it is given: a reference from the URL may be any text).
pub fn short_digest(digest: &str) -> String {
    let hex = digest.split_once(':').map_or(digest, |(_, h)| h);
    hex.chars().take(12).collect()
}

/// Text escaped for HTML content and attribute values (`& < > " ' /`).
pub fn escape_html(text: &str) -> String {
    html_escape::encode_safe(text).into_owned()
}

/// Where to go after signing in: a path on this site, else the projects. Only a single `/`
/// followed by a path character is local: `//host` and `/\host` are other hosts to a browser,
/// and control characters cannot go into a `Location` header.
pub fn local_path(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.contains('\\')
                && !n.chars().any(char::is_control)
                && n.len() <= 2048 =>
        {
            n.to_owned()
        }
        _ => "/projects".to_owned(),
    }
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

/// What a test or a save answered: a confirmation, or the error.
pub fn outcome(result: Option<Result<String, PortalError>>) -> impl IntoView {
    match result {
        Some(Ok(m)) => view! { <p class="ok" role="status">{m}</p> }.into_any(),
        Some(Err(e)) => view! { <Failure error=e /> }.into_any(),
        None => ().into_any(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_as_people_say_them() {
        assert_eq!(epoch_seconds("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(epoch_seconds("2026-11-18T11:06:40Z"), Some(1_795_000_000));
        assert_eq!(epoch_seconds("2000-02-29T00:00:00Z"), Some(951_782_400));
        assert_eq!(epoch_seconds("2026-11-18T11:06:40.123Z"), Some(1_795_000_000));
        assert_eq!(epoch_seconds("never"), None);
        assert_eq!(epoch_seconds("2026-13-18T11:06:40Z"), None);
        assert_eq!(ago(10), "just now");
        assert_eq!(ago(60), "a minute ago");
        assert_eq!(ago(5 * 60), "5 minutes ago");
        assert_eq!(ago(3 * 3600 + 100), "3 hours ago");
        assert_eq!(ago(86_400 + 5), "yesterday");
        assert_eq!(ago(4 * 86_400), "4 days ago");
        assert_eq!(ago(65 * 86_400), "2 months ago");
        assert_eq!(ago(800 * 86_400), "2 years ago");
    }

    #[test]
    fn modes_read_as_ls_shows_them() {
        use crate::types::FileKind;
        assert_eq!(file_mode(FileKind::Dir, 0o755), "drwxr-xr-x");
        assert_eq!(file_mode(FileKind::File, 0o4755), "-rwsr-xr-x");
        assert_eq!(file_mode(FileKind::Dir, 0o1777), "drwxrwxrwt");
        assert_eq!(file_mode(FileKind::Symlink, 0o777), "lrwxrwxrwx");
        assert_eq!(file_mode(FileKind::File, 0o2644), "-rw-r-Sr--");
        assert_eq!(file_mode(FileKind::Whiteout, 0), "");
    }

    #[test]
    fn sizes_and_digests_read_well() {
        assert_eq!(human_size(512), "512 B");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(3 * 1024 * 1024 * 1024), "3.0 GiB");
        assert_eq!(short_digest("sha256:0123456789abcdef"), "0123456789ab");
        assert_eq!(encode("a b&c/d"), "a%20b%26c/d");
    }

    #[test]
    fn any_text_is_shortened_and_escaped_safely() {
        assert_eq!(short_digest("ééééééééééééé"), "éééééééééééé", "cut at a character, not a byte");
        assert_eq!(short_digest("sha256:ab"), "ab");
        assert_eq!(
            escape_html("</title><meta a=\"b\" c='d'>&"),
            "&lt;&#x2F;title&gt;&lt;meta a=&quot;b&quot; c=&#x27;d&#x27;&gt;&amp;"
        );
    }

    #[test]
    fn only_local_paths_are_followed_after_sign_in() {
        for ok in ["/projects/x", "/artifacts/a/b?ref=sha256:1", "/"] {
            assert_eq!(local_path(Some(ok)), ok);
        }
        for bad in [
            "//evil.example",
            "/\\evil.example",
            "https://evil.example",
            "/a\nb",
            "/a\rSet-Cookie:x",
            "evil",
            "",
        ] {
            assert_eq!(local_path(Some(bad)), "/projects", "{bad:?}");
        }
        assert_eq!(local_path(None), "/projects");
    }
}
