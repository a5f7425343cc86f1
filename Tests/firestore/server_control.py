"""Helpers for the Firestore tests: the test server deploy/test started."""

import os
import subprocess

import requests

from stack import ROOT

SERVER = os.environ.get("FIRESTORE_TEST_URL", "http://127.0.0.1:18085")


def discovery_document():
    """Google's Firestore REST description: the copy in ../shared beside the repository, or else
    the same file (revision 20260928) as google-api-python-client 2.202.0 ships it, which
    deploy/test installs, so that a clone with nothing beside it checks against it too."""
    shared = os.path.join(os.environ.get("ROOT", ""), "..", "shared", "firestore", "firestore.v1.json")
    if os.path.exists(shared):
        return shared
    import googleapiclient
    return os.path.join(os.path.dirname(googleapiclient.__file__), "discovery_cache", "documents", "firestore.v1.json")


DISCOVERY = discovery_document()


def documents_url(project, database="(default)"):
    return f"{SERVER}/v1/projects/{project}/databases/{database}/documents"


def control(method, path, **kwargs):
    response = requests.request(method, f"{SERVER}/_test/{path}", timeout=10, **kwargs)
    response.raise_for_status()
    return response.json()


def list_all(project, collection):
    """Every document of a collection on the test server, by REST."""
    documents, token = [], None
    while True:
        params = {"pageSize": 300, **({"pageToken": token} if token else {})}
        page = requests.get(f"{documents_url(project)}/{collection}", params=params, timeout=10).json()
        documents += page.get("documents", [])
        token = page.get("nextPageToken")
        if not token:
            return documents


def run_bookingctl(*args, **env):
    """Runs the operator CLI against the test stores (the test server for Firestore)."""
    bin_dir = subprocess.run(["swift", "build", "--show-bin-path"], cwd=ROOT, check=True, capture_output=True, text=True).stdout.strip()
    environment = {key: value for key, value in os.environ.items() if key not in ("STORE_BACKEND",)}
    environment.update(FIRESTORE_EMULATOR_HOST=SERVER.split("//")[1], **env)
    return subprocess.run([os.path.join(bin_dir, "bookingctl"), *args], env=environment, capture_output=True, text=True, timeout=120)


def bookingctl(*args, **env):
    """The output of a CLI run that must succeed."""
    result = run_bookingctl(*args, **env)
    assert result.returncode == 0, result.stderr
    return result.stdout


def firestore_client():
    """Google's own Firestore client (its REST transport) on the test server."""
    from google.api_core.client_options import ClientOptions
    from google.auth.credentials import AnonymousCredentials
    from google.cloud.firestore_v1.services.firestore import FirestoreClient
    return FirestoreClient(transport="rest", credentials=AnonymousCredentials(), client_options=ClientOptions(api_endpoint=SERVER))
