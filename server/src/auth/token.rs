//! Registry bearer tokens (Docker's token authentication): scopes, and HS256 JWTs signed with a
//! key kept in the database so every replica verifies every token.
//!
//! A token carries the caller's identity and exactly the actions it was granted per repository.
//! Verification checks the signature (constant time), expiry, not-before, issuer and audience.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use super::Identity;

/// The `service` and token audience.
pub const SERVICE: &str = "wharf";
/// The token issuer.
const ISSUER: &str = "wharf-token-service";
/// Seconds a token is valid.
pub const TOKEN_TTL_SECS: i64 = 300;
/// Seconds a refresh token is valid.
pub const REFRESH_TTL_SECS: i64 = 30 * 24 * 3600;
/// Clock skew tolerated between replicas.
const LEEWAY_SECS: i64 = 30;

/// One requested or granted access: `repository:<name>:<actions>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Access {
    /// `repository` or `registry`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Repository name, or `catalog`.
    pub name: String,
    /// Actions: `pull`, `push`, `delete`, `*`.
    pub actions: Vec<String>,
}

impl Access {
    /// Parses one scope string; `None` when malformed.
    pub fn parse(scope: &str) -> Option<Self> {
        let (kind, rest) = scope.split_once(':')?;
        let (name, actions) = rest.rsplit_once(':')?;
        // `repository(plugin)` is an old Docker spelling of `repository`.
        let kind = kind.split('(').next()?.to_owned();
        if name.is_empty() || kind.is_empty() {
            return None;
        }
        let actions = actions.split(',').filter(|a| !a.is_empty()).map(str::to_owned).collect();
        Some(Self { kind, name: name.to_owned(), actions })
    }

    /// The scope string for a challenge.
    pub fn scope(&self) -> String {
        format!("{}:{}:{}", self.kind, self.name, self.actions.join(","))
    }
}

/// What a token says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// Issuer.
    pub iss: String,
    /// Subject: the username, empty for anonymous.
    pub sub: String,
    /// Audience: the service.
    pub aud: String,
    /// Expiry, unix seconds.
    pub exp: i64,
    /// Not before, unix seconds.
    pub nbf: i64,
    /// Issued at, unix seconds.
    pub iat: i64,
    /// Unique id.
    pub jti: String,
    /// Granted accesses.
    #[serde(default)]
    pub access: Vec<Access>,
    /// The subject's user id (0 for anonymous).
    #[serde(default)]
    pub uid: i64,
    /// The subject is a system administrator.
    #[serde(default)]
    pub adm: bool,
    /// For a robot: where it works and what it may do there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub robot: Option<super::RobotScope>,
    /// `access` for a short-lived access token, `refresh` for a refresh token.
    #[serde(default = "access_kind")]
    pub kind: String,
    /// For a refresh token: the user's token generation when it was issued (a password change
    /// or disabling the account raises it, ending the token).
    #[serde(default)]
    pub generation: i64,
}

fn access_kind() -> String {
    "access".into()
}

impl Claims {
    /// The identity the token stands for.
    pub fn identity(&self) -> Identity {
        match (&self.robot, self.sub.is_empty()) {
            (_, true) => Identity::Anonymous,
            (Some(scope), false) => {
                Identity::Robot { id: self.uid, name: self.sub.clone(), scope: scope.clone() }
            }
            (None, false) => Identity::User { id: self.uid, name: self.sub.clone(), sysadmin: self.adm },
        }
    }

    /// Whether the token grants `action` on repository `name`.
    pub fn allows(&self, name: &str, action: &str) -> bool {
        self.access.iter().any(|a| {
            a.kind == "repository" && a.name == name && a.actions.iter().any(|x| x == action || x == "*")
        })
    }
}

/// Why a token was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    /// Not three base64url parts of JSON.
    #[error("malformed token")]
    Malformed,
    /// The signature does not match.
    #[error("bad token signature")]
    Signature,
    /// Expired or not yet valid.
    #[error("token expired")]
    Expired,
    /// Issued for another service or by another issuer, or of the wrong kind.
    #[error("token not for this service")]
    Audience,
}

/// Signs and verifies tokens with one HMAC key.
#[derive(Clone, Debug)]
pub struct TokenSigner {
    /// Never printed, wiped when dropped.
    key: secrecy::SecretSlice<u8>,
}

fn now_secs() -> i64 {
    crate::db::now_ms() / 1000
}

impl TokenSigner {
    /// A signer over `key`.
    pub fn new(key: Vec<u8>) -> Self {
        Self { key: key.into() }
    }

    fn mac(&self) -> Hmac<Sha256> {
        // HMAC accepts keys of any length.
        <Hmac<Sha256> as Mac>::new_from_slice(secrecy::ExposeSecret::expose_secret(&self.key))
            .unwrap_or_else(|_| unreachable!("HMAC takes any key length"))
    }

    /// Issues a token of `kind` for `identity` with `access`, valid `ttl` seconds.
    pub fn issue(&self, identity: &Identity, access: Vec<Access>, kind: &str, ttl: i64) -> (String, Claims) {
        self.issue_generation(identity, access, kind, ttl, 0)
    }

