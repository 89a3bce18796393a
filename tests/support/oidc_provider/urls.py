"""The provider's pages: OpenID Connect under /o/, a login page for its people, and /people, where
the tests add or change a person (name, password, groups, active)."""

from __future__ import annotations

import json

from django.contrib.auth import views as auth_views
from django.contrib.auth.models import Group, User
from django.http import HttpResponse
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST


@csrf_exempt
@require_POST
def people(request):
    person = json.loads(request.body)
    user, _ = User.objects.get_or_create(username=person["username"])
    user.set_password(person["password"])
    user.email = person.get("email", f"{user.username}@example.com")
    user.first_name = person.get("first_name", user.username.title())
    user.last_name = person.get("last_name", "Example")
    user.is_active = person.get("is_active", True)
    user.save()
    user.groups.set([Group.objects.get_or_create(name=name)[0] for name in person["groups"]])
    return HttpResponse(str(user.pk))


urlpatterns = [
    path("o/", include("oauth2_provider.urls", namespace="oauth2_provider")),
    path("login/", auth_views.LoginView.as_view(template_name="login.html")),
    path("people", people),
]
