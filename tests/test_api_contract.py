"""The OpenAPI schema is the contract: an independent checker (schemathesis) generates requests from it and
checks every answer against it; the failures it found in voxage 0.1 stay fixed as regression tests."""

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings

from voxage.labels import AGE_GROUPS
from voxage.serving.app import ServerConfig, create_app
from voxage.serving.guard import RateLimiter

KEY = "s3cret-key"


@pytest.fixture(scope="module")
def app(small_model):
    return create_app(ServerConfig(small_model))


@pytest.fixture(scope="module")
def client(app):
    return TestClient(app)


# ---- the four schemathesis failures of voxage 0.1, as regression tests ---------------------------------------

def test_predict_documents_every_status_it_sends(client):
    responses = client.get("/openapi.json").json()["paths"]["/api/predict"]["post"]["responses"]
    assert {"200", "413", "415", "422"} <= set(responses)


def test_422_bodies_match_the_documented_error_model(client):
    schema = client.get("/openapi.json").json()
    error = schema["paths"]["/api/predict"]["post"]["responses"]["422"]["content"]["application/json"]["schema"]
    assert error["$ref"].endswith("/Error") and "HTTPValidationError" not in schema["components"]["schemas"]
    for r in (client.post("/api/predict"), client.get("/api/recommend", params={"age_group": "toddlers"})):
        assert r.status_code == 422 and set(r.json()) == {"detail", "reason"} and isinstance(r.json()["detail"], str)
        assert r.json()["reason"] == "invalid_request"


def test_age_group_is_an_enum_of_the_six_groups(client):
    schema = client.get("/openapi.json").json()
    assert schema["components"]["schemas"]["AgeGroup"]["enum"] == list(AGE_GROUPS)
    assert client.get("/api/recommend", params={"age_group": "sixties"}).status_code == 200


def test_limit_is_bounded(client):
    for bad in (-5, 0, 31, 10**20):
        r = client.get("/api/recommend", params={"age_group": "teens", "limit": bad})
        assert r.status_code == 422 and "limit" in r.json()["detail"]
    assert len(client.get("/api/recommend", params={"age_group": "twenties", "limit": 30}).json()["titles"]) <= 30


def test_error_text_names_the_problem_not_a_python_object(client):
    r = client.post("/api/predict", files={"audio": ("voice.mp3", b"not audio at all" * 20)})
    assert r.status_code == 415 and r.json()["reason"] == "undecodable"
    assert "voice.mp3" in r.json()["detail"] and "object at 0x" not in r.json()["detail"]


# ---- schemathesis: every generated request, every check --------------------------------------------------------

# The bundled model: the contract as users get it. Built at import: schemathesis makes one test per operation.
open_schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(ServerConfig()))
keyed_schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(ServerConfig(api_key=KEY,
                                                                                        rate_limit=100_000)))

@keyed_schema.auth()
class BearerKey:
    """How schemathesis authenticates; it still sends requests without the key to check they get 401."""

    def get(self, case, context):
        return KEY

    def set(self, case, data, context):
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}


SETTINGS = settings(max_examples=25, derandomize=True, deadline=None,
                    suppress_health_check=list(HealthCheck), database=None)


def _validate(case, **kwargs):
    # Random bytes are a schema-valid upload (a schema cannot say "decodable audio"), so for /api/predict a
    # documented 415/422 is the right answer to "positive" data; every other check runs as is.
    from schemathesis.checks import positive_data_acceptance

    excluded = [positive_data_acceptance] if case.path == "/api/predict" else []
    case.call_and_validate(excluded_checks=excluded, **kwargs)


@open_schema.parametrize()
@SETTINGS
def test_schemathesis_all_checks(case):
    _validate(case)


@keyed_schema.parametrize()
@SETTINGS
def test_schemathesis_all_checks_with_an_api_key(case):
    _validate(case)


# ---- keys and limits ---------------------------------------------------------------------------------------------

def test_api_key_guards_the_api_but_not_health_or_the_page(small_model):
    c = TestClient(create_app(ServerConfig(small_model, api_key=KEY)))
    url, params = "/api/recommend", {"age_group": "teens"}
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": KEY}, {"Authorization": "Basic x"}):
        r = c.get(url, params=params, headers=headers)
        assert r.status_code == 401 and r.json()["reason"] == "unauthorized"
        assert r.headers["www-authenticate"] == "Bearer"
    assert c.post("/api/predict", files={"audio": ("a.wav", b"x")}).status_code == 401
    assert c.get(url, params=params, headers={"Authorization": f"Bearer {KEY}"}).status_code == 200
    assert c.get("/health").status_code == 200 and c.get("/").status_code == 200
    assert "HTTPBearer" in c.get("/openapi.json").json()["components"]["securitySchemes"]


def test_rate_limit_answers_429_with_retry_after(small_model):
    c = TestClient(create_app(ServerConfig(small_model, rate_limit=120)))
    codes = [c.get("/api/recommend", params={"age_group": "teens"}).status_code for _ in range(5)]
    assert codes[:2] == [200, 200] and codes[-1] == 429  # a burst of 2 (a second's worth), then refused
    r = c.get("/api/recommend", params={"age_group": "teens"})
    assert r.json()["reason"] == "rate_limited" and int(r.headers["retry-after"]) >= 1
    assert c.get("/health").status_code == 200  # never limited


def test_token_bucket_refills_per_client():
    now = [0.0]
    limiter = RateLimiter(60, burst=2, clock=lambda: now[0])
    limiter.take("a")
    limiter.take("a")
    with pytest.raises(Exception, match="retry in 1 s"):
        limiter.take("a")
    limiter.take("b")  # another client has its own bucket
    now[0] += 1.0
    limiter.take("a")


def test_no_key_on_a_public_address_warns(small_model):
    import subprocess
    import sys

    from .test_serving import _free_port

    with subprocess.Popen([sys.executable, "-m", "voxage", "serve", "--host", "0.0.0.0", "--port", str(_free_port()),
                           "--model", str(small_model)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        try:
            line = proc.stderr.readline()
        finally:
            proc.terminate()
            proc.wait(10)
    assert "without an API key" in line and "--api-key" in line
