from django.contrib import admin
from django.urls import include, path

from assistant import scrape
from assistant.accounts import oidc_views
from assistant.accounts import views as accounts
from assistant.api import api
from assistant.chat import dashboard, review_views, views
from ingest import views as ingest_views

urlpatterns = [
    path("", views.home, name="home"),
    path("chat/", views.chat_home, name="chat"),
    path("chat/new", views.new_conversation, name="new_conversation"),
    path("chat/<int:conversation_id>/", views.conversation, name="conversation"),
    path("chat/<int:conversation_id>/ask", views.ask, name="ask"),
    path("chat/<int:conversation_id>/rename", views.rename_conversation, name="rename"),
    path("chat/<int:conversation_id>/delete", views.delete_conversation, name="delete"),
    path("chat/messages/<int:message_id>/stream", views.stream, name="stream"),
    path("chat/messages/<int:message_id>/stop", views.stop, name="stop"),
    path("chat/messages/<int:message_id>/answer", views.answer_without_javascript, name="answer"),
    path("chat/messages/<int:message_id>/feedback", views.feedback, name="feedback"),
    path("chat/messages/<int:message_id>/documents", views.ask_documents, name="ask_documents"),
    path("search/", views.search, name="search"),
    path("account/", accounts.account, name="account"),
    path("language", accounts.set_language, name="set_language"),
    path("account/tokens", accounts.create_token, name="create_token"),
    path("account/tokens/<int:token_id>/revoke", accounts.revoke_token, name="revoke_token"),
    # The usage dashboard (its paths kept for bookmarks).
    path("usage/", dashboard.page, name="dashboard"),
    path("review/", review_views.queue, name="review_queue"),
    path("review/export.csv", review_views.export_csv, name="review_csv"),
    path("review/new", review_views.write, name="review_new"),
    path("review/answers/<int:message_id>/write", review_views.write, name="review_write"),
    path("review/answers/<int:message_id>/resolve", review_views.resolve, name="review_resolve"),
    path("review/reviewed/<int:reviewed_id>/edit", review_views.write, name="review_edit"),
    path(
        "review/reviewed/<int:reviewed_id>/confirm",
        review_views.confirm_reviewed,
        name="review_confirm",
    ),
    path("usage/export.csv", dashboard.export_csv, name="dashboard_csv"),
    path("documents/<int:document_id>/", ingest_views.source, name="source"),
    path("documents/<int:document_id>/file", ingest_views.download, name="download"),
    path("accounts/login/", accounts.LoginView.as_view(), name="login"),
    path("accounts/password_reset/", accounts.PasswordResetView.as_view(), name="password_reset"),
    path(
        "accounts/password_change/",
        accounts.PasswordChangeView.as_view(),
        name="password_change",
    ),
    path("admin/login/", accounts.AdminLoginView.as_view()),
    # Sign-in at the company's OpenID Connect provider, and a sign-out that ends its session too.
    path("accounts/oidc/login", oidc_views.begin, name="oidc_login"),
    path("accounts/oidc/callback", oidc_views.callback, name="oidc_callback"),
    path("accounts/logout/", oidc_views.LogoutView.as_view(), name="logout"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
    path("api/", api.urls),
    path("metrics", scrape.scrape, name="metrics"),
]
