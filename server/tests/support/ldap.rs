//! A real OpenLDAP server (`slapd`, Debian's) for one test: its own config, database and port
//! in a temp dir, seeded with people and groups; stopped when dropped. StartTLS is offered with
//! a certificate signed by a private CA, both made by `openssl`.
//!
//! Directory: `dc=wharf,dc=test`; people under `ou=people` (`alice`, `bob`, `carol`, and
//! `dave`, whose `description` is `disabled`); groups under `ou=groups` (`developers`: alice
//! and bob; `admins`: carol), each listed in its members' `memberOf` (the memberof overlay).

use std::path::Path;
use std::process::Command;

/// The suffix.
pub const BASE: &str = "dc=wharf,dc=test";
/// The manager's DN, which tests use as the search DN.
pub const MANAGER: &str = "cn=manager,dc=wharf,dc=test";
/// The manager's password.
pub const MANAGER_PASSWORD: &str = "Manager-pw-1";
/// Every seeded person's password is `<name>-pw-1`.
pub fn password(user: &str) -> String {
    format!("{user}-pw-1")
}

/// A running slapd.
pub struct Slapd {
    /// `ldap://127.0.0.1:<port>`
    pub url: String,
    dir: tempfile::TempDir,
}

impl Slapd {
    /// Starts a seeded server.
    pub fn start() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        std::fs::create_dir(d.join("db")).expect("db dir");
        // A private CA and a server certificate it signed, as a company directory has.
        std::fs::write(d.join("ext.cnf"), "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n")
            .expect("ext");
        let openssl = |args: &[&str]| {
            let out = Command::new("openssl").current_dir(d).args(args).output().expect("openssl");
            assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        };
        openssl(
            &["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=Wharf Test CA"]
                .iter()
                .chain(&["-keyout", "ca.key", "-out", "ca.pem"])
                .copied()
                .collect::<Vec<_>>(),
        );
        openssl(&[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            "key.pem",
            "-out",
            "server.csr",
        ]);
        openssl(&[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
            "-out",
            "cert.pem",
        ]);
        let conf = format!(
            "include /etc/ldap/schema/core.schema\n\
             include /etc/ldap/schema/cosine.schema\n\
             include /etc/ldap/schema/inetorgperson.schema\n\
             include /etc/ldap/schema/nis.schema\n\
             modulepath /usr/lib/ldap\n\
             moduleload back_mdb\n\
             moduleload memberof\n\
             pidfile {d}/slapd.pid\n\
             TLSCertificateFile {d}/cert.pem\n\
             TLSCertificateKeyFile {d}/key.pem\n\
             database mdb\n\
             maxsize 10485760\n\
             suffix \"{BASE}\"\n\
             rootdn \"{MANAGER}\"\n\
             rootpw {MANAGER_PASSWORD}\n\
             directory {d}/db\n\
             overlay memberof\n",
            d = d.display()
        );
        std::fs::write(d.join("slapd.conf"), conf).expect("conf");
        let port =
            std::net::TcpListener::bind("127.0.0.1:0").expect("port").local_addr().expect("addr").port();
        let url = format!("ldap://127.0.0.1:{port}");
        // slapd daemonizes; it is stopped through its pid file.
        let started = Command::new("/usr/sbin/slapd")
            .arg("-f")
            .arg(d.join("slapd.conf"))
            .args(["-h", &format!("{url}/")])
            .output()
            .expect("slapd (apt-get install slapd)");
        assert!(started.status.success(), "slapd: {}", String::from_utf8_lossy(&started.stderr));
        let me = Self { url, dir };
        me.wait_ready();
        me.add(&seed());
        me
    }

    fn wait_ready(&self) {
        for _ in 0..100 {
            let probe = Command::new("ldapsearch")
                .args(["-x", "-H", &self.url, "-b", "", "-s", "base", "(objectClass=*)"])
                .output()
                .expect("ldapsearch");
            if probe.status.success() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!("slapd did not come up");
    }

    /// Adds the entries of `ldif` as the manager.
    pub fn add(&self, ldif: &str) {
        self.ldap("ldapadd", ldif);
    }

    /// Applies the changes of `ldif` (`changetype` records) as the manager.
    pub fn modify(&self, ldif: &str) {
        self.ldap("ldapmodify", ldif);
    }

    fn ldap(&self, tool: &str, ldif: &str) {
        use std::io::Write;
        let mut child = Command::new(tool)
            .args(["-x", "-H", &self.url, "-D", MANAGER, "-w", MANAGER_PASSWORD])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect(tool);
        child.stdin.take().expect("stdin").write_all(ldif.as_bytes()).expect("ldif");
        let out = child.wait_with_output().expect(tool);
        assert!(out.status.success(), "{tool}: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// The certificate of the CA that signed the server's (PEM), for `ldap_ca_cert`.
    pub fn certificate(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("ca.pem")).expect("cert")
    }

    /// Stops the server (a directory that is down).
    pub fn stop(&self) {
        stop(self.dir.path());
    }
}

impl Drop for Slapd {
    fn drop(&mut self) {
        stop(self.dir.path());
    }
}

fn stop(dir: &Path) {
    if let Ok(pid) = std::fs::read_to_string(dir.join("slapd.pid")) {
        let _ = Command::new("kill").arg(pid.trim()).status();
        for _ in 0..100 {
            if !dir.join("slapd.pid").exists() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}

fn person(uid: &str, name: &str, extra: &str) -> String {
    format!(
        "dn: uid={uid},ou=people,{BASE}\nobjectClass: inetOrgPerson\nuid: {uid}\ncn: {name}\nsn: {name}\n\
         displayName: {name}\nmail: {uid}@wharf.test\nuserPassword: {}\n{extra}\n",
        password(uid)
    )
}

fn seed() -> String {
    [
        format!("dn: {BASE}\nobjectClass: dcObject\nobjectClass: organization\no: Wharf\ndc: wharf\n"),
        format!("dn: ou=people,{BASE}\nobjectClass: organizationalUnit\nou: people\n"),
        format!("dn: ou=groups,{BASE}\nobjectClass: organizationalUnit\nou: groups\n"),
        person("alice", "Alice Archer", ""),
        person("bob", "Bob Baker", ""),
        person("carol", "Carol Cooper", ""),
        person("dave", "Dave Disabled", "description: disabled"),
        format!(
            "dn: cn=developers,ou=groups,{BASE}\nobjectClass: groupOfNames\ncn: developers\n\
             member: uid=alice,ou=people,{BASE}\nmember: uid=bob,ou=people,{BASE}\n"
        ),
        format!("dn: cn=admins,ou=groups,{BASE}\nobjectClass: groupOfNames\ncn: admins\nmember: uid=carol,ou=people,{BASE}\n"),
    ]
    .join("\n")
}

/// Harbor's configuration items for this server (plain LDAP, the manager as search DN, people
/// whose `description` is not `disabled`).
pub fn configuration(url: &str) -> serde_json::Value {
    serde_json::json!({
        "auth_mode": "ldap_auth",
        "ldap_url": url,
        "ldap_search_dn": MANAGER,
        "ldap_search_password": MANAGER_PASSWORD,
        "ldap_base_dn": format!("ou=people,{BASE}"),
        "ldap_filter": "(&(objectClass=inetOrgPerson)(!(description=disabled)))",
        "ldap_uid": "uid",
        "ldap_scope": 2,
        "ldap_timeout": 3,
        "ldap_group_base_dn": format!("ou=groups,{BASE}"),
        "ldap_group_search_filter": "(objectClass=groupOfNames)",
        "ldap_group_attribute_name": "cn",
        "ldap_group_admin_dn": format!("cn=admins,ou=groups,{BASE}"),
        "ldap_group_membership_attribute": "memberOf",
    })
}
