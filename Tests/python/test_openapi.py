"""The OpenAPI document against the real binary: it is a valid OpenAPI 3.1 document, and a bounded schemathesis
run against the live server (signed in, with a room, message, group, file, conversation and call to aim at) finds no 5xx
and no answer the document does not allow (status, content type, body schema, headers).

A handful of known-good requests (a right password, real targets) go first, since random data rarely reaches
those successes. Then every operation gets three short passes: generated data (ids are random UUIDs, so mostly
404s), the same with the path ids of real objects, and schemathesis's negative mode (invalid data, which must be
refused with a documented 4xx). Hypothesis is derandomized and does not shrink, so a run is reproducible and bounded.
`pytest -s` prints the statuses each operation got.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict

import hypothesis
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase
from openapi_spec_validator import validate
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from conftest import HTTP_TIMEOUT, create_room, register_and_login, send_message

# Calls refuses to boot without a Jitsi app secret (of at least 16 characters); no Jitsi is contacted.
MODULES = {"messaging": {}, "rooms": {}, "direct": {}, "groups": {}, "files": {},
           "calls": {"app_secret": "openapi-fuzz-secret-0123456789abcdef"}}
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          response_headers_conformance]
# Examples per operation and pass: ~70 operations × 3 passes takes about half a minute here.
EXAMPLES = {"generated": 20, "known ids": 15, "negative": 15}
BUDGET_SECONDS = 200


def start(server):
    # Rate limits would turn most of a fuzzing run into 429s (documented, but they test nothing else).
    return server(modules=MODULES, rate_limits={"enabled": False})


def test_the_document_is_valid_openapi_31(server):
    srv = start(server)
    response = requests.get(f"{srv.url}/api/openapi.json", timeout=HTTP_TIMEOUT)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    document = response.json()
    validate(document)  # raises on any violation of the OpenAPI 3.1 schema
    assert document["openapi"] == "3.1.0"
    operations = [(method, path) for path, item in document["paths"].items() for method in item]
    assert len(operations) >= 55
    assert not any(path == "/ws" or path.startswith(("/socket.io", "/engine.io")) for _, path in operations)
    page = requests.get(f"{srv.url}/api/docs", timeout=HTTP_TIMEOUT)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert "http://" not in page.text and "https://" not in page.text


def _fixtures(srv) -> tuple[dict, dict, dict]:
    """A user (the fuzzer), a peer, and one of each object the path ids can name."""
    me = register_and_login(srv.url, "fuzzer")
    peer = register_and_login(srv.url, "peer")
    auth = {"Authorization": f"Bearer {me['token']}"}
    room = create_room(srv.url, me["token"])
    message = send_message(srv.url, me["token"], room["id"], "hello from the fuzzer")

    def post(path, **kwargs):
        response = requests.post(f"{srv.api}/{path}", headers=auth, timeout=HTTP_TIMEOUT, **kwargs)
        assert response.status_code in (200, 201), f"{path}: {response.status_code} {response.text}"
        return response.json()["data"]

    group = post("groups", json={"title": "fuzz group", "type": "PUBLIC"})
    post(f"groups/{group['id']}/members", json={"userId": peer["id"]})
    file = post("files", files={"file": ("notes.txt", b"some plain text\n" * 4, "text/plain")})
    conversation = post("conversations", json={"userId": peer["id"]})
    call = post("calls", json={"type": "VIDEO", "participantIds": [peer["id"]]})["call"]
    ids = {"roomID": room["id"], "messageID": message["id"], "groupID": group["id"], "fileID": file["id"],
           "conversationID": conversation["id"], "callID": call["id"]}
    return me, peer, ids


def _order(operation) -> int:
    """Destructive operations last, so the fixtures stay in place for the rest: leaving and deleting, then
    ending the fuzzer's own sessions (after which everything is a 401)."""
    if operation.path.endswith(("/auth/logout", "/auth/logout-all")):
        return 3
    if operation.method.upper() == "DELETE" or operation.path.endswith("/leave"):
        return 2 if operation.path.count("/") <= 4 else 1  # a group's members before the group
    return 0


