"""Helpers for the Firestore tests: the test server deploy/test started."""

import os

import requests

SERVER = os.environ.get("FIRESTORE_TEST_URL", "http://127.0.0.1:18085")
DISCOVERY = os.path.join(os.environ.get("ROOT", ""), "..", "shared", "firestore", "firestore.v1.json")


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
