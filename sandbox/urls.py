"""Mounted at /sandbox/ when SANDBOX_ENABLED is on (revcycle/urls.py)."""

from django.urls import path

from sandbox import control, integrex, payer, smart

app_name = "sandbox"

integrex_v2 = "integrex/api/v2/"
urlpatterns = [
    path("knobs", control.knobs, name="knobs"),
    path("stats", control.stats, name="stats"),
    path("stats/reset", control.stats_reset, name="stats-reset"),
    path("revoke-tokens", control.revoke_tokens, name="revoke-tokens"),
    # Integrex Health: base URL <host>/sandbox/integrex/api/v2
    path(integrex_v2 + "auth", integrex.auth, name="integrex-auth"),
    path(integrex_v2 + "health", integrex.health, name="integrex-health"),
    path(integrex_v2 + "claim-info", integrex.claim_info, name="integrex-claim-info"),
    path(integrex_v2 + "insurance-discovery", integrex.insurance_discovery,
         name="integrex-insurance-discovery"),
    # Smart: base URL <host>/sandbox/smart
    path("smart/oauth/token", smart.oauth_token, name="smart-token"),
    path("smart/api/visit", smart.visits, name="smart-visits"),
    path("smart/api/visit/<str:session_id>/visit-number/<str:visit_number>", smart.merge_visit,
         name="smart-merge"),
    path("smart/api/member", smart.member, name="smart-member"),
    path("smart/api/copayment", smart.copayment, name="smart-copayment"),
    path("smart/api/claims", smart.claims, name="smart-claims"),
    path("smart/api/claim-status", smart.claim_status, name="smart-claim-status"),
    path("smart/api/clinic-record", smart.clinic_record, name="smart-clinic-record"),
    path("smart/desk/", smart.desk, name="smart-desk"),
    # Payer claims (HCMS): base URL <host>/sandbox/payer/api
    path("payer/api/claims/", payer.submit_claim, name="payer-claims"),
    path("payer/api/claims/<str:claim_id>/", payer.claim_detail, name="payer-claim"),
    path("payer/api/webhooks/register", payer.register, name="payer-webhook-register"),
]
