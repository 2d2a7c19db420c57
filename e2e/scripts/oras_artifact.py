"""Pushes an OCI artifact that refers to an image (its `subject`) with the oras Python SDK,
pulls it back, and lists the image's referrers. Prints a JSON summary for the Rust test.

usage: oras_artifact.py <host> <repo> <subject tag> <password> <workdir>
"""
import json
import os
import sys

import oras.client
import oras.oci
import requests

host, repo, subject_tag, password, workdir = sys.argv[1:6]
auth = ("admin", password)
base = f"http://{host}/v2/{repo}"
accept = "application/vnd.oci.image.manifest.v1+json,application/vnd.docker.distribution.manifest.v2+json"

head = requests.head(f"{base}/manifests/{subject_tag}", auth=auth, headers={"Accept": accept})
head.raise_for_status()
subject = oras.oci.Subject(
    mediaType=head.headers["Content-Type"],
    digest=head.headers["Docker-Content-Digest"],
    size=int(head.headers["Content-Length"]),
)

os.chdir(workdir)
with open("sbom.json", "w") as f:
    json.dump({"spdxVersion": "SPDX-2.3", "name": "wharf-e2e"}, f)
with open("config.json", "w") as f:
    f.write("{}")

client = oras.client.OrasClient(hostname=host, insecure=True, auth_backend="token")
client.login(username="admin", password=password, hostname=host, tls_verify=False)
target = f"{host}/{repo}:sbom"
pushed = client.push(
    target=target,
    files=["sbom.json"],
    manifest_config="config.json:application/vnd.example.sbom.v1+json",
    manifest_annotations={"org.example.kind": "sbom"},
    subject=subject,
    do_chunked=True,
    chunk_size=64,
)
os.makedirs("pulled", exist_ok=True)
files = client.pull(target=target, outdir="pulled")
with open(files[0]) as f, open("sbom.json") as g:
    same = f.read() == g.read()

referrers = requests.get(f"{base}/referrers/{subject.digest}", auth=auth).json()
filtered = requests.get(
    f"{base}/referrers/{subject.digest}",
    params={"artifactType": "application/vnd.example.sbom.v1+json"},
    auth=auth,
)
print(json.dumps({
    "pushed_status": pushed.status_code,
    "oci_subject": pushed.headers.get("OCI-Subject"),
    "pulled_same": same,
    "subject": subject.digest,
    "referrers": referrers["manifests"],
    "filter_header": filtered.headers.get("OCI-Filters-Applied"),
    "filtered": len(filtered.json()["manifests"]),
}))
