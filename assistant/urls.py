from django.contrib import admin
from django.urls import path

from assistant import views
from assistant.api import api

urlpatterns = [
    path("", views.home, name="home"),
    path("admin/", admin.site.urls),
    path("api/", api.urls),
]
