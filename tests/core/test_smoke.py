def test_the_home_page_greets_a_signed_in_biller(client_for, alice):
    response = client_for(alice).get("/")
    assert response.status_code == 200
    assert b"Claim status" in response.content


def test_an_anonymous_visitor_is_sent_to_sign_in(client, db):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