def _known_good_requests(schema, srv, session, me, peer, ids) -> None:
    """Successes random data rarely reaches (a right password, a real target), checked against the document too."""
    third = register_and_login(srv.url, "third")
    group = {"groupID": ids["groupID"]}
    auth = {"Authorization": f"Bearer {me['token']}"}

    def new_call(body) -> dict:
        response = requests.post(f"{srv.api}/calls", json=body, headers=auth, timeout=HTTP_TIMEOUT)
        assert response.status_code == 201, response.text
        return {"callID": response.json()["data"]["call"]["id"]}

    # Calls of their own, so the fuzzer's call stays RINGING: answered, left, ended; and declined by everyone.
    answered = new_call({"type": "AUDIO", "participantIds": [peer["id"]]})
    declined = new_call({"type": "VIDEO", "participantIds": [peer["id"]]})
    requests_ = [
        ("/api/v1/auth/login", "POST", {"body": {"email": me["username"], "password": me["password"]}}, me, 200),
        ("/api/v1/auth/refresh", "POST", {"body": {"refreshToken": peer["refresh_token"]}}, None, 200),
        ("/api/v1/messages", "POST", {"body": {"roomId": ids["roomID"], "content": "hi", "metadata": {"k": [1, "x"]}}}, me, 201),
        ("/api/v1/messages", "POST", {"body": {"receiverId": peer["id"], "content": "hi", "type": "TEXT"}}, me, 201),
        ("/api/v1/messages", "POST", {"body": {"groupId": ids["groupID"], "content": "hi"}}, me, 201),
        ("/api/v1/messages", "POST", {"body": {"roomId": ids["roomID"], "content": "re", "parentId": ids["messageID"]}}, me, 201),
        ("/api/v1/messages/{messageID}/react", "POST", {"path_parameters": {"messageID": ids["messageID"]}, "body": {"emoji": "👍"}}, me, 200),
        ("/api/v1/messages/{messageID}/react", "DELETE", {"path_parameters": {"messageID": ids["messageID"]}, "query": {"emoji": "👍"}}, me, 200),
        ("/api/v1/conversations", "POST", {"body": {"email": peer["email"]}}, me, 200),
        ("/api/v1/conversations", "POST", {"body": {"userId": me["id"]}}, me, 201),
        ("/api/v1/groups/{groupID}/members", "POST", {"path_parameters": group, "body": {"userId": third["id"], "role": "ADMIN"}}, me, 200),
        ("/api/v1/groups/{groupID}/members/{userID}", "DELETE", {"path_parameters": {**group, "userID": third["id"]}}, me, 200),
        ("/api/v1/groups/{groupID}/join", "POST", {"path_parameters": group}, third, 200),
        ("/api/v1/groups/{groupID}/leave", "POST", {"path_parameters": group}, third, 200),
        ("/api/v1/messages/search", "GET", {"query": {"query": "hi"}}, me, 200),
        ("/api/v1/calls", "POST", {"body": {"type": "audio", "participantIds": [peer["id"], third["id"]]}}, me, 201),
        ("/api/v1/calls", "POST", {"body": {"type": "VIDEO", "groupId": ids["groupID"]}}, me, 201),
        ("/api/v1/calls/{callID}/join", "POST", {"path_parameters": answered}, peer, 200),
        ("/api/v1/calls/{callID}", "GET", {"path_parameters": answered}, peer, 200),
        ("/api/v1/calls/{callID}/leave", "POST", {"path_parameters": answered}, peer, 200),
        ("/api/v1/calls/{callID}/end", "POST", {"path_parameters": answered}, me, 200),
        ("/api/v1/calls/{callID}/reject", "POST", {"path_parameters": declined}, peer, 200),
        ("/api/v1/calls/{callID}", "GET", {"path_parameters": declined}, me, 200),  # over: roomUrl and token are null
        ("/api/v1/calls", "GET", {"query": {"limit": 2, "order": "asc"}}, peer, 200),
        ("/api/v1/auth/logout-all", "POST", {}, third, 200),
    ]
    for path, method, parts, user, expected in requests_:
        case = schema[path][method].Case(**parts)
        headers = {"Authorization": f"Bearer {user['token']}"} if user else None
        response = case.call_and_validate(base_url=srv.url, session=session, headers=headers, checks=CHECKS, timeout=HTTP_TIMEOUT)
        assert response.status_code == expected, f"{method} {path}: {response.status_code} {response.text}"


