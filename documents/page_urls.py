from django.urls import path

from documents import views

app_name = "documents"
urlpatterns = [
    path("", views.document_list, name="index"),
    path("upload", views.document_upload, name="upload"),
    path("batches/", views.batch_list, name="batches"),
    path("batches/<str:batch_id>/", views.batch_detail, name="batch"),
    path("ledger/", views.ledger, name="ledger"),
    path("<int:document_id>/", views.document_detail, name="document"),
    path("<int:document_id>/reprocess", views.document_reprocess, name="reprocess"),
]
