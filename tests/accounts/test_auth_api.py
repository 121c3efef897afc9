from django.contrib.auth import get_user_model


def test_it_exchanges_a_password_for_a_token_that_authenticates(client_for, make_user):
    make_user("dana", password="a-long-password-1")
    client = client_for()
    response = client.post("/api/v1/auth/token/", {"username": "dana", "password": "a-long-password-1"}, format="json")
    assert response.status_code == 200
    token = response.json()["token"]
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get("/api/v1/users/me/").json()["username"] == "dana"


def test_it_refuses_a_wrong_password_with_400(client_for, make_user):
    make_user("dana", password="a-long-password-1")
    response = client_for().post("/api/v1/auth/token/", {"username": "dana", "password": "nope"}, format="json")
    assert response.status_code == 400
    assert "token" not in response.json()


def test_it_requires_authentication_by_default(client_for):
    assert client_for().get("/api/v1/projects/").status_code == 401


def test_it_lets_only_staff_create_users(client_for, staff, make_user):
    body = {"username": "erin", "password": "another-long-pass-2", "email": "erin@example.org"}
    assert client_for(make_user("plain")).post("/api/v1/users/", body, format="json").status_code == 403
    response = client_for(staff).post("/api/v1/users/", body, format="json")
    assert response.status_code == 201
    assert response.json()["username"] == "erin"
    assert "password" not in response.json()
    assert get_user_model().objects.get(username="erin").check_password("another-long-pass-2")
    assert client_for(staff).post("/api/v1/users/", body, format="json").status_code == 409


def test_it_rejects_weak_passwords_with_a_field_message(client_for, staff):
    response = client_for(staff).post("/api/v1/users/", {"username": "x", "password": "123"}, format="json")
    assert response.status_code == 400
    assert "password" in response.json()["errors"]
