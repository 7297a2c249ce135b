from django.urls import path

from smartlink import views

app_name = "smartlink"
urlpatterns = [
    path("", views.desk, name="desk"),
    path("lookup/", views.lookup, name="lookup"),
    path("sessions/<int:pk>/", views.visit, name="visit"),
    path("sessions/<int:pk>/activate/", views.activate, name="activate"),
    path("sessions/<int:pk>/new-session-requested/", views.renewal_requested, name="renewal"),
    path("sessions/<int:pk>/member/", views.refresh_member, name="refresh_member"),
    path("sessions/<int:pk>/copay/", views.copay, name="copay"),
    path("sessions/<int:pk>/invoice/", views.post_invoice, name="post_invoice"),
    path("invoices/<int:pk>/", views.invoice, name="invoice"),
    path("invoices/<int:pk>/check/", views.check_status, name="check_status"),
    path("invoices/<int:pk>/reason/", views.record_reason, name="record_reason"),
    path("invoices/<int:pk>/diagnosis/", views.late_diagnosis, name="late_diagnosis"),
    path("not-billed/", views.not_billed, name="not_billed"),
    path("not-billed.csv", views.not_billed_csv, name="not_billed_csv"),
]