    /// A token as [`Self::issue`] makes it, naming the subject's token `generation`.
    pub fn issue_generation(
        &self,
        identity: &Identity,
        access: Vec<Access>,
        kind: &str,
        ttl: i64,
        generation: i64,
    ) -> (String, Claims) {
        let now = now_secs();
        let (sub, uid, adm, robot) = match identity {
            Identity::Anonymous => (String::new(), 0, false, None),
            Identity::User { id, name, sysadmin } => (name.clone(), *id, *sysadmin, None),
            Identity::Robot { id, name, scope } => (name.clone(), *id, false, Some(scope.clone())),
        };
        let claims = Claims {
            iss: ISSUER.into(),
            sub,
            aud: SERVICE.into(),
            exp: now + ttl,
            nbf: now - LEEWAY_SECS,
            iat: now,
            jti: uuid::Uuid::new_v4().simple().to_string(),
            access,
            uid,
            adm,
            robot,
            kind: kind.into(),
            generation,
        };
        let header = B64.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
        let payload = B64.encode(serde_json::to_vec(&claims).unwrap_or_default());
        let signing_input = format!("{header}.{payload}");
        let mut mac = self.mac();
        mac.update(signing_input.as_bytes());
        let sig = B64.encode(mac.finalize().into_bytes());
        (format!("{signing_input}.{sig}"), claims)
    }

    /// Verifies a token of `kind` and returns its claims.
    pub fn verify(&self, token: &str, kind: &str) -> Result<Claims, TokenError> {
        let mut parts = token.trim().splitn(3, '.');
        let (Some(h), Some(p), Some(s)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(TokenError::Malformed);
        };
        let sig = B64.decode(s).map_err(|_| TokenError::Malformed)?;
        let mut mac = self.mac();
        mac.update(h.as_bytes());
        mac.update(b".");
        mac.update(p.as_bytes());
        mac.verify_slice(&sig).map_err(|_| TokenError::Signature)?;
        let header: serde_json::Value =
            serde_json::from_slice(&B64.decode(h).map_err(|_| TokenError::Malformed)?)
                .map_err(|_| TokenError::Malformed)?;
        if header["alg"] != "HS256" {
            return Err(TokenError::Malformed);
        }
        let claims: Claims = serde_json::from_slice(&B64.decode(p).map_err(|_| TokenError::Malformed)?)
            .map_err(|_| TokenError::Malformed)?;
        let now = now_secs();
        if claims.exp <= now || claims.nbf > now + LEEWAY_SECS {
            return Err(TokenError::Expired);
        }
        if claims.aud != SERVICE || claims.iss != ISSUER || claims.kind != kind {
            return Err(TokenError::Audience);
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user() -> Identity {
        Identity::User { id: 7, name: "dev".into(), sysadmin: false }
    }

    #[test]
    fn scopes_parse() {
        let a = Access::parse("repository:library/x:pull,push").expect("scope");
        assert_eq!((a.kind.as_str(), a.name.as_str()), ("repository", "library/x"));
        assert_eq!(a.actions, vec!["pull", "push"]);
        assert_eq!(a.scope(), "repository:library/x:pull,push");
        assert_eq!(Access::parse("repository(plugin):p/x:pull").map(|a| a.kind), Some("repository".into()));
        assert_eq!(Access::parse("registry:catalog:*").map(|a| a.actions), Some(vec!["*".to_owned()]));
        assert!(Access::parse("nonsense").is_none());
        assert!(Access::parse("repository::pull").is_none());
    }

    #[test]
    fn tokens_round_trip_and_grant_only_their_scope() {
        let s = TokenSigner::new(b"k".repeat(32));
        let access =
            vec![Access { kind: "repository".into(), name: "p/a".into(), actions: vec!["pull".into()] }];
        let (t, _) = s.issue(&user(), access, "access", 60);
        let c = s.verify(&t, "access").expect("valid");
        assert_eq!(c.identity(), user());
        assert!(c.allows("p/a", "pull"));
        assert!(!c.allows("p/a", "push"));
        assert!(!c.allows("p/b", "pull"), "a token for one repository never opens another");
        assert_eq!(s.verify(&t, "refresh"), Err(TokenError::Audience));
    }

    #[test]
    fn tampered_foreign_and_expired_tokens_are_refused() {
        let s = TokenSigner::new(b"k".repeat(32));
        let (t, _) = s.issue(&user(), vec![], "access", 60);
        let other = TokenSigner::new(b"j".repeat(32));
        assert_eq!(other.verify(&t, "access"), Err(TokenError::Signature));
        let parts: Vec<&str> = t.split('.').collect();
        let forged_claims = B64.encode(br#"{"iss":"wharf-token-service","sub":"admin","aud":"wharf","exp":9999999999,"nbf":0,"iat":0,"jti":"x","adm":true}"#);
        let forged = format!("{}.{}.{}", parts[0], forged_claims, parts[2]);
        assert_eq!(s.verify(&forged, "access"), Err(TokenError::Signature));
        let (expired, _) = s.issue(&user(), vec![], "access", -1);
        assert_eq!(s.verify(&expired, "access"), Err(TokenError::Expired));
        assert_eq!(s.verify("a.b", "access"), Err(TokenError::Malformed));
        assert_eq!(s.verify("", "access"), Err(TokenError::Malformed));
    }
}
