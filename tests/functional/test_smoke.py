from tests.functional.conftest import Api


def test_signup_login_account(alice: Api) -> None:
    status, body = alice.get("/v1/account")
    assert status == 200, body
    assert body["namespaces"][0]["namespace_id"] == alice.namespace_id
