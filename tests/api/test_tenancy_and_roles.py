"""Staff in the user pool: a new staff member signs in with a real Cognito token that names the
clinic and the role, and an email Cognito already holds is a 409.

In the moto tier because Cognito is the point (the user it creates, the password set, the ID
token it issues and its UsernameExists refusal); clinic isolation and role limits are
tests/fast/test_tenancy_and_roles.py.
"""


def test_a_new_staff_member_can_sign_in_with_the_clinic_and_role(clinic):
    import boto3

    from chalicelib import config
    from tests.support import PASSWORD, Api, id_token

    r = clinic.owner.post("/staff", {"email": "New.Person@Example.test", "name": "New Person",
                                     "role": "BillingStaff"})
    assert r.status == 201, r
    assert r.body["email"] == "new.person@example.test" and r.body["role"] == "BillingStaff"
    cognito = boto3.client("cognito-idp", region_name="us-east-1")
    cognito.admin_set_user_password(UserPoolId=config.settings().user_pool_id, Username="new.person@example.test",
                                    Password=PASSWORD, Permanent=True)
    me = Api(clinic.http, id_token("new.person@example.test")).get("/me").body
    assert me["clinic_id"] == clinic.clinic_id and me["roles"] == ["BillingStaff"] and me["permissions"] == []


def test_an_existing_email_is_a_conflict(clinic):
    email = clinic.users["billing"]["email"]
    r = clinic.owner.post("/staff", {"email": email, "name": "Dup", "role": "BillingStaff"})
    assert r.status == 409
