from django.contrib import admin
from django.urls import include, path

from assistant import views
from assistant.api import api
from ingest import views as ingest_views

urlpatterns = [
    path("", views.home, name="home"),
    path("search/", views.search, name="search"),
    path("documents/<int:document_id>/", ingest_views.source, name="source"),
    path("documents/<int:document_id>/file", ingest_views.download, name="download"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
    path("api/", api.urls),
]