@pytest.mark.timeout(BUDGET_SECONDS + 60)
def test_schemathesis_finds_nothing_the_document_does_not_allow(server):
    srv = start(server)
    me, peer, ids = _fixtures(srv)
    headers = {"Authorization": f"Bearer {me['token']}"}
    schema = schemathesis.openapi.from_url(f"{srv.url}/api/openapi.json")
    operations = sorted((result.ok() for result in schema.get_all_operations()), key=_order)
    assert len(operations) >= 55
    session = requests.Session()
    _known_good_requests(schema, srv, session, me, peer, ids)
    failures: list[str] = []
    calls = 0
    statuses: dict[str, Counter] = defaultdict(Counter)
    started = time.monotonic()

    def known_ids(operation) -> dict | None:
        captures = [p.name for p in operation.path_parameters]
        if not captures:
            return None
        # The fuzzer's own id only where it cannot delete the account out from under the run.
        if operation.path.startswith("/api/v1/users/"):
            if operation.method.upper() == "DELETE":
                return None
            return {"userID": me["id"]}
        values = {name: ids.get(name, peer["id"] if name == "userID" else None) for name in captures}
        return values if all(values.values()) else None

    for operation in operations:
        passes = [("generated", GenerationMode.POSITIVE, None)]
        if (path_ids := known_ids(operation)) is not None:
            passes.append(("known ids", GenerationMode.POSITIVE, path_ids))
        passes.append(("negative", GenerationMode.NEGATIVE, None))
        for label, mode, path_parameters in passes:
            if time.monotonic() - started > BUDGET_SECONDS:
                pytest.fail(f"schemathesis budget of {BUDGET_SECONDS}s spent before {operation.label}; failures so far: {failures}")
            strategy = operation.as_strategy(generation_mode=mode, path_parameters=path_parameters)

            @hypothesis.given(case=strategy)
            @hypothesis.settings(max_examples=EXAMPLES[label], deadline=None, database=None, derandomize=True,
                                 phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck),
                                 report_multiple_bugs=False, print_blob=False)
            def run(case):
                nonlocal calls
                calls += 1
                response = case.call_and_validate(base_url=srv.url, session=session, headers=headers, checks=CHECKS,
                                                  timeout=HTTP_TIMEOUT)
                statuses[operation.label][response.status_code] += 1

            try:
                run()
            except hypothesis.errors.Unsatisfiable:
                pass  # nothing negative to generate for this operation (e.g. no parameters, no body)
            except (Exception, BaseExceptionGroup) as error:  # noqa: BLE001 - schemathesis raises a BaseExceptionGroup
                failures.append(f"{operation.label} [{label}]: {str(error)[:1500]}")

    print(f"schemathesis: {len(operations)} operations, {calls} requests in {time.monotonic() - started:.0f}s")
    for label, counts in statuses.items():  # shown with `pytest -s`: which answers each operation got
        print(f"  {label}: {dict(sorted(counts.items()))}")
    assert calls >= len(operations) * 10
    assert not failures, "\n\n".join(failures) + "\n\nserver log tail:\n" + srv.log()[-3000:]
