"""Google Ads API answers classified once: the kind decides retry; the message is one line naming the fix."""

from __future__ import annotations

from typing import Any

import pytest

from poas.google.ads_errors import GoogleAdsError, classify, oauth_error
from poas.google.ads_search import customer_digits


def failure(http: int, status: str, family: str, code: str, **extra: Any) -> dict[str, Any]:
    return {
        "error": {
            "code": http,
            "message": "The caller does not have permission",
            "status": status,
            "details": [
                {
                    "@type": "type.googleapis.com/google.ads.googleads.v26.errors.GoogleAdsFailure",
                    "errors": [{"errorCode": {family: code}, "message": "Google's text", **extra}],
                    "requestId": "abc123",
                }
            ],
        }
    }


def test_permission_error_names_the_manager_setting() -> None:
    body = failure(403, "PERMISSION_DENIED", "authorizationError", "USER_PERMISSION_DENIED")
    err = classify(403, body, what="search")
    assert err.kind == "permission" and err.codes == ("USER_PERMISSION_DENIED",)
    assert str(err) == (
        "search: authorizationError.USER_PERMISSION_DENIED: the user may not read this account; for an "
        "account under a manager (MCC) set google_ads_login_customer_id to the manager's id (request abc123)"
    )


def test_quota_error_carries_googles_retry_delay() -> None:
    details = {"quotaErrorDetails": {"rateScope": "DEVELOPER", "retryDelay": "42s"}}
    err = classify(
        429, failure(429, "RESOURCE_EXHAUSTED", "quotaError", "RESOURCE_EXHAUSTED", details=details), what="s"
    )
    assert (err.kind, err.retry_after_s) == ("quota", 42.0)


@pytest.mark.parametrize(
    ("status", "body", "kind", "refused"),
    [
        (401, failure(401, "UNAUTHENTICATED", "authenticationError", "OAUTH_TOKEN_EXPIRED"), "auth", True),
        (401, failure(401, "UNAUTHENTICATED", "authenticationError", "OAUTH_TOKEN_REVOKED"), "auth", False),
        (401, failure(401, "UNAUTHENTICATED", "authenticationError", "CUSTOMER_NOT_FOUND"), "auth", False),
        (401, {"error": {"code": 401, "status": "UNAUTHENTICATED", "message": "x"}}, "auth", True),
        (503, {"error": {"code": 503, "status": "UNAVAILABLE", "message": "x"}}, "transient", False),
        (502, "<html>bad gateway</html>", "transient", False),
        (400, failure(400, "INVALID_ARGUMENT", "queryError", "QUERY_ERROR"), "invalid", False),
    ],
)
def test_kinds(status: int, body: Any, kind: str, refused: bool) -> None:
    err = classify(status, body, what="search")
    assert err.kind == kind and err.token_refused is refused and "\n" not in str(err)


def test_oauth_errors_name_the_setting_and_no_secret() -> None:
    err = oauth_error(
        400, {"error": "invalid_grant", "error_description": "Token has been expired or revoked."}
    )
    assert err.kind == "auth" and "google_ads_refresh_token" in str(err)
    assert oauth_error(401, {"error": "invalid_client"}).kind == "auth"
    assert oauth_error(500, None).kind == "transient"


def test_customer_ids() -> None:
    assert customer_digits("123-456-7890") == "1234567890"
    with pytest.raises(GoogleAdsError, match="not a Google Ads customer id"):
        customer_digits("act_123")
