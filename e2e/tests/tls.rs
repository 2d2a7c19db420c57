//! HTTPS served by Wharf itself (`WHARF_TLS_CERT`, `WHARF_TLS_KEY`): real clients verify the
//! certificate, log in through the token flow and push and pull.

use tokio::process::Command;
use wharf_e2e::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn podman_and_curl_over_verified_https() {
    let certs = tempfile::tempdir().expect("tempdir");
    let (cert, key) = (certs.path().join("cert.pem"), certs.path().join("key.pem"));
    tool("openssl");
    run(Command::new("openssl")
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1"])
        .args(["-addext", "subjectAltName=IP:127.0.0.1", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert))
    .await;
    let w = Wharf::start_with(Some((cert.clone(), key))).await;

    let health = run(Command::new("curl")
        .args(["-sS", "--fail", "--cacert"])
        .arg(&cert)
        .arg(format!("https://{}/api/v2.0/health", w.host)))
    .await;
    assert!(health.contains("\"healthy\""), "{health}");
    let headers = run(Command::new("curl")
        .args(["-sS", "-o", "/dev/null", "-D", "-", "--cacert"])
        .arg(&cert)
        .arg(format!("https://{}/v2/", w.host)))
    .await;
    assert!(headers.contains(&format!("realm=\"https://{}/service/token\"", w.host)), "{headers}");
    // Without the CA the certificate is refused: TLS is real, not skipped.
    run_fails(Command::new("curl").args(["-sS", "--fail"]).arg(format!("https://{}/v2/", w.host))).await;

    let p = Podman::new();
    let cert_dir = p.dir().join("certs");
    std::fs::create_dir_all(&cert_dir).expect("mkdir");
    std::fs::copy(&cert, cert_dir.join("ca.crt")).expect("copy");
    let cert_dir = cert_dir.to_string_lossy().into_owned();
    run(p.cmd().args(["login", "--cert-dir", &cert_dir, "-u", "admin", "-p", ADMIN_PASSWORD, &w.host])).await;
    let ctx = p.dir().join("ctx");
    build_context(&ctx, &[100_000]);
    run(p.cmd().args(["build", "-q", "-t", "localhost/tls:1"]).arg(&ctx)).await;
    let image = w.image("library/tls:1");
    run(p.cmd().args(["push", "--cert-dir", &cert_dir, "localhost/tls:1", &image])).await;
    run(p.cmd().args(["rmi", "-a", "-f"])).await;
    run(p.cmd().args(["pull", "--cert-dir", &cert_dir, &image])).await;
}
