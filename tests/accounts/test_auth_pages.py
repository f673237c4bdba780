"""Login, signup, logout and password pages: e-mail login, Convene's look, clear errors."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from tests.conftest import logged_in_client
from tests.factories import PASSWORD, make_user

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("name", ["account_login", "account_signup", "account_reset_password"])
def test_account_pages_use_the_convene_layout(name):
    response = Client().get(reverse(name))

    html = response.content.decode()
    assert response.status_code == 200
    assert '<link rel="stylesheet" href="/static/css/app.css">' in html
    assert '<main class="container auth-card card" id="main">' in html
    assert 'class="btn btn-primary' in html


def test_login_with_email_lands_on_home():
    make_user("ada@example.com")

    response = Client().post(reverse("account_login"), {"login": "ada@example.com", "password": PASSWORD})

    assert response.status_code == 302
    assert response["Location"] == reverse("home")


def test_login_honours_next():
    make_user("ada@example.com")

    response = Client().post(reverse("account_login"), {"login": "ada@example.com", "password": PASSWORD, "next": "/orgs/new/"})

    assert response["Location"] == "/orgs/new/"


def test_login_with_a_wrong_password_shows_the_error_on_the_page():
    make_user("ada@example.com")

    response = Client().post(reverse("account_login"), {"login": "ada@example.com", "password": "wrong"})

    html = response.content.decode()
    assert response.status_code == 200
    error = "The email address and/or password you specified are not correct."
    assert f'<ul class="errorlist nonfield" role="alert"><li>{error}</li></ul>' in html
    assert 'value="ada@example.com"' in html


def test_login_with_an_empty_email_shows_the_error_beside_the_field():
    response = Client().post(reverse("account_login"), {"login": "", "password": "x"})

    html = response.content.decode()
    assert '<div class="field has-error" id="field-login">' in html
    assert "This field is required." in html


def test_logout_is_a_post_that_ends_the_session():
    client = logged_in_client(make_user())

    response = client.post(reverse("account_logout"))

    assert response.status_code == 302
    assert client.get(reverse("home"))["Location"].startswith(reverse("account_login"))


def test_password_change_sets_the_new_password():
    user = make_user("ada@example.com")
    client = logged_in_client(user)

    response = client.post(
        reverse("account_change_password"),
        {"oldpassword": PASSWORD, "password1": "a-much-better-passphrase", "password2": "a-much-better-passphrase"},
    )

    user.refresh_from_db()
    assert response.status_code == 302
    assert user.check_password("a-much-better-passphrase") is True


def test_password_change_with_a_wrong_current_password_shows_the_error_beside_it():
    user = make_user("ada@example.com")
    client = logged_in_client(user)

    response = client.post(
        reverse("account_change_password"),
        {"oldpassword": "nope", "password1": "a-much-better-passphrase", "password2": "a-much-better-passphrase"},
    )

    user.refresh_from_db()
    html = response.content.decode()
    assert response.status_code == 200
    assert '<div class="field has-error" id="field-oldpassword">' in html
    assert "Please type your current password." in html
    assert user.check_password(PASSWORD) is True


def test_signup_creates_the_account_and_follows_next():
    response = Client().post(
        reverse("account_signup"),
        {
            "email": "new@example.com",
            "password1": "a-much-better-passphrase",
            "password2": "a-much-better-passphrase",
            "next": "/invitations/abc/",
        },
    )

    assert response.status_code == 302
    assert response["Location"] == "/invitations/abc/"
    assert get_user_model().objects.filter(email="new@example.com").count() == 1


def test_logout_page_asks_for_confirmation_with_a_post_form():
    client = logged_in_client(make_user("ada@example.com"))

    response = client.get(reverse("account_logout"))

    html = response.content.decode()
    assert response.status_code == 200
    assert '<main class="container auth-card card" id="main">' in html
    assert f'<form method="post" action="{reverse("account_logout")}" class="row">' in html
