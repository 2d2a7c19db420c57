//! A typed test client: send a request and get its whole answer back (status, headers, body)
//! in one call, decode JSON or assert a status with the body in the message, and call as a
//! given user. Shared by the integration tests and the e2e tests.
#![allow(dead_code, reason = "each test binary uses a different subset")]

use reqwest::{Client, Method, RequestBuilder, Response, StatusCode};

/// A finished answer: status, headers and the whole body, read once.
#[derive(Debug)]
pub struct Answer {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    body: bytes::Bytes,
}

impl Answer {
    /// The status code.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The headers.
    pub fn headers(&self) -> &reqwest::header::HeaderMap {
        &self.headers
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The id at the end of the `Location` of a `201 Created`.
    #[track_caller]
    pub fn created_id(&self) -> i64 {
        let loc = self.headers.get("location").and_then(|v| v.to_str().ok()).expect("a Location header");
        loc.rsplit('/').next().and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("no id in {loc}"))
    }

    /// The body as raw bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.body
    }

    /// The body decoded from JSON (the test fails with the body when it is not).
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> T {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    /// Asserts the status, showing the body when it differs; returns the answer.
    #[track_caller]
    pub fn expect(self, status: StatusCode) -> Self {
        assert_eq!(self.status, status, "body: {}", self.text());
        self
    }
}

/// Sends a request and reads its whole answer.
#[allow(async_fn_in_trait, reason = "used by the tests of this crate only")]
pub trait Call {
    /// Sends, reads the answer (the test fails if the request cannot be sent).
    async fn call(self) -> Answer;
}

impl Call for RequestBuilder {
    async fn call(self) -> Answer {
        let res = self.send().await.expect("send");
        let (status, headers) = (res.status(), res.headers().clone());
        let body = res.bytes().await.expect("body");
        Answer { status, headers, body }
    }
}

/// A header of an answer, as text.
pub trait HeaderOf {
    /// Header `name`, if present and text.
    fn header_value(&self, name: &str) -> Option<&str>;
}

impl HeaderOf for Response {
    fn header_value(&self, name: &str) -> Option<&str> {
        self.headers().get(name).and_then(|v| v.to_str().ok())
    }
}

impl HeaderOf for Answer {
    fn header_value(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Someone calling the server: anonymous, a user or a robot with a password.
#[derive(Clone)]
pub struct Caller {
    client: Client,
    base: String,
    credentials: Option<(String, String)>,
}

impl Caller {
    /// Calls to the server at `base` (`http://host:port`), with `credentials` when given.
    pub fn new(client: Client, base: &str, credentials: Option<(&str, &str)>) -> Self {
        let credentials = credentials.map(|(u, p)| (u.to_owned(), p.to_owned()));
        Self { client, base: base.to_owned(), credentials }
    }

    /// A request to `path` as this caller.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let req = self.client.request(method, format!("{}{path}", self.base));
        match &self.credentials {
            Some((user, password)) => req.basic_auth(user, Some(password)),
            None => req,
        }
    }

    /// `GET path`, answered.
    pub async fn get(&self, path: &str) -> Answer {
        self.request(Method::GET, path).call().await
    }

    /// `DELETE path`, answered.
    pub async fn delete(&self, path: &str) -> Answer {
        self.request(Method::DELETE, path).call().await
    }

    /// `method path` with a JSON body, answered.
    pub async fn send_json(&self, method: Method, path: &str, body: &serde_json::Value) -> Answer {
        self.request(method, path).json(body).call().await
    }

    /// `POST path` with a JSON body, answered.
    pub async fn post(&self, path: &str, body: &serde_json::Value) -> Answer {
        self.send_json(Method::POST, path, body).await
    }
}
